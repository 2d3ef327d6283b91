"""Benchmark: the cost of one tenant's onboarding and drift check against the size of its pool. Not a timed
test: it writes its figures into the ``## Per-tenant work against pool size`` section of ``BENCHMARKS.md``.

Reproduce: ``.venv/bin/python benchmarks/pool_size.py --sizes 1 50 200``

One pool (plan ``starter`` with a capacity of 250, so every member lands in the same pool) grows to each
size with a batched ``onboard_many`` (one engine run per fill); at each size one more tenant is onboarded
and a drift check of that tenant runs, each timed in wall and CPU seconds (this process and its children:
the engine, its plugins and the dynamic providers). The pool's state file is measured after each step.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from functools import partial
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import timed, write_section  # noqa: E402
from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings  # noqa: E402
from paybill_infra.local.server import EmbeddedServer  # noqa: E402

SECTION = "## Per-tenant work against pool size"
MARKERS = ("<!-- pool_size:begin -->", "<!-- pool_size:end -->")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 50, 200])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="paybill-bench-pool-"))
    catalog = yaml.safe_load((REPO / "plans.yaml").read_text())
    for plan in catalog["plans"]:
        if plan["name"] == "starter":
            plan["pool_capacity"] = 250
    (root / "plans.yaml").write_text(yaml.safe_dump(catalog))
    rows: list[tuple[int, float, float, float, float, int]] = []
    members = 0
    try:
        with ControlPlane(ControlPlaneSettings(root=root, workers=4)) as plane:
            for size in sorted(args.sizes):
                fill = [f"m-{n:04d}" for n in range(members, size - 1)] if size - 1 > members else []
                if fill:
                    plane.onboard_many([{"slug": s, "display_name": s, "plan": "starter"} for s in fill])
                    members += len(fill)
                probe = f"probe-{size:04d}"
                onboard = timed(partial(plane.onboard, {"slug": probe, "display_name": probe, "plan": "starter"}))
                members += 1
                drift = timed(partial(plane.drift, probe))
                stack = plane.show(probe).stack or ""
                state = root / ".paybill" / "state" / ".pulumi" / "stacks" / plane.stacks.project / f"{stack}.json"
                rows.append((members, *onboard, *drift, state.stat().st_size))
                print(f"pool of {members}: onboard {onboard[0]:.1f}s, drift {drift[0]:.1f}s", flush=True)
    finally:
        EmbeddedServer(root / ".paybill" / "postgres").stop()
        shutil.rmtree(root, ignore_errors=True)
    base_onboard, base_drift = rows[0][1], rows[0][3]
    lines = [
        f"Command: `.venv/bin/python benchmarks/pool_size.py --sizes {' '.join(map(str, args.sizes))}` (2 shared",
        f"cores; embedded PostgreSQL 18; file backend). Load average (1 min) at the end: {os.getloadavg()[0]:.2f}.",
        "",
        "| pool members (after onboarding) | onboard one: wall s | CPU s | drift of one: wall s | CPU s | "
        "state file | onboard / smallest | drift / smallest |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {n} | {ow:.1f} | {oc:.1f} | {dw:.1f} | {dc:.1f} | {size / 1e6:.2f} MB | {ow / base_onboard:.2f}x | "
            f"{dw / base_drift:.2f}x |"
            for n, ow, oc, dw, dc, size in rows
        ),
        "",
        "Per-tenant work still grows with the pool: one pool is one stack, and every run of it loads, diffs and",
        "writes every member (the issue's item 3, per-tenant database-layer stacks or targeted updates, is open).",
    ]
    print("\n".join(lines))
    write_section(REPO / "BENCHMARKS.md", *MARKERS, "\n".join([SECTION, "", *lines]))


if __name__ == "__main__":
    main()
