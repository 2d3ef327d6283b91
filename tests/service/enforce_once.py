"""One "worker" for the billing race: builds a control plane on the service's database (``PAYBILL_SERVICE_*``),
prints ``READY``, waits for a line on stdin, runs ``enforce_billing`` at the given unix time and prints the
operations it started or joined, one JSON object per line."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from paybill_infra.controlplane import ControlPlane
from paybill_infra.service import ServiceSettings


def main(at: str) -> None:
    with ControlPlane(ServiceSettings.from_env().control_plane(), recover=False) as plane:
        sys.stdout.write("READY\n")
        sys.stdout.flush()
        sys.stdin.readline()
        for result in plane.enforce_billing(datetime.fromtimestamp(int(at), UTC)):
            sys.stdout.write(result.model_dump_json(include={"id", "kind", "tenant", "deduplicated"}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
