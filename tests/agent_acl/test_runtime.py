"""AgentSession on the real PostgreSQL: tenant binding, order, parameters, limits, timeout, approval, audit."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from agent_acl import (
    AccessDenied,
    AgentSession,
    ApprovalAuthority,
    ApprovalRequired,
    BudgetExceeded,
    Decision,
    InvalidApproval,
    Isolation,
    MemoryAuditSink,
    ParameterError,
    PlacementError,
    RowLimitExceeded,
    StepFailed,
    StepOrderError,
    StepTimeout,
    TableAuditSink,
    TenantContext,
    UnknownActionError,
)
from tests.agent_acl.conftest import Deployment

pytestmark = pytest.mark.postgres

A, B = "acme", "globex"
KEY = b"k" * 32


def session(dep: Deployment, agent: str, tenant: str = A, **kw: Any) -> AgentSession:
    return AgentSession(
        dep.engine(tenant), TenantContext(tenant=tenant, isolation=dep.isolation), agent, policy=dep.policy, **kw
    )


def admin_rows(dep: Deployment, tenant: str, query: str, *args: object) -> list[tuple[Any, ...]]:
    with dep.admin_connect(dep.database(tenant)) as conn:
        text = sql.SQL(query).format(
            inv=sql.Identifier(dep.schema(tenant), "invoices"),  # type: ignore[arg-type]
            cus=sql.Identifier(dep.schema(tenant), "customers"),
        )
        return conn.execute(text, args or None).fetchall()


def test_reads_only_its_tenant_and_masks(deployment: Deployment) -> None:
    audit = MemoryAuditSink()
    s = session(deployment, "collector", audit=audit)
    result = s.run("collect_overdue", "find_open", {"min_amount": 0})
    assert result.row_count == 3
    assert {r["customers.name"].split("-")[1] for r in result.rows} == {A}
    assert all(r["note"] is None and r["customers.email"] is None for r in result.rows)
    assert result.masked == ("note", "customers.email")
    other = session(deployment, "collector", tenant=B).run("collect_overdue", "find_open", {"min_amount": 0})
    assert {r["customers.name"].split("-")[1] for r in other.rows} == {B}
    assert {r["id"] for r in result.rows}.isdisjoint({r["id"] for r in other.rows}) or (
        deployment.isolation is not Isolation.POOLED
    )


def test_cannot_write_other_tenants_rows(deployment: Deployment) -> None:
    dep = deployment
    globex_ids = [r[0] for r in admin_rows(dep, B, "SELECT id FROM {inv} WHERE tenant_id = 'globex'")]
    globex_customer = admin_rows(dep, B, "SELECT id FROM {cus} WHERE tenant_id = 'globex' ORDER BY id")[0][0]
    authority = ApprovalAuthority(KEY)
    s = session(dep, "support_bot", approvals=authority)
    for invoice in globex_ids:
        with pytest.raises(ApprovalRequired) as denied:
            s.run("void", "void_invoice", {"invoice_id": invoice})
        assert denied.value.request is not None
        token = authority.issue(denied.value.request, "ops@acme")
        assert s.run("void", "void_invoice", {"invoice_id": invoice}, approval=token).row_count == 0
    c = session(dep, "collector", approvals=authority)
    for invoice in globex_ids:
        c.run("collect_overdue", "find_open", {"min_amount": 0})
        with pytest.raises(ApprovalRequired) as info:
            c.run("collect_overdue", "flag", {"invoice_id": invoice})
        assert info.value.request is not None
        token = authority.issue(info.value.request, "ops@acme")
        assert c.run("collect_overdue", "flag", {"invoice_id": invoice}, approval=token).row_count == 0
    # an insert pointing at another tenant's customer fails its (tenant, id) foreign key: nothing written
    before = admin_rows(dep, B, "SELECT count(*) FROM {inv}")
    s.run("support", "lookup", {"name": "alice-acme"})
    with pytest.raises(StepFailed) as failed:
        s.run("support", "open_invoice", {"customer_id": globex_customer, "amount_cents": 1})
    assert failed.value.sqlstate == "23503"
    assert admin_rows(dep, B, "SELECT count(*) FROM {inv}") == before
    assert sorted(r[0] for r in admin_rows(dep, B, "SELECT id FROM {inv} WHERE tenant_id = 'globex'")) == sorted(
        globex_ids
    )


def test_insert_binds_the_tenant_from_context(deployment: Deployment) -> None:
    dep = deployment
    customer = admin_rows(dep, A, "SELECT id FROM {cus} WHERE tenant_id = 'acme' ORDER BY id")[0][0]
    s = session(dep, "support_bot")
    s.run("support", "lookup", {"name": "alice-acme"})
    result = s.run("support", "open_invoice", {"customer_id": customer, "amount_cents": 4242})
    new_id = result.rows[0]["id"]
    assert admin_rows(dep, A, "SELECT tenant_id, amount_cents FROM {inv} WHERE id = %s", new_id) == [(A, 4242)]
    s.run("support", "lookup", {"name": "alice-acme"})
    with pytest.raises(ParameterError):
        s.run("support", "open_invoice", {"customer_id": customer, "amount_cents": 1, "tenant_id": B})
    admin_rows(dep, A, "DELETE FROM {inv} WHERE id = %s RETURNING id", new_id)


def test_step_order_and_unknown_actions(deployment: Deployment) -> None:
    s = session(deployment, "collector")
    with pytest.raises(StepOrderError):
        s.run("collect_overdue", "flag", {"invoice_id": 1})
    with pytest.raises(UnknownActionError):
        s.run("support", "lookup", {"name": "x"})  # not this agent's workflow
    with pytest.raises(UnknownActionError):
        s.run("collect_overdue", "drop_everything", {})


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"min_amount": "100"},
        {"min_amount": 1.5},
        {"min_amount": 2**63},
        {"min_amount": 1, "extra": 2},
        {"min_amount": None},
        {"min_amount": True},
    ],
)
def test_parameters_are_validated_without_echo(deployment: Deployment, params: dict[str, Any]) -> None:
    audit = MemoryAuditSink()
    s = session(deployment, "collector", audit=audit)
    with pytest.raises(ParameterError) as info:
        s.run("collect_overdue", "find_open", params)
    for value in params.values():
        if value not in (None, True, 1, 2):
            assert str(value) not in str(info.value)
    assert audit.records[-1].decision is Decision.DENIED
    assert audit.records[-1].reason == "invalid_parameters"


def test_text_parameters_are_bounded(deployment: Deployment) -> None:
    s = session(deployment, "support_bot")
    with pytest.raises(ParameterError):
        s.run("support", "lookup", {"name": "x" * 101})
    with pytest.raises(ParameterError):
        s.run("support", "lookup", {"name": "nul\x00byte"})


def test_row_limit_denies_and_returns_nothing(deployment: Deployment) -> None:
    dep = deployment
    with dep.admin_connect(dep.database(A)) as conn:
        table = sql.Identifier(dep.schema(A), "customers")
        for _ in range(6):
            conn.execute(sql.SQL("INSERT INTO {t} (tenant_id, name) VALUES ('acme', 'dup')").format(t=table))
    try:
        audit = MemoryAuditSink()
        with pytest.raises(RowLimitExceeded):
            session(dep, "support_bot", audit=audit).run("support", "lookup", {"name": "dup"})
        assert audit.records[-1].reason == "row_limit"
    finally:
        admin_rows(dep, A, "DELETE FROM {cus} WHERE name = 'dup' RETURNING id")


def test_update_over_its_row_limit_rolls_back(deployment: Deployment) -> None:
    """alice has two open invoices; flag_customer may touch one: the whole update is rolled back."""
    dep = deployment
    alice = admin_rows(dep, A, "SELECT id FROM {cus} WHERE name = 'alice-acme'")[0][0]
    before = admin_rows(dep, A, "SELECT id, status FROM {inv} ORDER BY id")
    with pytest.raises(RowLimitExceeded):
        session(dep, "collector").run("escalate", "flag_customer", {"customer_id": alice})
    assert admin_rows(dep, A, "SELECT id, status FROM {inv} ORDER BY id") == before


def test_statement_timeout_cancels_and_rolls_back(deployment: Deployment) -> None:
    dep = deployment
    locked = threading.Event()
    release = threading.Event()

    def hold_lock() -> None:
        with psycopg.connect(dep.admin.conninfo(dep.database(A))) as conn:
            conn.execute(
                sql.SQL("LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE").format(t=sql.Identifier(dep.schema(A), "customers"))
            )
            locked.set()
            release.wait(10)
            conn.rollback()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        audit = MemoryAuditSink()
        with pytest.raises(StepTimeout):
            session(dep, "support_bot", audit=audit).run("support", "lookup", {"name": "alice-acme"})
        assert audit.records[-1].reason == "statement_timeout"
    finally:
        release.set()
        holder.join()


def test_approval_tokens(deployment: Deployment) -> None:
    dep = deployment
    customer = admin_rows(dep, A, "SELECT id FROM {cus} WHERE tenant_id = 'acme' ORDER BY id")[0][0]
    authority = ApprovalAuthority(KEY)
    s = session(dep, "support_bot", approvals=authority)
    s.run("support", "lookup", {"name": "alice-acme"})
    invoice = s.run("support", "open_invoice", {"customer_id": customer, "amount_cents": 7}).rows[0]["id"]
    with pytest.raises(ApprovalRequired) as info:
        s.run("void", "void_invoice", {"invoice_id": invoice})
    request = info.value.request
    assert request is not None and request.step == "void_invoice" and request.params_digest.startswith("sha256:")
    with pytest.raises(InvalidApproval, match="malformed"):
        s.run("void", "void_invoice", {"invoice_id": invoice}, approval="forged")
    forged = ApprovalAuthority(b"x" * 32).issue(request, "mallory")
    with pytest.raises(InvalidApproval, match="bad signature"):
        s.run("void", "void_invoice", {"invoice_id": invoice}, approval=forged)
    token = authority.issue(request, "ops@acme")
    with pytest.raises(InvalidApproval, match="different action"):
        s.run("void", "void_invoice", {"invoice_id": invoice + 1}, approval=token)
    assert admin_rows(dep, A, "SELECT count(*) FROM {inv} WHERE id = %s", invoice) == [(1,)]
    assert s.run("void", "void_invoice", {"invoice_id": invoice}, approval=token).row_count == 1
    with pytest.raises(InvalidApproval, match="already used"):
        s.run("void", "void_invoice", {"invoice_id": invoice}, approval=token)
    assert admin_rows(dep, A, "SELECT count(*) FROM {inv} WHERE id = %s", invoice) == [(0,)]
    expired = ApprovalAuthority(KEY, ttl_seconds=-1).issue(request, "ops")
    with pytest.raises(InvalidApproval, match="expired"):
        session(dep, "support_bot", approvals=ApprovalAuthority(KEY)).run(
            "void", "void_invoice", {"invoice_id": invoice}, approval=expired
        )
    no_authority = session(dep, "support_bot")
    with pytest.raises(ApprovalRequired):
        no_authority.run("void", "void_invoice", {"invoice_id": invoice}, approval=token)


def test_rate_and_row_budgets(deployment: Deployment) -> None:
    now = [1000.0]
    s = session(deployment, "support_bot", clock=lambda: now[0])
    for _ in range(20):
        s.run("support", "lookup", {"name": "alice-acme"})
    with pytest.raises(BudgetExceeded) as info:
        s.run("support", "lookup", {"name": "alice-acme"})
    assert info.value.reason == "rate_limit"
    now[0] += 61
    s.run("support", "lookup", {"name": "alice-acme"})
    agent = deployment.policy.agent("support_bot")
    tight = agent.model_copy(update={"budgets": agent.budgets.model_copy(update={"rows_per_session": 2})})
    policy = deployment.policy.model_copy(update={"agents": (deployment.policy.agent("collector"), tight)})
    t = AgentSession(
        deployment.engine(A), TenantContext(tenant=A, isolation=deployment.isolation), tight, policy=policy
    )
    t.run("support", "lookup", {"name": "alice-acme"})
    t.run("support", "lookup", {"name": "bob-acme"})
    with pytest.raises(BudgetExceeded) as info:
        t.run("support", "lookup", {"name": "alice-acme"})
    assert info.value.reason == "row_budget"


def test_cost_budget(deployment: Deployment) -> None:
    policy = deployment.policy
    workflow = policy.workflow("support")
    steps = tuple(s.model_copy(update={"max_cost": 0.01}) if s.name == "lookup" else s for s in workflow.steps)
    cheap = policy.model_copy(
        update={
            "workflows": tuple(
                w.model_copy(update={"steps": steps}) if w.name == "support" else w for w in policy.workflows
            )
        }
    )
    s = AgentSession(
        deployment.engine(A), TenantContext(tenant=A, isolation=deployment.isolation), "support_bot", policy=cheap
    )
    with pytest.raises(BudgetExceeded) as info:
        s.run("support", "lookup", {"name": "alice-acme"})
    assert info.value.reason == "cost"


def test_audit_table_records_without_values(deployment: Deployment) -> None:
    dep = deployment
    engine = dep.engine(A)
    sink = TableAuditSink(engine)
    s = session(dep, "support_bot", audit=sink, audit_key=b"audit-key")
    secret_name = "alice-acme"
    s.run("support", "lookup", {"name": secret_name})
    with pytest.raises(AccessDenied):
        s.run("void", "void_invoice", {"invoice_id": 424242})  # needs approval: denied
    rows = admin_rows(
        dep,
        A,
        "SELECT agent, tenant, workflow, step, sql_hash, params_digest, row_count, decision, reason"
        " FROM acl.audit_log WHERE agent = 'support_bot' ORDER BY at DESC LIMIT 2",
    )
    assert [r[7] for r in rows] == ["denied", "allowed"]
    allowed = rows[1]
    assert allowed[:4] == ("support_bot", A, "support", "lookup") and allowed[6] == 1
    assert allowed[4] == s.compiled("support", "lookup").sql_hash
    assert allowed[5].startswith("hmac-sha256:")
    for row in rows:
        assert secret_name not in repr(row) and "424242" not in repr(row)
        assert dep.app_password not in repr(row)


def test_audit_survives_nothing_on_failure(deployment: Deployment) -> None:
    """A failing step leaves only the denial/failure record: the allowed record is in the rolled-back tx."""
    dep = deployment
    sink = TableAuditSink(dep.engine(A))
    s = session(dep, "support_bot", audit=sink)
    s.run("support", "lookup", {"name": "alice-acme"})
    with pytest.raises(StepFailed):
        s.run("support", "open_invoice", {"customer_id": 99999999, "amount_cents": 1})
    rows = admin_rows(
        dep,
        A,
        "SELECT decision, reason, row_count FROM acl.audit_log WHERE step = 'open_invoice' ORDER BY at DESC LIMIT 1",
    )
    assert rows == [("failed", "step_failed", 0)]


def test_wrong_database_is_refused(deployment: Deployment) -> None:
    """An engine pointing at another database (silo: the other tenant's) is refused before any step runs."""
    dep = deployment
    wrong = dep.database(B) if dep.isolation is Isolation.SILO else "postgres"
    url = dep.admin.url(wrong, user=dep.names.app, password=dep.app_password)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        s = AgentSession(engine, TenantContext(tenant=A, isolation=dep.isolation), "support_bot", policy=dep.policy)
        with pytest.raises((PlacementError, AccessDenied)):
            s.run("support", "lookup", {"name": "alice-acme"})
    finally:
        engine.dispose()


def test_session_refuses_an_elevated_agent_role(deployment: Deployment) -> None:
    dep = deployment
    role = dep.names.agent_role(A, "support_bot")
    with dep.admin_connect("postgres") as conn:
        conn.execute(sql.SQL("ALTER ROLE {r} BYPASSRLS").format(r=sql.Identifier(role)))
    try:
        with pytest.raises(PlacementError, match="bypasses RLS"):
            session(dep, "support_bot").run("support", "lookup", {"name": "alice-acme"})
    finally:
        with dep.admin_connect("postgres") as conn:
            conn.execute(sql.SQL("ALTER ROLE {r} NOBYPASSRLS").format(r=sql.Identifier(role)))


def test_engine_type(deployment: Deployment) -> None:
    assert isinstance(deployment.engine(A), sa.Engine)
