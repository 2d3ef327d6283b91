"""Benchmark: the cost of one tenant's onboarding, drift check, suspension and offboarding against the size
of its pool, and against a stack of its own. Not a timed test: it writes its figures into the
``## Per-tenant work against pool size`` section of ``BENCHMARKS.md``.

Reproduce: ``.venv/bin/python benchmarks/pool_size.py --sizes 2 50 200 --rounds 3``

One pool per size lives side by side in one control plane (a pooled plan per size, its capacity the size),
filled to ``size`` members by one batched ``onboard_many``, then one resident of the pool's own stack leaves,
so every probe joins the pool's *fullest* stack: the pool's own, which holds the pool's database and
``pool_shard_size`` members (fewer in a smaller pool), while the rest of a large pool sits in shards. Beside
them, a bridge tenant's own stack (the cost of a per-tenant database-layer stack, the other shape issue 13
names). Each round onboards a probe
tenant into every side, then checks its drift, suspends it and offboards it, each step on every side before
the next step, the order of the sides alternating between rounds (so load drifts hit every side alike). A
step is timed in wall and CPU seconds (this process and its children: the engine, its plugins and the
dynamic providers); the table holds each side's median over the rounds, and, after the probe's onboarding,
the state file of the probe's stack and of all the pool's stacks together.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import timed, write_section  # noqa: E402
from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings, RetentionPolicy  # noqa: E402
from paybill_infra.local.server import EmbeddedServer  # noqa: E402

SECTION = "## Per-tenant work against pool size"
MARKERS = ("<!-- pool_size:begin -->", "<!-- pool_size:end -->")
STEPS = ("onboard", "drift", "suspend", "offboard")


@dataclass
class Side:
    """One place a probe tenant lands: a pool of ``size`` members (after the probe's onboarding), or, with
    ``size`` 0, a stack of its own."""

    plan: str
    size: int
    timings: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: {s: [] for s in STEPS})
    state_bytes: int = 0
    pool_bytes: int = 0
    stacks: int = 1

    @property
    def label(self) -> str:
        return f"pool of {self.size}" if self.size else "own stack (bridge)"

    def median(self, step: str, index: int) -> float:
        return statistics.median(t[index] for t in self.timings[step])


def catalog(sizes: list[int]) -> dict[str, object]:
    """The shipped catalog plus one pooled plan per size, its capacity the size."""
    plans = yaml.safe_load((REPO / "plans.yaml").read_text())
    starter = next(p for p in plans["plans"] if p["name"] == "starter")
    for n, size in enumerate(sizes):
        plans["plans"].append(
            {
                **starter,
                "name": f"pool{size}",
                "tier": 100 + n,
                "billing_id": f"price_bench_{size}",
                "pool_capacity": size,
            }
        )
    return dict(plans)


def act(plane: ControlPlane, step: str, side: Side, slug: str) -> object:
    if step == "onboard":
        return plane.onboard({"slug": slug, "display_name": "probe", "plan": side.plan})
    if step == "drift":
        return plane.drift(slug)
    if step == "suspend":
        return plane.suspend(slug, reason="benchmark")
    return plane.offboard(slug, retention=RetentionPolicy.NONE)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 50, 200])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = sorted(set(args.sizes))
    if sizes[0] < 2:
        parser.error("--sizes: a pool needs a resident member beside the probe (2 or more)")
    root = Path(tempfile.mkdtemp(prefix="paybill-bench-pool-"))
    (root / "plans.yaml").write_text(yaml.safe_dump(catalog(sizes)))
    sides = [*(Side(f"pool{s}", s) for s in sizes), Side("growth", 0)]
    try:
        with ControlPlane(ControlPlaneSettings(root=root, workers=4)) as plane:
            residents = [(side, f"r{side.size:03d}-{n:03d}") for side in sides for n in range(max(side.size, 1))]
            plane.onboard_many([{"slug": slug, "display_name": slug, "plan": side.plan} for side, slug in residents])
            for side in sides[:-1]:
                placed = {slug: plane.show(slug).stack or "" for d, slug in residents if d is side}
                first = min(placed.values(), key=len)  # the pool's own stack: its shards' names extend it
                leaver = next(slug for slug, stack in placed.items() if stack == first)
                plane.offboard(leaver, retention=RetentionPolicy.NONE)
            state_dir = root / ".paybill" / "state" / ".pulumi" / "stacks" / plane.stacks.project
            for r in range(args.rounds):
                order = sides if r % 2 == 0 else sides[::-1]
                probes = {id(side): f"p{side.size:03d}-{r}" for side in sides}
                for step in STEPS:
                    for side in order:
                        side.timings[step].append(timed(partial(act, plane, step, side, probes[id(side)])))
                        if step == "onboard":
                            stack = plane.show(probes[id(side)]).stack or ""
                            side.state_bytes = (state_dir / f"{stack}.json").stat().st_size
                            files = list(state_dir.glob(f"{stack}*.json")) if side.size else []
                            side.pool_bytes = sum(f.stat().st_size for f in files)
                            side.stacks = len(files)
                print(
                    f"round {r + 1}: "
                    + ", ".join(f"{s.label} onboard {s.timings['onboard'][-1][0]:.1f}s" for s in sides),
                    flush=True,
                )
    finally:
        EmbeddedServer(root / ".paybill" / "postgres").stop()
        shutil.rmtree(root, ignore_errors=True)
    write(sides, sizes, args.rounds)


def write(sides: list[Side], sizes: list[int], rounds: int) -> None:
    base = sides[0]

    def cell(side: Side, step: str) -> str:
        return f"{side.median(step, 0):.1f} / {side.median(step, 1):.1f}"

    def ratio(side: Side, step: str) -> str:
        return (
            f"{side.median(step, 0) / base.median(step, 0):.2f}x / {side.median(step, 1) / base.median(step, 1):.2f}x"
        )

    lines = [
        f"Command: `.venv/bin/python benchmarks/pool_size.py --sizes {' '.join(map(str, sizes))} --rounds {rounds}`",
        f"(2 shared cores; embedded PostgreSQL 18; file backend). Load average (1 min) at the end: "
        f"{os.getloadavg()[0]:.2f}.",
        f"Medians of {rounds} rounds; every step ran on every side before the next step, the order of the sides",
        "alternating between rounds. Wall s / CPU s (this process and its children).",
        "",
        "| side | onboard | drift | suspend | offboard | probe's stack state | pool's stacks, state |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {s.label} | {' | '.join(cell(s, step) for step in STEPS)} | {s.state_bytes / 1e3:.0f} kB | "
            + (f"{s.stacks}, {s.pool_bytes / 1e6:.2f} MB |" if s.size else "- |")
            for s in sides
        ),
        "",
        f"Against the {base.label} (wall / CPU):",
        "",
        "| side | onboard | drift | suspend | offboard |",
        "|---|---:|---:|---:|---:|",
        *(f"| {s.label} | {' | '.join(ratio(s, step) for step in STEPS)} |" for s in sides[1:]),
        "",
        "A pool holds at most `pool_shard_size` (16) members per stack: its own stack (with the pool's database)",
        "and then shards over the same database. A tenant's run registers and targets that tenant only in its",
        "stack, and a drift check refreshes its resources only (see `paybill_infra/controlplane/reconcile.py`),",
        "so what the engine loads, writes and walks per run is bounded by the shard size, not the pool's size.",
        "Every probe here joined its pool's fullest stack (one resident of it left first).",
    ]
    print("\n".join(lines))
    write_section(REPO / "BENCHMARKS.md", *MARKERS, "\n".join([SECTION, "", *lines]))


if __name__ == "__main__":
    main()
