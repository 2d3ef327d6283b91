"""``kill -9`` of a control plane in the middle of ``up``, then recovery at the next start.

The worker runs in its own session (process group) and is killed with SIGKILL as soon as the engine has
created the tenant's first resource; its CLI child is left to die on its own, as after a real crash. The
next ``ControlPlane`` must find the stale operation, clear the stack lock and pending operations, and
converge: the tenant ends active, the stack previews clean, and PostgreSQL has exactly its objects. No process
of the killed run survives it: the provider host exits with its engine (``paybill_infra.lifeline``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from paybill_infra.controlplane import OperationStatus, TenantState
from paybill_infra.controlplane.stacks import pid_alive
from tests.controlplane.conftest import Env
from tests.process_tree import survivors

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


def test_kill_9_during_up_then_recovery_converges(env: Env) -> None:
    env.server.ensure_running()
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.controlplane.crash_worker", str(env.root), "wayne", "enterprise"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert worker.stdout is not None
        for line in worker.stdout:
            # the platform stack is up; the tenant stack has started creating resources
            if line.startswith("EVENT resource") and "LoginRole" in line:
                os.kill(worker.pid, signal.SIGKILL)
                break
        else:
            pytest.fail("the worker finished before it could be killed")
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        # the CLI exits once its program is gone, the provider host (a grandchild of it) with the CLI
        assert survivors(worker.pid, within=15) == []

        with env.plane(recover=False) as plane:
            stale = plane.journal.stale()
            assert [(op.kind, op.tenant) for op in stale] == [("onboard", "wayne")]
            assert plane.show("wayne").state is TenantState.PROVISIONING

            started = time.monotonic()
            recovered = plane.recover()
            assert [(r.kind.value, r.status) for r in recovered] == [("onboard", OperationStatus.SUCCEEDED)]
            assert recovered[0].attempts == 2 and recovered[0].summary.get("recovered") is True
            assert time.monotonic() - started < 120

            assert plane.show("wayne").state is TenantState.ACTIVE
            stack = plane.show("wayne").stack
            assert stack is not None and not plane.stacks.lock_holders(stack)
            preview = plane.preview("wayne", "growth")  # runs the engine on both stacks: no lock left behind
            assert preview.migration
            assert plane.drift("wayne").clean
            assert plane.converge("wayne")[0].changed == 0
            assert env.query("SELECT datname FROM pg_database WHERE datname = 'd_wayne'") == [("d_wayne",)]
            assert env.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'r_wayne'") == [(True,)]
            assert any(e.action == "operation.recovering" for e in plane.audit_log("wayne"))
            assert plane.recover() == []
    finally:
        if worker.poll() is None or pid_alive(worker.pid):
            os.killpg(worker.pid, signal.SIGKILL)
