"""Bad input, billing gates, rollback, idempotency and concurrency on the real engine.

Every refusal must leave no stack touched: the set of stacks and the journal are compared before and after.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from paybill_infra.controlplane import BillingEvent, ControlPlane, OperationStatus, TenantState
from paybill_infra.controlplane.migration import Placement, PostgresDataMover, Verification
from paybill_infra.errors import (
    BillingEnforcementError,
    BillingGateError,
    EngineError,
    IdempotencyConflictError,
    IllegalTransitionError,
    InvalidInputError,
    MigrationError,
    OperationFailedError,
    PaybillError,
    PlanLimitError,
    TenantExistsError,
    UnknownPlanError,
    UnknownTenantError,
)
from tests.controlplane.conftest import Env

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


def untouched(plane: ControlPlane) -> tuple[Any, ...]:
    status = plane.status()
    return status.stacks, status.tenants, len(plane.operations(limit=1000))


def test_bad_input_is_refused_before_anything_is_touched(plane: ControlPlane) -> None:
    plane.onboard({"slug": "stable", "display_name": "Stable", "plan": "starter"})
    before = untouched(plane)
    with pytest.raises(UnknownPlanError, match="unknown plan 'platinum'"):
        plane.onboard({"slug": "newco", "display_name": "New", "plan": "platinum"})
    with pytest.raises(InvalidInputError, match="slug"):
        plane.onboard({"slug": "Robert'); DROP TABLE--", "display_name": "x", "plan": "starter"})
    with pytest.raises(InvalidInputError, match="slug"):
        plane.suspend("../etc")
    with pytest.raises(UnknownTenantError, match="unknown tenant 'ghost'"):
        plane.suspend("ghost")
    with pytest.raises(IllegalTransitionError, match="cannot resume tenant 'stable' while it is active"):
        plane.resume("stable")
    with pytest.raises(BillingGateError, match="subscription is canceled"):
        plane.onboard({"slug": "latecomer", "display_name": "Late", "plan": "growth", "subscription": "canceled"})
    with pytest.raises(InvalidInputError, match="already on 'starter'"):
        plane.change_plan("stable", "starter")
    plane.change_plan("stable", "team")  # an upgrade within the pooled isolation: into the team pool
    plane.report_usage("stable", {"seats": 12})
    with pytest.raises(PlanLimitError, match="12 seats in use, plan allows 5"):
        plane.change_plan("stable", "starter")
    with pytest.raises(TenantExistsError):
        plane.onboard({"slug": "stable", "display_name": "Stable", "plan": "growth"})
    after = untouched(plane)
    assert after[0] == ("pool-team-001",)  # stable moved pools; the emptied starter pool is gone
    assert before[1] == after[1] and after[2] == before[2] + 1  # only the successful plan change ran
    rejected = {e.action for e in plane.audit_log() if e.action.endswith(".rejected")}
    assert {"onboard.rejected", "suspend.rejected", "resume.rejected", "change_plan.rejected"} <= rejected


def test_same_tenant_onboarded_twice_at_once(plane: ControlPlane) -> None:
    request = {"slug": "twice", "display_name": "Twice", "plan": "growth"}
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def go() -> None:
        barrier.wait()
        results.append(plane.onboard(request))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0].id == results[1].id
    assert sorted(r.deduplicated for r in results) == [False, True]
    assert [o.kind.value for o in plane.operations("twice")] == ["onboard"]


def test_idempotency_key_replays_and_refuses_reuse(plane: ControlPlane) -> None:
    first = plane.suspend("twice", idempotency_key="req-0001-suspend")
    again = plane.suspend("twice", idempotency_key="req-0001-suspend")
    assert again.id == first.id and again.deduplicated
    with pytest.raises(IdempotencyConflictError):
        plane.resume("twice", idempotency_key="req-0001-suspend")
    plane.resume("twice", idempotency_key="req-0002-resume")
    assert plane.show("twice").state is TenantState.ACTIVE


def test_a_caller_chosen_operation_id_names_the_journal_row_and_its_events(plane: ControlPlane) -> None:
    """The product backend's one id: the journal row, every event and the audit records carry the id the
    caller chose; calling again with it replays the first result, and another request under it is refused."""
    chosen = str(uuid.uuid4())
    with plane.events.subscribe() as events:
        first = plane.suspend("twice", operation_id=chosen)
        seen = [e for e in iter(lambda: events.get(timeout=0.5), None) if e.tenant == "twice"]
    assert first.id == chosen and not first.deduplicated
    assert seen and {e.operation_id for e in seen} == {chosen}
    assert {"suspend.started", "suspend.succeeded"} <= {
        a.action for a in plane.audit_log("twice") if a.operation_id == chosen
    }
    again = plane.suspend("twice", operation_id=chosen)
    assert again.id == chosen and again.deduplicated
    with pytest.raises(IdempotencyConflictError):
        plane.resume("twice", operation_id=chosen)
    with pytest.raises(InvalidInputError, match="operation_id"):
        plane.resume("twice", operation_id="not-a-uuid")
    assert plane.show("twice").state is TenantState.SUSPENDED
    plane.resume("twice")


def test_a_key_raced_by_another_tenant_is_a_conflict_not_a_crash(
    plane: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    plane.onboard({"slug": "racer", "display_name": "Racer", "plan": "growth"})  # own stack: pools stay as counted
    first = plane.suspend("twice", idempotency_key="req-race-0001")
    real = plane.journal.dedupe
    blind = [2]  # both pre-insert checks ran before the winner's row existed

    def racing(*args: Any, **kwargs: Any) -> Any:
        if blind[0]:
            blind[0] -= 1
            return None
        return real(*args, **kwargs)

    monkeypatch.setattr(plane.journal, "dedupe", racing)
    with pytest.raises(IdempotencyConflictError) as info:
        plane.suspend("racer", idempotency_key="req-race-0001")
    assert info.value.operation_id == first.id
    assert plane.show("racer").state is TenantState.ACTIVE
    monkeypatch.undo()
    plane.resume("twice")


class CorruptingMover(PostgresDataMover):
    """Copies, then reports a mismatch: the migration must roll back with the source intact. While it
    copies, it tries to log in as the tenant's source role, which the write freeze must refuse."""

    login_during_copy: str = "not tried"

    def __init__(self, password: str) -> None:
        super().__init__()
        self._password = password

    def copy(self, tenant: str, source: Placement, target: Placement) -> dict[str, int]:
        try:
            psycopg.connect(source.server.url(source.database, user=f"r_{tenant}", password=self._password)).close()
            self.login_during_copy = "allowed"
        except psycopg.OperationalError as err:
            self.login_during_copy = "refused" if "not permitted to log in" in str(err) else str(err)
        return super().copy(tenant, source, target)

    def verify(self, tenant: str, source: Placement, target: Placement) -> Verification:
        real = super().verify(tenant, source, target)
        return Verification(real.source_counts, {k: v - 1 for k, v in real.target_counts.items()}, {}, {})


def test_failed_migration_rolls_back_to_the_source(env: Env, plane: ControlPlane) -> None:
    env.query("INSERT INTO s_twice.customers (tenant_id, name) VALUES ('twice', 'keep-me')", dbname="paybill_bridge")
    stacks_before = plane.status().stacks
    creds = plane.credentials("twice")
    mover = CorruptingMover(creds.password.get_secret_value())
    with (
        env.plane(data_mover=mover, recover=False) as faulty,
        pytest.raises(MigrationError, match="rolled back to the source") as caught,
    ):
        faulty.change_plan("twice", "enterprise")
    assert caught.value.rolled_back and caught.value.phase == "verify"
    assert mover.login_during_copy == "refused", "writes to the source were not frozen during the copy"
    with psycopg.connect(
        plane.admin().url(creds.database, user=creds.user, password=creds.password.get_secret_value())
    ) as conn:
        assert conn.execute("SELECT count(*) FROM s_twice.customers").fetchone() == (1,), "thawed after rollback"
    view = plane.show("twice")
    assert (view.plan, view.state, view.isolation.value) == ("growth", TenantState.ACTIVE, "bridge")
    assert plane.status().stacks == stacks_before
    assert env.query("SELECT 1 FROM pg_database WHERE datname = 'd_twice'") == []
    assert env.query("SELECT name FROM s_twice.customers", dbname="paybill_bridge") == [("keep-me",)]
    assert plane.operations("twice")[0].status is OperationStatus.ROLLED_BACK


def test_twenty_tenants_onboarded_concurrently(env: Env, plane: ControlPlane) -> None:
    plans = ["starter"] * 10 + ["team"] * 4 + ["growth"] * 3 + ["enterprise"] * 3
    requests = [{"slug": f"crowd-{i:02d}", "display_name": f"Crowd {i}", "plan": p} for i, p in enumerate(plans)]
    requests.append({"slug": "crowd-bad", "display_name": "Bad", "plan": "starter", "subscription": "canceled"})
    outcomes = plane.onboard_many(requests)
    assert isinstance(outcomes[-1], BillingGateError)
    assert all(not isinstance(o, PaybillError) for o in outcomes[:-1]), [
        o for o in outcomes if isinstance(o, Exception)
    ]
    states = {v.slug: v.state for v in plane.tenants() if v.slug.startswith("crowd-")}
    assert len(states) == 20 and set(states.values()) == {TenantState.ACTIVE}
    for slug in states:
        ops = plane.operations(slug)
        assert [(o.kind.value, o.status) for o in ops] == [("onboard", OperationStatus.SUCCEEDED)], slug
    # bin-packing: capacity 4 -> 10 starter tenants fill pools 1..3 (stable left starter earlier)
    pools = {p.stack: (p.members, p.capacity) for p in plane.status().pools if p.plan == "starter"}
    assert pools == {"pool-starter-001": (4, 4), "pool-starter-002": (4, 4), "pool-starter-003": (2, 4)}
    roles = {r[0] for r in env.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'r\\_crowd%%'")}
    assert len(roles) == 20
    members = Counter(
        r[0]
        for db in pools
        for r in env.query(
            "SELECT tenant_id FROM paybill.tenant_roles", dbname=db.replace("pool-starter-", "pool_starter__")
        )
    )
    assert sum(members.values()) == 10 and max(members.values()) == 1
    assert not plane.status().running


def test_billing_enforcement_tries_every_tenant_and_retries_a_failed_suspend_or_resume(
    plane: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A suspend that fails for one tenant neither stops the others nor is forgotten: the next run suspends it
    again (the subscription is already ``suspended`` by then, so the grace sweep alone would never retry). A
    failed billing resume is retried likewise; an operator's own suspend is left alone."""
    plane.onboard_many([{"slug": s, "display_name": s, "plan": "team"} for s in ("dues-a", "dues-b")])
    due = datetime.now(UTC) - timedelta(days=10)
    for slug in ("dues-a", "dues-b"):
        plane.record_billing_event(BillingEvent(event_id=f"pd-{slug}", tenant=slug, status="past_due", occurred_at=due))
    apply_toggle = plane._operations.apply_toggle

    def engine_down_for_a(operation_id: str, slug: str, *, suspended: bool) -> dict[str, Any]:
        if slug == "dues-a":
            raise EngineError(stack="pool-team-001", operation="up", kind="unknown", detail="provider crashed")
        return apply_toggle(operation_id, slug, suspended=suspended)

    monkeypatch.setattr(plane._operations, "apply_toggle", engine_down_for_a)
    with pytest.raises(BillingEnforcementError) as failed:
        plane.enforce_billing()
    assert set(failed.value.failures) == {"dues-a"} and "provider crashed" in failed.value.failures["dues-a"]
    assert len(failed.value.started) == 1  # dues-b's suspend ran although dues-a's failed before it
    states = {v.slug: v.state for v in plane.tenants() if v.slug.startswith("dues-")}
    assert states == {"dues-a": TenantState.ACTIVE, "dues-b": TenantState.SUSPENDED}
    assert plane.subscription("dues-a").status == "suspended"  # billing's hold stands: only the tenant lags

    monkeypatch.setattr(plane._operations, "apply_toggle", apply_toggle)
    (retried,) = plane.enforce_billing()
    assert (retried.tenant, retried.kind.value, retried.status) == ("dues-a", "suspend", OperationStatus.SUCCEEDED)
    assert plane.show("dues-a").state is TenantState.SUSPENDED
    assert plane.enforce_billing() == []  # in line now: nothing more to do

    monkeypatch.setattr(plane._operations, "apply_toggle", engine_down_for_a)
    paid = datetime.now(UTC)
    with pytest.raises(OperationFailedError):
        plane.record_billing_event(BillingEvent(event_id="paid-a", tenant="dues-a", status="active", occurred_at=paid))
    plane.record_billing_event(BillingEvent(event_id="paid-b", tenant="dues-b", status="active", occurred_at=paid))
    plane.suspend("dues-b", actor="ops", reason="abuse report")  # an operator's choice, not billing's
    monkeypatch.setattr(plane._operations, "apply_toggle", apply_toggle)
    (resumed,) = plane.enforce_billing()
    assert (resumed.tenant, resumed.kind.value, resumed.status) == ("dues-a", "resume", OperationStatus.SUCCEEDED)
    states = {v.slug: v.state for v in plane.tenants() if v.slug.startswith("dues-")}
    assert states == {"dues-a": TenantState.ACTIVE, "dues-b": TenantState.SUSPENDED}
