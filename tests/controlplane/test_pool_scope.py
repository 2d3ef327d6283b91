"""Per-tenant runs of a pool stack are scoped to the tenant: the program registers the pool's platform and
that tenant only, the engine targets its component, and every other member stays as it is (resources,
outputs, credentials). A full ``converge`` still applies the whole pool. Real engine, embedded PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from paybill_infra.controlplane import ControlPlane, OperationStatus, RetentionPolicy
from paybill_infra.controlplane.programs import PoolProgram
from paybill_infra.controlplane.registry import TenantRow
from tests.controlplane.conftest import Env
from tests.tenant_data import login

pytestmark = [pytest.mark.engine, pytest.mark.postgres]

MEMBERS = ("p-ada", "p-bob", "p-cyd")
TENANT = "paybill:local:Tenant"


@pytest.fixture(scope="module")
def pool(plane: ControlPlane) -> str:
    """Three members of one pool, onboarded in one (full, first) run of its stack."""
    results = plane.onboard_many([{"slug": s, "display_name": s, "plan": "team"} for s in MEMBERS])
    assert all(not isinstance(r, Exception) and r.status is OperationStatus.SUCCEEDED for r in results)
    stacks = {plane.show(s).stack for s in MEMBERS}
    assert len(stacks) == 1
    return stacks.pop() or ""


def components(plane: ControlPlane, stack: str) -> dict[str, list[str]]:
    """Per tenant component in the stack's checkpoint, the names of its children."""
    resources = plane.stacks.resources(stack, lambda: None)
    urns = {r["urn"]: r["urn"].rsplit("::", 1)[-1] for r in resources if r["type"] == TENANT}
    return {
        slug: sorted(r["urn"].rsplit("::", 1)[-1] for r in resources if r.get("parent") == urn)
        for urn, slug in urns.items()
    }


def can_log_in(plane: ControlPlane, slug: str) -> bool:
    try:
        login(plane, slug).close()
    except psycopg.OperationalError as err:
        if "not permitted to log in" not in str(err):
            raise
        return False
    return True


def set_suspended(plane: ControlPlane, slug: str, suspended: bool) -> None:
    """Intent recorded without an operation (what a full converge must apply and a scoped run must not)."""
    with plane.registry.transaction() as session:
        row = session.get(TenantRow, slug)
        assert row is not None
        row.suspended = suspended


def test_onboarding_into_a_pool_touches_only_the_new_member(plane: ControlPlane, pool: str) -> None:
    set_suspended(plane, "p-bob", True)  # pending intent of another member: not this run's business
    try:
        result = plane.onboard({"slug": "p-dan", "display_name": "Dan", "plan": "team"})
        assert plane.show("p-dan").stack == pool
        assert result.summary["changes"].get("create") == 3
        assert not {"update", "delete", "replace"} & set(result.summary["changes"])
        assert can_log_in(plane, "p-bob"), "a scoped run applied another member's intent"
        held = components(plane, pool)
        assert sorted(held) == sorted((*MEMBERS, "p-dan"))
        assert all(children == [f"{s}-membership", f"{s}-role"] for s, children in held.items())
        for slug in (*MEMBERS, "p-dan"):
            creds = plane.credentials(slug)
            assert (creds.tenant, creds.user, creds.schema_name) == (slug, plane.show(slug).role, "pooled")
            assert can_log_in(plane, slug)
        plane.converge()  # a full run applies every member's intent
        assert not can_log_in(plane, "p-bob")
    finally:
        set_suspended(plane, "p-bob", False)
        plane.converge()
    assert can_log_in(plane, "p-bob")


def test_suspend_of_one_member_updates_only_its_role(plane: ControlPlane, pool: str) -> None:
    result = plane.suspend("p-ada", reason="test")
    assert {k: v for k, v in result.summary["changes"].items() if k != "same"} == {"update": 1}
    assert not can_log_in(plane, "p-ada")
    assert can_log_in(plane, "p-cyd")
    plane.resume("p-ada")
    assert can_log_in(plane, "p-ada")


def test_drift_of_one_member_refreshes_and_reports_only_its_resources(env: Env, plane: ControlPlane, pool: str) -> None:
    for slug in ("p-ada", "p-cyd"):
        env.query(f'ALTER ROLE "{plane.show(slug).role}" CREATEDB')
    report = plane.drift("p-ada")
    assert [d.urn.rsplit("::", 1)[-1] for d in report.drifted] == ["p-ada-role"]
    assert [sum(s.changes.values()) for s in report.stacks] == [3], "refreshed more than the member's resources"
    assert [d.urn.rsplit("::", 1)[-1] for d in plane.drift("p-cyd").drifted] == ["p-cyd-role"]
    plane.converge()
    assert plane.drift().clean


def test_drift_reports_a_resource_gone_from_the_server_reading_the_checkpoint_once(
    env: Env, plane: ControlPlane, pool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refresh's own events say what it found (a membership whose mapping was deleted by hand is gone);
    the checkpoint is exported once, before the refresh, to find the tenant's resources."""
    view = plane.show("p-bob")
    env.query("DELETE FROM paybill.tenant_roles WHERE role_name = %s", view.role, dbname=view.database or "")
    exported: list[str] = []
    export = plane.stacks.resources

    def counted(stack: str, program: Callable[[], None]) -> list[dict[str, Any]]:
        exported.append(stack)
        return export(stack, program)

    monkeypatch.setattr(plane.stacks, "resources", counted)
    report = plane.drift("p-bob")
    assert [(d.urn.rsplit("::", 1)[-1], d.fields) for d in report.drifted] == [("p-bob-membership", ("deleted",))]
    assert exported == [pool]
    monkeypatch.undo()
    plane.converge()
    assert plane.drift("p-bob").clean
    assert can_log_in(plane, "p-bob")


def test_offboarding_one_member_drops_only_its_resources(env: Env, plane: ControlPlane, pool: str) -> None:
    gone = plane.show("p-cyd").role
    result = plane.offboard("p-cyd", retention=RetentionPolicy.NONE)
    assert {k: v for k, v in result.summary["changes"].items() if k != "same"} == {"delete": 3}
    roles = {r[0] for r in env.query("SELECT rolname FROM pg_roles")}
    assert gone not in roles
    assert {plane.show(s).role for s in ("p-ada", "p-bob", "p-dan")} <= roles
    assert sorted(components(plane, pool)) == ["p-ada", "p-bob", "p-dan"]
    assert can_log_in(plane, "p-ada")


def test_a_scoped_run_for_a_tenant_the_stack_no_longer_holds_changes_nothing(plane: ControlPlane, pool: str) -> None:
    """A rerun of an offboarding whose resources are already gone (recovery after a crash) targets a
    component that is neither in the checkpoint nor registered: the engine must accept it and do nothing."""
    with plane.registry.transaction() as session:
        spec = plane.reconciler.spec(session, pool)
    program = plane.reconciler.program(spec.narrowed(frozenset()), None)
    assert isinstance(program, PoolProgram) and program.members == ()
    outcome = plane.stacks.run(pool, "up", program, target=(plane.stacks.tenant_target(pool, "p-cyd"),))
    assert set(outcome.change.changes) == {"same"}
    assert sorted(components(plane, pool)) == ["p-ada", "p-bob", "p-dan"]
