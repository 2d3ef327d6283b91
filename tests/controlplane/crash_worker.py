"""A control plane in its own process, for the crash test: onboards one tenant and prints progress events
(``EVENT <phase> <resource type>``) so the test can ``kill -9`` it in the middle of ``up``. A fourth
argument ``shared`` attaches its engine runs to the shared provider host."""

from __future__ import annotations

import sys
from pathlib import Path

from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings, ProgressEvent


def main(root: str, slug: str, plan: str, provider: str = "own") -> None:
    def show(event: ProgressEvent) -> None:
        sys.stdout.write(f"EVENT {event.phase.value} {event.resource_type or '-'}\n")
        sys.stdout.flush()

    settings = ControlPlaneSettings(
        root=Path(root), workers=2, lease_ttl_s=10, shared_provider_host=provider == "shared"
    )
    with ControlPlane(settings, on_event=show) as plane:
        plane.onboard({"slug": slug, "display_name": slug.title(), "plan": plan})
    sys.stdout.write("DONE\n")


if __name__ == "__main__":
    main(*sys.argv[1:5])
