"""A schema rollout in its own process, for the ``kill -9`` test: prints ``UNIT <key> <phase>`` for each
unit milestone so the test can kill it in the middle of a wave."""

from __future__ import annotations

import sys
from pathlib import Path

from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings, ProgressEvent


def main(root: str, schema: str, waves: str) -> None:
    def show(event: ProgressEvent) -> None:
        if event.stack is not None:
            sys.stdout.write(f"UNIT {event.stack} {event.phase.value}\n")
            sys.stdout.flush()

    with ControlPlane(ControlPlaneSettings.for_root(Path(root)), on_event=show) as plane:
        plane.rollout({"kind": "schema", "schema_file": schema, "waves": waves})
    sys.stdout.write("DONE\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
