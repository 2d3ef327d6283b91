"""``kill -9`` of a control plane in the middle of ``up``, then recovery at the next start.

The worker runs in its own session (process group) and is killed with SIGKILL as soon as the engine has
created the tenant's first resource; its CLI child is left to die on its own, as after a real crash. The
next ``ControlPlane`` must find the stale operation, clear the stack lock and pending operations, and
converge: the tenant ends active, the stack previews clean, and PostgreSQL has exactly its objects. No process
of the killed run survives it: the provider host exits with its engine (``paybill_infra.lifeline``), the
shared provider host (``shared_provider_host``, the second case) with the control plane.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from paybill_infra.controlplane import ControlPlane, OperationStatus, TenantState
from paybill_infra.controlplane.stacks import pid_alive
from tests.controlplane.conftest import Env
from tests.process_tree import session_members, survivors

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


@pytest.mark.parametrize(("slug", "provider"), [("wayne", "own"), ("kent", "shared")], ids=["own", "shared-host"])
def test_kill_9_during_up_then_recovery_converges(env: Env, slug: str, provider: str) -> None:
    env.server.ensure_running()
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.controlplane.crash_worker", str(env.root), slug, "enterprise", provider],
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
                hosts = [p for p in session_members(worker.pid) if "paybill_infra.engine.provider_host" in p.cmdline()]
                os.kill(worker.pid, signal.SIGKILL)
                break
        else:
            pytest.fail("the worker finished before it could be killed")
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        assert len(hosts) == (provider == "shared")
        # the CLI exits once its program is gone, the provider host (a grandchild of it) with the CLI; the
        # shared host with the control plane
        assert survivors(worker.pid, within=15) == []

        settings = env.settings.model_copy(update={"shared_provider_host": provider == "shared"})
        with ControlPlane(settings, recover=False) as plane:
            stale = plane.journal.stale()
            assert [(op.kind, op.tenant) for op in stale] == [("onboard", slug)]
            assert plane.show(slug).state is TenantState.PROVISIONING

            started = time.monotonic()
            recovered = plane.recover()
            assert [(r.kind.value, r.status) for r in recovered] == [("onboard", OperationStatus.SUCCEEDED)]
            assert recovered[0].attempts == 2 and recovered[0].summary.get("recovered") is True
            assert time.monotonic() - started < 120

            assert plane.show(slug).state is TenantState.ACTIVE
            stack = plane.show(slug).stack
            assert stack is not None and not plane.stacks.lock_holders(stack)
            preview = plane.preview(slug, "growth")  # runs the engine on both stacks: no lock left behind
            assert preview.migration
            assert plane.drift(slug).clean
            assert plane.converge(slug)[0].changed == 0
            assert env.query("SELECT datname FROM pg_database WHERE datname = %s", f"d_{slug}") == [(f"d_{slug}",)]
            assert env.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", f"r_{slug}") == [(True,)]
            assert any(e.action == "operation.recovering" for e in plane.audit_log(slug))
            assert plane.recover() == []
    finally:
        if worker.poll() is None or pid_alive(worker.pid):
            os.killpg(worker.pid, signal.SIGKILL)
