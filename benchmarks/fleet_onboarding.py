"""Benchmark: onboarding N tenants through the control plane (``onboard_many``: intents first, then one
engine run per affected stack, runs in parallel) against two sequential loops, one stack per tenant:

- ``pulumi up`` CLI calls (``stack init``, ``config set``, ``up``), as a shell script would;
- the inline Automation API (``create_or_select_stack`` + ``up`` per tenant, default workspace options), as
  the Automation API examples do.

Not a timed test: it writes its figures into a section of ``BENCHMARKS.md``.

Reproduce: ``.venv/bin/python benchmarks/fleet_onboarding.py --n 10 50``

Every side provisions the same tenants (a mix: 60% starter/pooled, 30% growth/bridge, 10% enterprise/silo)
on its own embedded PostgreSQL and file backend, with the control plane's own per-tenant programs (a pool
of one for a pooled tenant, since a loop has no bin-packing), so the resources per tenant are the same; the
difference is orchestration. The shared platform stack is provisioned on each side before timing starts.
A wrapper ``pulumi`` binary counts the CLI processes of each side (engine runs = ``up`` processes). CPU
seconds are this process's and its children's (engines, plugins, providers), not PostgreSQL's. The sides
run back to back for each N, their order rotating between N.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pulumi import automation as auto  # noqa: E402

from benchmarks.report import timed, write_section  # noqa: E402
from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings  # noqa: E402
from paybill_infra.engine.binary import BIN_ENV, pulumi_bin_dir  # noqa: E402
from paybill_infra.engine.settings import EngineSettings  # noqa: E402
from paybill_infra.local.server import EmbeddedServer  # noqa: E402

SECTION = "## Fleet onboarding: control plane vs. sequential loops"
MARKERS = ("<!-- fleet_onboarding:begin -->", "<!-- fleet_onboarding:end -->")
PROGRAM = """
import pulumi
from paybill_infra.controlplane.programs import Endpoint, MemberSpec, PlatformProgram, PoolProgram, ServerConfig, TenantProgram
from paybill_infra.controlplane.stacks import pool_database, pool_owner, tenant_role
from paybill_infra.catalog import load_catalog
from paybill_infra.schema.tenant import Tenant
from paybill_infra.topology.resolve import CloudDefaults, resolve_topology



def tenant_stack_program(embedded_dir, catalog_path, slug, plan_name, platform):
    server = ServerConfig(embedded_dir=embedded_dir)
    plan = load_catalog(catalog_path)[plan_name]
    defaults = CloudDefaults(cloud="local", region="local", allowed_regions=("local",))
    topology = resolve_topology(plan, Tenant(slug=slug, display_name=slug, plan=plan.name), defaults)
    member = MemberSpec(topology, tenant_role(slug, 0), False)
    if plan.isolation.value == "pooled":
        return PoolProgram(server, pool_database(slug, 1), pool_owner(slug, 1), (member,))
    endpoint = Endpoint(platform["database"], platform["host"], int(platform["port"]))
    return TenantProgram(server, endpoint, member)
"""
BASELINE_MAIN = (
    PROGRAM
    + """
config = pulumi.Config("bench")
if pulumi.get_stack() == "platform":
    PlatformProgram(ServerConfig(embedded_dir=config.require("embeddedDir")))()
else:
    platform = config.get_object("platform")
    tenant_stack_program(
        config.require("embeddedDir"), config.require("catalog"), config.require("tenant"), config.require("plan"), platform
    )()
"""
)
_inline: dict[str, object] = {}
exec(PROGRAM, _inline)  # noqa: S102 - the benchmark's own program text, shared by the CLI and inline sides


@dataclass
class Side:
    wall_s: float
    cpu_s: float
    calls: Counter[str]

    @property
    def engine_runs(self) -> int:
        return self.calls["up"]

    @property
    def processes(self) -> int:
        return sum(self.calls.values())


class Counted:
    """A ``pulumi`` wrapper (first on ``PAYBILL_PULUMI_BIN`` and ``PATH``) that logs each process's command."""

    def __init__(self, scratch: Path) -> None:
        real = pulumi_bin_dir()
        self.bin = scratch / "counted" / "bin"
        self.bin.mkdir(parents=True)
        self.log = scratch / "counted" / "calls.log"
        for plugin in real.iterdir():
            if plugin.name != "pulumi":
                (self.bin / plugin.name).symlink_to(plugin)
        wrapper = self.bin / "pulumi"
        wrapper.write_text(
            f'#!/bin/sh\necho "$*" >> {shlex.quote(str(self.log))}\nexec {shlex.quote(str(real / "pulumi"))} "$@"\n'
        )
        wrapper.chmod(0o755)
        os.environ[BIN_ENV] = str(self.bin)
        os.environ["PATH"] = f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}"

    def take(self) -> Counter[str]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.write_text("")
        return Counter(_command(line) for line in lines)


def _command(line: str) -> str:
    words = [w for w in shlex.split(line) if not w.startswith("-")]
    return " ".join(words[:2]) if words[:1] in (["stack"], ["config"]) else (words[0] if words else "?")


def counted_run(counted: Counted, work: Callable[[], None]) -> Side:
    counted.take()
    wall, cpu = timed(work)
    return Side(wall, cpu, counted.take())


def tenants(n: int) -> list[tuple[str, str]]:
    plans = ["starter"] * 6 + ["growth"] * 3 + ["enterprise"]
    return [(f"bench-{i:03d}", plans[i % len(plans)]) for i in range(n)]


def control_plane(n: int, workers: int, counted: Counted) -> Side:
    root = Path(tempfile.mkdtemp(prefix="paybill-bench-cp-"))
    shutil.copy(REPO / "plans.yaml", root / "plans.yaml")
    try:
        with ControlPlane(ControlPlaneSettings(root=root, workers=workers)) as plane:
            plane.onboard({"slug": "warmup", "display_name": "Warmup", "plan": "growth"})  # platform stack

            def work() -> None:
                outcomes = plane.onboard_many([{"slug": s, "display_name": s, "plan": p} for s, p in tenants(n)])
                failed = [o for o in outcomes if isinstance(o, Exception)]
                if failed:
                    raise SystemExit(f"control plane: {len(failed)} failures, first: {failed[0]}")

            return counted_run(counted, work)
    finally:
        EmbeddedServer(root / ".paybill" / "postgres").stop()
        shutil.rmtree(root, ignore_errors=True)


def inline_api(n: int, counted: Counted) -> Side:
    root = Path(tempfile.mkdtemp(prefix="paybill-bench-auto-"))
    settings = EngineSettings(root=root, backend_url=(root / "state").as_uri(), pulumi_bin=counted.bin)
    env = settings.env()
    embedded = str(root / "pg")
    catalog = str(REPO / "plans.yaml")

    def up(stack: str, program: Callable[[], None]) -> dict[str, object]:
        opts = auto.LocalWorkspaceOptions(work_dir=str(root / "work" / stack), env_vars=env)
        (root / "work" / stack).mkdir(parents=True)
        handle = auto.create_or_select_stack(stack, project_name="bench", program=program, opts=opts)
        return {k: v.value for k, v in handle.up(color="never").outputs.items()}

    programs = _inline
    try:
        platform = up("platform", programs["PlatformProgram"](programs["ServerConfig"](embedded_dir=embedded)))  # type: ignore[operator]

        def work() -> None:
            for slug, plan in tenants(n):
                up(slug, programs["tenant_stack_program"](embedded, catalog, slug, plan, platform["platform"]))  # type: ignore[operator]

        return counted_run(counted, work)
    finally:
        EmbeddedServer(Path(embedded)).stop()
        shutil.rmtree(root, ignore_errors=True)


def sequential_cli(n: int, counted: Counted) -> Side:
    root = Path(tempfile.mkdtemp(prefix="paybill-bench-cli-"))
    (root / "Pulumi.yaml").write_text(
        f"name: bench\nruntime:\n  name: python\n  options:\n    virtualenv: {REPO / '.venv'}\nmain: __main__.py\n"
    )
    (root / "__main__.py").write_text(BASELINE_MAIN)
    settings = EngineSettings(root=root, backend_url=(root / "state").as_uri(), pulumi_bin=counted.bin)
    env = {**os.environ, **settings.env(), "PYTHONPATH": str(REPO)}
    embedded = str(root / "pg")

    def pulumi(stack: str, *args: str) -> str:
        done = subprocess.run(  # noqa: S603 - the pulumi CLI found through the engine settings' PATH
            ["pulumi", *args, "--stack", stack, "--non-interactive"],  # noqa: S607 - PATH set by EngineSettings
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"pulumi {' '.join(args)} on {stack} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

    def up(stack: str, config: dict[str, str]) -> None:
        pulumi(stack, "stack", "init")
        for key, value in {"bench:embeddedDir": embedded, **config}.items():
            pulumi(stack, "config", "set", key, value)
        pulumi(stack, "up", "--yes", "--skip-preview", "--suppress-progress")

    try:
        up("platform", {})
        outputs = pulumi("platform", "stack", "output", "platform", "--json")
        platform = re.sub(r"\s+", "", outputs)

        def work() -> None:
            for slug, plan in tenants(n):
                config = {"bench:tenant": slug, "bench:plan": plan, "bench:catalog": str(REPO / "plans.yaml")}
                if plan != "starter":
                    config["bench:platform"] = platform
                up(slug, config)

        return counted_run(counted, work)
    finally:
        EmbeddedServer(Path(embedded)).stop()
        shutil.rmtree(root, ignore_errors=True)


def write_report(rows: list[tuple[int, int, dict[str, Side]]], command: str) -> None:
    path = REPO / "BENCHMARKS.md"
    lines = [
        SECTION,
        "",
        f"Command: `python benchmarks/fleet_onboarding.py --n <N...>`; the latest run: `{command}` (2 shared cores;",
        "embedded PostgreSQL 18; file backend; Pulumi v3.274.1).",
        "Tenant mix: 60% starter (pooled), 30% growth (bridge), 10% enterprise (silo). Timing starts after the",
        "shared platform stack is up on each side. CPU is this process's and its children's (the engines and",
        "their plugins and dynamic providers; not PostgreSQL). Engine runs are `pulumi up` processes; CLI",
        "processes are every `pulumi` process of the side, counted by a wrapper binary. Python processes run",
        "as this machine's environment has them (`PYTHONDONTWRITEBYTECODE=1`: every provider process compiles",
        "its imports), the same on every side. A run of some N keeps the rows of the others from earlier runs.",
        "",
        "| N | side | wall s | CPU s | engine runs | CLI processes | control plane speed-up (wall) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    ran = {n for n, _, _ in rows}
    lines += [row for row in earlier_rows(path) if int(row.split("|")[1]) not in ran]
    for n, workers, sides in rows:
        cp = sides["control plane"].wall_s
        for name, side in sides.items():
            label = f"{name} ({workers} workers)" if name == "control plane" else name
            ratio = "" if name == "control plane" else f"{side.wall_s / cp:.1f}x"
            lines.append(
                f"| {n} | {label} | {side.wall_s:.1f} | {side.cpu_s:.1f} | {side.engine_runs} | {side.processes} | {ratio} |"
            )
    lines.sort(key=lambda line: int(line.split("|")[1]) if line.startswith("| ") and line[2].isdigit() else -1)
    load = f"Load average (1 min) at the end of the N={', '.join(map(str, sorted(ran)))} run: {os.getloadavg()[0]:.2f}."
    write_section(path, *MARKERS, "\n".join([*lines, "", load]))


def earlier_rows(path: Path) -> list[str]:
    """The table rows of an earlier run for other N (a run of one N keeps the rest of the table)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    begin, end = text.find(MARKERS[0]), text.find(MARKERS[1])
    section = text[begin:end] if 0 <= begin < end else ""
    return [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]


SIDES: dict[str, Callable[[int, int, Counted], Side]] = {
    "control plane": control_plane,
    "sequential `pulumi up` CLI loop": lambda n, _w, c: sequential_cli(n, c),
    "sequential inline Automation API loop": lambda n, _w, c: inline_api(n, c),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--sides", nargs="+", choices=list(SIDES), default=list(SIDES))
    args = parser.parse_args()
    counted = Counted(Path(tempfile.mkdtemp(prefix="paybill-bench-bin-")))
    rows = []
    for i, n in enumerate(args.n):
        order = args.sides[i % len(args.sides) :] + args.sides[: i % len(args.sides)]
        sides = {name: SIDES[name](n, args.workers, counted) for name in order}
        for name, side in sides.items():
            print(
                f"N={n}: {name}: {side.wall_s:.1f}s wall, {side.cpu_s:.1f}s CPU, calls {dict(side.calls)}", flush=True
            )
        rows.append((n, args.workers, {name: sides[name] for name in args.sides}))
    write_report(rows, "python benchmarks/fleet_onboarding.py --n " + " ".join(map(str, args.n)))


if __name__ == "__main__":
    main()
