"""The shared dynamic-provider host (``shared_provider_host``) on the real engine and embedded PostgreSQL.

Every engine run of the control plane attaches to one host process instead of starting its own
``pulumi.dynamic`` provider, and the contract of the engine's own provider holds: drift made by hand shows,
no password reaches the state, engine runs attach at once, and a provider error is the same typed error.
(Crash recovery with the host: ``test_crash_recovery.py``.)
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import psutil
import pytest

from paybill_infra import lifeline
from paybill_infra.controlplane import ControlPlane, OperationStatus, ProgressEvent
from paybill_infra.controlplane.stacks import tenant_role
from paybill_infra.errors import EngineError, OperationFailedError
from tests.controlplane.conftest import Env
from tests.tenant_data import login

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


@pytest.fixture(scope="module")
def plane(env: Env) -> Iterator[ControlPlane]:
    with ControlPlane(env.settings.model_copy(update={"shared_provider_host": True})) as control_plane:
        yield control_plane


def own_providers() -> list[int]:
    """Pids of engine-started provider processes (``python -m pulumi.dynamic``) below this process."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "pulumi.dynamic" in child.cmdline():
                found.append(child.pid)
        except psutil.Error:
            continue
    return found


class Watch:
    """Looks for engine-started providers whenever a resource event arrives, and records the stacks that
    had resource events, in order."""

    def __init__(self) -> None:
        self.providers: set[int] = set()
        self.stacks: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        if event.resource_type is None or event.stack is None:
            return
        seen = own_providers()
        with self._lock:
            self.providers.update(seen)
            self.stacks.append(event.stack)


def test_runs_attach_to_one_host_that_lives_with_the_control_plane(plane: ControlPlane) -> None:
    watch = Watch()
    plane.events.add_sink(watch)
    plane.stacks.shared_provider_host = False
    plane.onboard({"slug": "ownrun", "display_name": "Own", "plan": "starter"})
    assert watch.providers, "the engine's own provider was never seen: the probe cannot tell the sides apart"
    watch.providers.clear()
    plane.stacks.shared_provider_host = True
    assert plane.onboard({"slug": "hosted", "display_name": "Hosted", "plan": "starter"}).status is (
        OperationStatus.SUCCEEDED
    )
    host = plane.stacks.provider_host.pid
    assert plane.converge("hosted") and plane.stacks.provider_host.pid == host
    assert watch.stacks and watch.providers == set()
    assert host is not None
    process = psutil.Process(host)
    assert process.ppid() == psutil.Process().pid
    assert "paybill_infra.engine.provider_host" in process.cmdline()
    assert process.environ()[lifeline.OWNER_ENV] == lifeline.owner_mark()
    with login(plane, "hosted") as conn:
        assert conn.execute("SELECT current_user").fetchone() == (plane.show("hosted").role,)


def test_drift_made_by_hand_shows_through_the_host(env: Env, plane: ControlPlane) -> None:
    role = plane.show("hosted").role
    assert plane.drift("hosted").clean
    env.query(f'ALTER ROLE "{role}" NOLOGIN CREATEDB')
    report = plane.drift("hosted")
    assert [(d.type.rsplit(":", 1)[-1], set(d.fields)) for d in report.drifted] == [
        ("LoginRole", {"login", "createdb"})
    ]
    plane.converge("hosted")
    assert env.query("SELECT rolcanlogin, rolcreatedb FROM pg_roles WHERE rolname = %s", role) == [(True, False)]
    assert plane.drift("hosted").clean


def test_no_password_in_the_state(env: Env, plane: ControlPlane) -> None:
    seen: list[str] = []
    with login(plane, "hosted", seen=seen):
        pass
    files = [f for f in (env.root / ".paybill" / "state").rglob("*") if f.is_file()]
    assert files and seen
    for path in files:
        assert seen[0].encode() not in path.read_bytes(), f"a password is in plain text in {path}"


def test_engine_runs_attach_at_once(plane: ControlPlane) -> None:
    watch = Watch()
    plane.events.add_sink(watch)
    slugs = ("para-a", "para-b", "para-c")
    results: dict[str, OperationStatus] = {}

    def onboard(slug: str) -> None:
        results[slug] = plane.onboard({"slug": slug, "display_name": slug, "plan": "enterprise"}).status

    threads = [threading.Thread(target=onboard, args=(slug,)) for slug in slugs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert results == dict.fromkeys(slugs, OperationStatus.SUCCEEDED)
    assert watch.providers == set()
    # the stacks' resource events interleave: their engine runs were attached to the host at the same time
    order = [stack for stack in watch.stacks if any(slug in stack for slug in slugs)]
    switches = sum(1 for before, after in itertools.pairwise(order) if before != after)
    assert switches > len(slugs) - 1, order


def test_a_provider_error_is_the_same_typed_error(env: Env, plane: ControlPlane) -> None:
    errors: dict[bool, EngineError] = {}
    for shared, slug in ((False, "squat-own"), (True, "squat-host")):
        env.query(f'CREATE ROLE "{tenant_role(slug, 0)}" LOGIN')  # squats the tenant's role name
        plane.stacks.shared_provider_host = shared
        try:
            with pytest.raises(OperationFailedError) as info:
                plane.onboard({"slug": slug, "display_name": slug, "plan": "enterprise"})
        finally:
            plane.stacks.shared_provider_host = True
        cause = info.value.__cause__
        assert isinstance(cause, EngineError)
        errors[shared] = cause
    own, hosted = errors[False], errors[True]
    assert (hosted.kind, hosted.operation) == (own.kind, own.operation)
    assert raised(hosted.detail).replace("squat_host", "squat_own") == raised(own.detail)


def raised(detail: str) -> str:
    """The line of an engine error that names the provider's exception."""
    return next(line.strip() for line in detail.splitlines() if "DuplicateObject" in line)


def test_a_dead_host_is_started_again_and_close_stops_it(env: Env, plane: ControlPlane) -> None:
    plane.onboard({"slug": "revived", "display_name": "Revived", "plan": "starter"})
    dead = plane.stacks.provider_host.pid
    assert dead is not None
    killed = psutil.Process(dead)
    killed.kill()
    killed.wait(timeout=10)
    assert plane.converge("revived")
    again = plane.stacks.provider_host.pid
    assert again is not None and again != dead
    with ControlPlane(env.settings.model_copy(update={"shared_provider_host": True}), recover=False) as other:
        assert other.drift("revived").clean
        stopped = other.stacks.provider_host.pid
        assert stopped is not None and stopped != again
    assert not psutil.pid_exists(stopped)
    assert plane.stacks.provider_host.pid == again
