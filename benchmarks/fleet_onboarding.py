"""Benchmark: onboarding N tenants through the control plane (parallel, pooled tenants batched into pool
stacks) against a sequential loop of ``pulumi up`` CLI calls, one stack per tenant, as the Automation API
examples do. Not a timed test: it writes its figures into a section of ``BENCHMARKS.md``.

Reproduce: ``.venv/bin/python benchmarks/fleet_onboarding.py --n 10 50``

Both sides provision the same tenants (a mix: 60% starter/pooled, 30% growth/bridge, 10% enterprise/silo)
on their own embedded PostgreSQL and file backend. The baseline project runs the control plane's own
per-tenant programs (a pool of one for a pooled tenant, since a script has no bin-packing), so the
resources created per tenant are the same; the difference is orchestration. The shared platform stack is
provisioned once on each side before timing starts.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings  # noqa: E402
from paybill_infra.engine.settings import EngineSettings  # noqa: E402
from paybill_infra.local.server import EmbeddedServer  # noqa: E402

SECTION = "## Fleet onboarding: control plane vs. sequential `pulumi up`"
BASELINE_MAIN = """
import pulumi
from paybill_infra.controlplane.programs import Endpoint, MemberSpec, PlatformProgram, PoolProgram, ServerConfig, TenantProgram
from paybill_infra.controlplane.stacks import pool_database, pool_owner, tenant_role
from paybill_infra.catalog import load_catalog
from paybill_infra.schema.tenant import Tenant
from paybill_infra.topology.resolve import CloudDefaults, resolve_topology

config = pulumi.Config("bench")
server = ServerConfig(embedded_dir=config.require("embeddedDir"))
if pulumi.get_stack() == "platform":
    PlatformProgram(server)()
else:
    catalog = load_catalog(config.require("catalog"))
    slug, plan = config.require("tenant"), catalog[config.require("plan")]
    defaults = CloudDefaults(cloud="local", region="local", allowed_regions=("local",))
    member = MemberSpec(resolve_topology(plan, Tenant(slug=slug, display_name=slug, plan=plan.name), defaults), tenant_role(slug, 0), False)
    if plan.isolation.value == "pooled":
        PoolProgram(server, pool_database(slug, 1), pool_owner(slug, 1), (member,))()
    else:
        endpoint = config.require_object("platform")
        TenantProgram(server, Endpoint(endpoint["database"], endpoint["host"], int(endpoint["port"])), member)()
"""


def tenants(n: int) -> list[tuple[str, str]]:
    plans = ["starter"] * 6 + ["growth"] * 3 + ["enterprise"]
    return [(f"bench-{i:03d}", plans[i % len(plans)]) for i in range(n)]


def control_plane(n: int, workers: int) -> float:
    root = Path(tempfile.mkdtemp(prefix="paybill-bench-cp-"))
    shutil.copy(REPO / "plans.yaml", root / "plans.yaml")
    try:
        with ControlPlane(ControlPlaneSettings(root=root, workers=workers)) as plane:
            plane.onboard({"slug": "warmup", "display_name": "Warmup", "plan": "growth"})  # platform stack
            started = time.perf_counter()
            outcomes = plane.onboard_many([{"slug": s, "display_name": s, "plan": p} for s, p in tenants(n)])
            elapsed = time.perf_counter() - started
            failed = [o for o in outcomes if isinstance(o, Exception)]
            if failed:
                raise SystemExit(f"control plane: {len(failed)} failures, first: {failed[0]}")
        return elapsed
    finally:
        EmbeddedServer(root / ".paybill" / "postgres").stop()
        shutil.rmtree(root, ignore_errors=True)


def sequential_cli(n: int) -> float:
    root = Path(tempfile.mkdtemp(prefix="paybill-bench-cli-"))
    (root / "Pulumi.yaml").write_text(
        f"name: bench\nruntime:\n  name: python\n  options:\n    virtualenv: {REPO / '.venv'}\nmain: __main__.py\n"
    )
    (root / "__main__.py").write_text(BASELINE_MAIN)
    settings = EngineSettings(root=root, backend_url=(root / "state").as_uri(), pulumi_bin=_bin())
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
        started = time.perf_counter()
        for slug, plan in tenants(n):
            config = {"bench:tenant": slug, "bench:plan": plan, "bench:catalog": str(REPO / "plans.yaml")}
            if plan != "starter":
                config["bench:platform"] = platform
            up(slug, config)
        return time.perf_counter() - started
    finally:
        EmbeddedServer(Path(embedded)).stop()
        shutil.rmtree(root, ignore_errors=True)


def _bin() -> Path:
    from paybill_infra.engine.binary import pulumi_bin_dir

    return pulumi_bin_dir()


def write_section(rows: list[tuple[int, int, float, float]], command: str) -> None:
    path = REPO / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = [
        SECTION,
        "",
        f"Command: `{command}` (2 shared cores; embedded PostgreSQL 18; file backend; Pulumi v3.274.1).",
        "Tenant mix: 60% starter (pooled), 30% growth (bridge), 10% enterprise (silo). Timing starts after the",
        'shared platform stack is up on both sides. "Per tenant" is wall-clock engine time divided by N.',
        "",
        "| N | workers | control plane (s) | per tenant (s) | sequential `pulumi up` (s) | per tenant (s) | speed-up |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, workers, cp, seq in rows:
        lines.append(f"| {n} | {workers} | {cp:.1f} | {cp / n:.2f} | {seq:.1f} | {seq / n:.2f} | {seq / cp:.1f}x |")
    section = "\n".join(lines) + "\n"
    pattern = re.compile(re.escape(SECTION) + r".*?(?=\n## |\Z)", re.DOTALL)
    text = pattern.sub(section.rstrip("\n"), text) if SECTION in text else text.rstrip("\n") + "\n\n" + section
    path.write_text(text if text.endswith("\n") else text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    rows = []
    for n in args.n:
        cp = control_plane(n, args.workers)
        print(f"N={n}: control plane {cp:.1f}s", flush=True)
        seq = sequential_cli(n)
        print(f"N={n}: sequential pulumi up {seq:.1f}s ({seq / cp:.1f}x)", flush=True)
        rows.append((n, args.workers, cp, seq))
    write_section(rows, "python benchmarks/fleet_onboarding.py --n " + " ".join(map(str, args.n)))


if __name__ == "__main__":
    main()
