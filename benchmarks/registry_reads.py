"""Benchmark: CLI start-up and registry reads at fleet scale. Not a timed test: it writes its figures into
the ``## CLI start-up and registry reads`` section of ``BENCHMARKS.md``.

Reproduce: ``.venv/bin/python benchmarks/registry_reads.py --tenants 10000 --runs 5``

The registry (SQLite, the default) is seeded directly with ``--tenants`` active tenants (a third pooled in
pools of 50, the rest bridge; every one with a subscription): reads never run the engine, so how the rows
got there does not matter. Every command runs in a fresh process, as a user runs it; the sides of each
comparison alternate within one loop. CPU seconds are the child's user + system time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pydantic_core import to_json  # noqa: E402
from sqlalchemy import event, insert  # noqa: E402

from benchmarks.report import write_section  # noqa: E402
from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings  # noqa: E402
from paybill_infra.controlplane.reader import RegistryReader  # noqa: E402
from paybill_infra.controlplane.registry import PoolRow, SubscriptionRow, TenantRow  # noqa: E402
from paybill_infra.schema.enums import Isolation, SubscriptionStatus  # noqa: E402
from paybill_infra.topology.naming import pool_database, pool_owner, tenant_role  # noqa: E402

SECTION = "## CLI start-up and registry reads"
MARKERS = ("<!-- registry_reads:begin -->", "<!-- registry_reads:end -->")
PAYBILL = str(Path(sys.executable).parent / "paybill")


def seed(plane: ControlPlane, count: int) -> None:
    pools = (count // 3) // 50 + 1
    with plane.registry.transaction() as session:
        session.execute(
            insert(PoolRow),
            [
                {
                    "id": i + 1,
                    "plan": "starter",
                    "ordinal": i + 1,
                    "stack": f"pool-starter-{i + 1:03d}",
                    "database": pool_database("starter", i + 1),
                    "owner": pool_owner("starter", i + 1),
                    "capacity": 50,
                }
                for i in range(pools)
            ],
        )
        tenants, subscriptions = [], []
        for n in range(count):
            slug, pooled = f"t{n:05d}", n % 3 == 0
            tenants.append(
                {
                    "slug": slug,
                    "display_name": slug,
                    "plan": "starter" if pooled else "growth",
                    "isolation": Isolation.POOLED if pooled else Isolation.BRIDGE,
                    "state": "active",
                    "stack": f"pool-starter-{(n // 3) // 50 + 1:03d}" if pooled else f"tenant-{slug}",
                    "pool_id": (n // 3) // 50 + 1 if pooled else None,
                    "role": tenant_role(slug, 0),
                }
            )
            subscriptions.append(
                {"tenant": slug, "plan": "starter" if pooled else "growth", "status": SubscriptionStatus.ACTIVE}
            )
        session.execute(insert(TenantRow), tenants)
        session.execute(insert(SubscriptionRow), subscriptions)


def environments(scratch: Path) -> dict[str, dict[str, str]]:
    """With a bytecode cache (as an installed package has; kept in a scratch ``PYTHONPYCACHEPREFIX``) and
    without one (every import compiled from source, as on a machine with ``PYTHONDONTWRITEBYTECODE=1``)."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    return {
        "bytecode cached": {**base, "PYTHONPYCACHEPREFIX": str(scratch / "pycache")},
        "no bytecode": {**base, "PYTHONDONTWRITEBYTECODE": "1"},
    }


def run(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one fresh ``argv`` process (its output is discarded, its success checked)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # noqa: S603
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(
    sides: dict[str, list[str]], envs: dict[str, dict[str, str]], runs: int
) -> dict[tuple[str, str], list[tuple[float, float]]]:
    cases = [(name, env) for name in sides for env in envs]
    results: dict[tuple[str, str], list[tuple[float, float]]] = {case: [] for case in cases}
    for name, env in cases:  # one warm-up each: fills the page cache and the bytecode cache
        run(sides[name], envs[env])
    for i in range(runs):
        for name, env in cases[i % len(cases) :] + cases[: i % len(cases)]:
            results[(name, env)].append(run(sides[name], envs[env]))
    return results


def json_listings(reader: RegistryReader) -> dict[str, Callable[[], str]]:
    """The two ways to the text of ``tenants list --json``: views dumped by the standard library (what
    :func:`~paybill_infra.cli_output.emit` does with models), and row documents dumped by pydantic-core
    (what the command does)."""
    return {
        "views + json.dumps": lambda: json.dumps(
            [v.model_dump(mode="json") for v in reader.tenants()], indent=2, sort_keys=True, default=str
        ),
        "documents + pydantic-core": lambda: to_json(
            reader.tenant_documents().tenants, indent=2, ensure_ascii=True
        ).decode("ascii"),
    }


def in_process(reader: RegistryReader, runs: int) -> tuple[dict[str, tuple[float, float]], int, int]:
    """Median wall and CPU seconds of each :func:`json_listings` side (alternating in one loop, after a
    check that both give the same text), the statements a listing issues, and the tenant count."""
    sides = json_listings(reader)
    texts = {name: listing() for name, listing in sides.items()}
    if len(set(texts.values())) != 1:
        raise SystemExit("the two JSON listings differ")
    seen: list[str] = []
    event.listen(reader.registry.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    count = len(reader.tenant_documents().tenants)
    statements = len(seen)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for i in range(runs):
        for name in list(sides)[:: 1 if i % 2 == 0 else -1]:
            started, cpu = time.perf_counter(), time.process_time()
            sides[name]()
            samples[name].append((time.perf_counter() - started, time.process_time() - cpu))
    medians = {
        name: (statistics.median(w for w, _ in taken), statistics.median(c for _, c in taken))
        for name, taken in samples.items()
    }
    return medians, statements, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="paybill-bench-reads-"))
    shutil.copy(REPO / "plans.yaml", root / "plans.yaml")
    try:
        with ControlPlane(ControlPlaneSettings(root=root)) as plane:
            seed(plane, args.tenants)
        with RegistryReader(ControlPlaneSettings(root=root)) as reader:
            listings, statements, count = in_process(reader, args.runs)
        load_before = os.getloadavg()[0]
        results = measure(
            {
                "paybill --help": [PAYBILL, "--help"],
                "paybill plans list": [PAYBILL, "plans", "list", "--catalog", str(root / "plans.yaml")],
                f"paybill tenants list --json ({count:,} tenants)": [
                    PAYBILL,
                    "tenants",
                    "list",
                    "--json",
                    "--root",
                    str(root),
                ],
                "paybill tenants list --json --limit 100": [
                    PAYBILL,
                    "tenants",
                    "list",
                    "--json",
                    "--limit",
                    "100",
                    "--root",
                    str(root),
                ],
            },
            environments(root),
            args.runs,
        )
        load_after = os.getloadavg()[0]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lines = [
        f"Command: `.venv/bin/python benchmarks/registry_reads.py --tenants {args.tenants} --runs {args.runs}` "
        "(2 shared cores; SQLite registry; Python 3.11).",
        f"Load average (1 min): {load_before:.2f} before, {load_after:.2f} after. Each command is a fresh process;",
        "the commands alternate in one loop after one warm-up each.",
        "",
        "| command | imports | median wall s | min wall s | median CPU s |",
        "|---|---|---:|---:|---:|",
    ]
    for (name, env), samples in results.items():
        walls, cpus = [w for w, _ in samples], [c for _, c in samples]
        lines.append(
            f"| `{name}` | {env} | {statistics.median(walls):.2f} | {min(walls):.2f} | {statistics.median(cpus):.2f} |"
        )
    lines += [
        "",
        f"In process at {count:,} tenants, the JSON text of the listing ({statements} SQL statement(s): tenants, "
        "subscriptions and pools joined; pinned by `tests/controlplane/test_reads.py`), both sides alternating "
        "in one loop and checked to give the same text:",
        "",
        "| side | median wall s | median CPU s |",
        "|---|---:|---:|",
        *(f"| {name} | {wall:.3f} | {cpu:.3f} |" for name, (wall, cpu) in listings.items()),
    ]
    print("\n".join(lines))
    write_section(REPO / "BENCHMARKS.md", *MARKERS, "\n".join([SECTION, "", *lines]))


if __name__ == "__main__":
    main()
