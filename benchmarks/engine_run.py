"""Benchmark: where one engine run's time goes. Not a timed test: it writes its figures into the
``## One engine run`` section of ``BENCHMARKS.md``.

Reproduce: ``.venv/bin/python benchmarks/engine_run.py --rounds 5``

One pool stack with one pooled tenant is onboarded through the control plane; then, interleaved in one loop
(the order rotating each round), the same no-change ``up`` of that stack runs

- through ``StackManager`` (the control plane's path: the operation alone, outputs from its event stream);
- through the Automation API's default flow on the same workspace (``create_or_select_stack`` then ``up``,
  which adds ``stack select``, two ``stack output`` and ``stack history``).

The fixed costs are measured as fresh processes, interleaved the same way: the dynamic-provider host's
imports (``pulumi.dynamic`` with its gRPC/dill runtime), the provider module as it is now (lazy) and as it
was (eager: psycopg, SQLAlchemy and ``agent_acl`` behind the local SQL module), and each extra CLI call.
CPU seconds are this process's and its children's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pulumi import automation as auto  # noqa: E402

from benchmarks.report import timed, write_section  # noqa: E402
from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings  # noqa: E402
from paybill_infra.local.server import EmbeddedServer  # noqa: E402

SECTION = "## One engine run"
MARKERS = ("<!-- engine_run:begin -->", "<!-- engine_run:end -->")
PY = sys.executable


def measure(sides: dict[str, Callable[[], object]], rounds: int) -> dict[str, tuple[float, float]]:
    """Median wall and median CPU seconds per side, the sides interleaved (rotating) in one loop."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    names = list(sides)
    for i in range(rounds):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            samples[name].append(timed(sides[name]))
    return {
        name: (statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
        for name, got in samples.items()
    }


def process(*argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Callable[[], object]:
    def run() -> object:
        return subprocess.run(argv, check=True, capture_output=True, env=env, cwd=cwd)  # noqa: S603

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="paybill-bench-run-"))
    shutil.copy(REPO / "plans.yaml", root / "plans.yaml")
    try:
        with ControlPlane(ControlPlaneSettings(root=root)) as plane:
            plane.onboard({"slug": "probe", "display_name": "Probe", "plan": "starter"})
            stack = plane.show("probe").stack or ""
            with plane.registry.transaction() as session:
                spec = plane.reconciler.spec(session, stack)
            program = plane.reconciler.program(spec, None)
            stacks = plane.stacks
            env = stacks._env  # the manager's own engine environment
            pulumi = str(stacks.settings.bin_dir() / "pulumi")
            work = stacks.work_dir(stack)

            def lean() -> object:
                return stacks.run(stack, "up", program)

            def default_flow() -> object:
                opts = auto.LocalWorkspaceOptions(
                    work_dir=str(work),
                    pulumi_command=stacks.command,  # the same CLI: only the flow differs
                    env_vars=env,
                    project_settings=auto.ProjectSettings(name=stacks.project, runtime="python"),
                )
                handle = auto.create_or_select_stack(stack, project_name=stacks.project, program=program, opts=opts)
                return handle.up(color="never", parallel=stacks.parallel)

            cli_env = {**os.environ, **env}
            load_before = os.getloadavg()[0]
            runs = measure({"StackManager up": lean, "Automation API default up": default_flow}, args.rounds)
            fixed = measure(
                {
                    "provider host imports (`pulumi.dynamic`, grpc, dill)": process(
                        PY, "-c", "import pulumi.dynamic, grpc, dill"
                    ),
                    "provider module now (lazy)": process(
                        PY, "-c", "import pulumi.dynamic, grpc, dill, paybill_infra.local.provider"
                    ),
                    "provider module before (eager)": process(
                        PY,
                        "-c",
                        "import pulumi.dynamic, grpc, dill, psycopg, paybill_infra.local.sql, paybill_infra.local.server, "
                        "paybill_infra.local.provider",
                    ),
                    "`pulumi stack select`": process(
                        pulumi, "stack", "select", stack, "--non-interactive", env=cli_env, cwd=work
                    ),
                    "`pulumi stack output --json`": process(
                        pulumi, "stack", "output", "--json", "--stack", stack, env=cli_env, cwd=work
                    ),
                    "`pulumi stack output --json --show-secrets`": process(
                        pulumi, "stack", "output", "--json", "--show-secrets", "--stack", stack, env=cli_env, cwd=work
                    ),
                    "`pulumi stack history --page-size 1`": process(
                        pulumi,
                        "stack",
                        "history",
                        "--json",
                        "--page-size",
                        "1",
                        "--stack",
                        stack,
                        env=cli_env,
                        cwd=work,
                    ),
                },
                args.rounds,
            )
            load_after = os.getloadavg()[0]
    finally:
        EmbeddedServer(root / ".paybill" / "postgres").stop()
        shutil.rmtree(root, ignore_errors=True)
    lines = [
        f"Command: `.venv/bin/python benchmarks/engine_run.py --rounds {args.rounds}` (2 shared cores; embedded",
        "PostgreSQL 18; file backend; Pulumi v3.274.1). A no-change `up` of a pool stack with one tenant; every",
        f"row is the median of {args.rounds} rounds, the rows of each table interleaved in one loop.",
        f"Load average (1 min): {load_before:.2f} before, {load_after:.2f} after.",
        "",
        "| no-change `up` | wall s | CPU s |",
        "|---|---:|---:|",
        *(f"| {name} | {wall:.2f} | {cpu:.2f} |" for name, (wall, cpu) in runs.items()),
        "",
        "| fixed cost, one fresh process | wall s | CPU s |",
        "|---|---:|---:|",
        *(f"| {name} | {wall:.2f} | {cpu:.2f} |" for name, (wall, cpu) in fixed.items()),
        "",
        "The default flow's extra processes are `stack select`, two `stack output` and `stack history`; the",
        "control plane's path has none (pinned by `tests/controlplane/test_engine_calls.py`). The provider module",
        "rows include the host's own imports: their difference is what the module adds to every provider start.",
        "Python processes run as this machine's environment has them (`PYTHONDONTWRITEBYTECODE=1`, so imports",
        "are compiled every time, as in every engine run here); with a bytecode cache all import rows shrink.",
    ]
    print("\n".join(lines))
    write_section(REPO / "BENCHMARKS.md", *MARKERS, "\n".join([SECTION, "", *lines]))


if __name__ == "__main__":
    main()
