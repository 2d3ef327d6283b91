"""Mock runs in a process of their own, so they can run beside real Pulumi programs.

Pulumi keeps its runtime settings in context variables whose *defaults* the first write from any fresh
context replaces for the whole process (``pulumi._utils.ContextProperty.fset``). Mocks configured in the
control plane's process would therefore leak into the inline programs the Automation API runs in it at the
same time, and those programs then wait forever on a monitor or RPC bookkeeping that is not theirs.

So the control plane never runs mocks in its own process: programs (plain, picklable data: the targets' and
the database layer's programs are frozen dataclasses) go to one long-lived worker process, which runs them
one at a time under :class:`~paybill_infra.testing.CloudMocks` and sends back the outputs and the registered
resources. The worker is started on first use (``spawn``: a fresh interpreter, no inherited threads) and
reused.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from paybill_infra.targets.base import Program
from paybill_infra.testing.mocks import CloudMocks, DatabaseStandIn
from paybill_infra.testing.run import run_program

Resources = list[tuple[str, str]]
"""(type token, name) of every resource a program registered."""

_GUARD = threading.Lock()
_WORKER: ProcessPoolExecutor | None = None


def run_isolated(
    program: Program, database: Callable[[str], DatabaseStandIn] | None, stack: str
) -> tuple[dict[str, Any], Resources]:
    """Run ``program`` under :class:`CloudMocks` (``database`` standing in for the managed servers) in the
    worker process; its outputs (secrets included) and resources."""
    result: tuple[dict[str, Any], Resources] = _worker().submit(_run, program, database, stack).result()
    return result


def _worker() -> ProcessPoolExecutor:
    global _WORKER
    with _GUARD:
        if _WORKER is None:
            _WORKER = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return _WORKER


def _run(
    program: Program, database: Callable[[str], DatabaseStandIn] | None, stack: str
) -> tuple[dict[str, Any], Resources]:
    run = run_program(program, mocks=CloudMocks(database), stack=stack)
    return run.outputs, [(r.type, r.name) for r in run.resources]
