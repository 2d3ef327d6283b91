"""Benchmark: engine runs attached to the shared dynamic-provider host against runs that start their own.
Not a timed test: it writes its figures into the ``## One engine run`` section of ``BENCHMARKS.md``.

Reproduce: ``.venv/bin/python benchmarks/provider_host.py --rounds 5``

One control plane with one pooled tenant; the host is started and warmed (one run attached) before the loop,
as a long-lived control plane has it. Then, interleaved in one loop (the order of the sides rotating each
round), the same control-plane operations run with the engine starting its own ``pulumi-python`` provider
(``own``) and attached to the host (``attached``): a pooled onboarding (a new tenant each time, into the
same pool), a drift check of the first tenant (``refresh``), a no-change converge (``up``) and four drift
checks of silo tenants at once (four engine runs attached to the one host together). CPU seconds
are this process's and its finished children's (the engine and, on the ``own`` side, its provider) plus,
on the ``attached`` side, the host's own CPU delta over the run: the work moved there, it did not vanish.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.report import timed, write_section  # noqa: E402
from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings  # noqa: E402
from paybill_infra.local.server import EmbeddedServer  # noqa: E402

MARKERS = ("<!-- provider_host:begin -->", "<!-- provider_host:end -->")
SIDES = ("own", "attached")
CONCURRENT = 4


def at_once(call: Callable[[str], object], slugs: list[str]) -> object:
    """``call`` for every slug, all at once (one engine run each)."""
    with ThreadPoolExecutor(len(slugs)) as pool:
        return list(pool.map(call, slugs))


def host_cpu(plane: ControlPlane) -> float:
    pid = plane.stacks.provider_host.pid
    if pid is None:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="paybill-bench-host-"))
    shutil.copy(REPO / "plans.yaml", root / "plans.yaml")
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        with ControlPlane(ControlPlaneSettings(root=root)) as plane:
            plane.onboard({"slug": "probe", "display_name": "Probe", "plan": "starter"})
            silos = [f"silo-{n}" for n in range(CONCURRENT)]
            for slug in silos:
                plane.onboard({"slug": slug, "display_name": slug, "plan": "enterprise"})
            plane.stacks.shared_provider_host = True
            started = time.perf_counter()
            plane.stacks.provider_host.port()
            host_start = time.perf_counter() - started
            warm = timed(lambda: plane.converge("probe"))
            warm_host = host_cpu(plane)
            counter = iter(range(10_000))

            def onboard() -> object:
                slug = f"bench-{next(counter)}"
                return plane.onboard({"slug": slug, "display_name": slug, "plan": "starter"})

            work: dict[str, Callable[[], object]] = {
                "pooled onboarding (`up`)": onboard,
                "drift check (`refresh`)": lambda: plane.drift("probe"),
                "no-change converge (`up`)": lambda: plane.converge("probe"),
                f"{CONCURRENT} drift checks at once (silo stacks)": lambda: at_once(plane.drift, silos),
            }
            load_before = os.getloadavg()[0]
            for i in range(args.rounds):
                for name, run in work.items():
                    for side in SIDES[i % 2 :] + SIDES[: i % 2]:
                        plane.stacks.shared_provider_host = side == "attached"
                        before = host_cpu(plane)
                        wall, cpu = timed(run)
                        moved = host_cpu(plane) - before if side == "attached" else 0.0
                        samples.setdefault((name, side), []).append((wall, cpu + moved))
            load_after = os.getloadavg()[0]
            host_pid = plane.stacks.provider_host.pid
            rss = psutil.Process(host_pid).memory_info().rss / 2**20 if host_pid else 0.0
            plane.stacks.close()
    finally:
        EmbeddedServer(root / ".paybill" / "postgres").stop()
        shutil.rmtree(root, ignore_errors=True)

    def p50(name: str, side: str, column: int) -> float:
        return statistics.median(s[column] for s in samples[(name, side)])

    rows = []
    for name in work:
        own_wall, own_cpu, att_wall, att_cpu = (p50(name, s, c) for s in SIDES for c in (0, 1))
        rows.append(
            f"| {name} | {own_wall:.2f} | {att_wall:.2f} | {own_wall / att_wall:.2f}x "
            f"| {own_cpu:.2f} | {att_cpu:.2f} | {own_cpu / att_cpu:.2f}x |"
        )
    lines = [
        "### A shared provider host",
        "",
        f"Command: `.venv/bin/python benchmarks/provider_host.py --rounds {args.rounds}`. Control-plane operations",
        "on a pool stack (starter plan), each with the engine starting its own `pulumi-python` provider (own) and",
        "attached to the shared host (`PULUMI_DEBUG_PROVIDERS`, see `paybill_infra/engine/provider_host.py`);",
        f"p50 of {args.rounds} rounds, both sides interleaved in one loop (order rotating). CPU seconds include,",
        "for the attached side, the host's own CPU delta over the run.",
        f"Load average (1 min): {load_before:.2f} before, {load_after:.2f} after.",
        "",
        "| operation | wall s own | wall s attached | own/attached | CPU s own | CPU s attached | own/attached |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Once per control-plane process: the host starts in {host_start:.2f} s wall; its first attached run",
        f"(a converge: unpickling the providers) took {warm[0]:.2f} s wall, the host {warm_host:.2f} s CPU in all",
        f"by then. The host held {rss:.0f} MB RSS after the loop (an engine-started provider holds about as much,",
        "for the length of its run).",
        "",
        "The contract holds with the host, so it is on by default (`shared_provider_host`) and the whole suite",
        "runs with it; `tests/controlplane/test_provider_host.py` and `test_crash_recovery.py` (both cases) pin",
        "it on the real engine and PostgreSQL: drift made by hand shows on refresh, no password reaches the state",
        "or the registry, engine runs attach at once, a provider error is the same typed `EngineError` with the",
        "same exception line, and after `kill -9` of the control plane the host is gone and recovery converges.",
        "It serves only its own user: a call from another user's socket is refused before it is read.",
    ]
    print("\n".join(lines))
    write_section(REPO / "BENCHMARKS.md", *MARKERS, "\n".join(lines))


if __name__ == "__main__":
    main()
