"""The row guard on the real PostgreSQL: a refused step commits nothing, the audit row is durable and carries the
step's real row count, and the role never leaks back into the pool.

With one round trip the client sees no row before ``COMMIT`` is sent, so these are the guarantees the
server-side guard (``acl.check_rows``, created by the provisioning plans) must hold on its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import errors, sql

from agent_acl import (
    AgentSession,
    ApprovalAuthority,
    ApprovalRequired,
    BudgetExceeded,
    PlacementError,
    RowLimitExceeded,
    TableAuditSink,
    TenantContext,
)
from agent_acl.naming import ROW_BUDGET_SQLSTATE, ROW_COUNT_SETTING, ROW_LIMIT_SQLSTATE
from tests.agent_acl.conftest import Deployment

pytestmark = pytest.mark.postgres

A = "acme"


@pytest.fixture
def one_connection(deployment: Deployment) -> Iterator[sa.Engine]:
    """The app login on a pool of exactly one connection: every call and check below shares it."""
    dep = deployment
    url = dep.admin.url(dep.database(A), user=dep.names.app, password=dep.app_password)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def durable_session(dep: Deployment, engine: sa.Engine, agent: str, **kw: Any) -> AgentSession:
    context = TenantContext(tenant=A, isolation=dep.isolation)
    return AgentSession(engine, context, agent, policy=dep.policy, audit=TableAuditSink(engine), **kw)


def audit_rows(dep: Deployment, step: str) -> list[tuple[Any, ...]]:
    """The audit log of ``step``, newest first, read by the administrator on its own connection (committed)."""
    with dep.admin_connect(dep.database(A)) as conn:
        return conn.execute(
            "SELECT decision, reason, row_count FROM acl.audit_log WHERE step = %s ORDER BY at DESC", (step,)
        ).fetchall()


def pooled_connection_state(engine: sa.Engine) -> tuple[Any, ...]:
    """What the next user of the pooled connection inherits: its role and the guard's setting (unset or empty)."""
    with engine.connect() as conn:
        return tuple(
            conn.exec_driver_sql(
                "SELECT current_user, session_user, pg_catalog.current_setting(%(s)s, true)", {"s": ROW_COUNT_SETTING}
            ).one()
        )


def open_invoices(dep: Deployment, min_amount: int = 0) -> int:
    """acme's open invoices (other tests of the session-wide deployment may have added some)."""
    with dep.admin_connect(dep.database(A)) as conn:
        query = sql.SQL("SELECT count(*) FROM {t} WHERE tenant_id = 'acme' AND status = 'open' AND amount_cents >= %s")
        row = conn.execute(query.format(t=sql.Identifier(dep.schema(A), "invoices")), (min_amount,)).fetchone()
    assert row is not None
    return int(row[0])


def test_an_over_limit_select_commits_nothing_and_audits_the_refusal(
    deployment: Deployment, one_connection: sa.Engine
) -> None:
    dep = deployment
    customers = sql.Identifier(dep.schema(A), "customers")
    with dep.admin_connect(dep.database(A)) as conn:
        for _ in range(6):  # lookup's row_limit is 5
            conn.execute(sql.SQL("INSERT INTO {t} (tenant_id, name) VALUES ('acme', 'guarded')").format(t=customers))
    try:
        before = audit_rows(dep, "lookup")
        session = durable_session(dep, one_connection, "support_bot")
        with pytest.raises(RowLimitExceeded) as info:
            session.run("support", "lookup", {"name": "guarded"})
        assert info.value.reason == "row_limit"
        assert session.rows_used == 0
        assert audit_rows(dep, "lookup") == [("denied", "row_limit", 0), *before]
        app = dep.names.app
        role, login, setting = pooled_connection_state(one_connection)
        assert (role, login) == (app, app) and setting in ("", None)
        assert session.run("support", "lookup", {"name": "alice-acme"}).row_count == 1
        assert audit_rows(dep, "lookup")[0] == ("allowed", "ok", 1)
    finally:
        with dep.admin_connect(dep.database(A)) as conn:
            conn.execute(sql.SQL("DELETE FROM {t} WHERE name = 'guarded'").format(t=customers))


def test_an_over_limit_update_is_rolled_back_with_its_audit_row(
    deployment: Deployment, one_connection: sa.Engine
) -> None:
    """flag_customer (an UPDATE ... RETURNING in the guard's CTE, row_limit 1) touches alice's two open invoices:
    nothing stays."""
    dep = deployment
    invoices = sql.Identifier(dep.schema(A), "invoices")
    query = sql.SQL("SELECT id, status FROM {t} ORDER BY id").format(t=invoices)
    with dep.admin_connect(dep.database(A)) as conn:
        before = conn.execute(query).fetchall()
        alice = conn.execute(
            sql.SQL("SELECT id FROM {t} WHERE name = 'alice-acme'").format(t=sql.Identifier(dep.schema(A), "customers"))
        ).fetchone()
    assert alice is not None
    session = durable_session(dep, one_connection, "collector")
    with pytest.raises(RowLimitExceeded):
        session.run("escalate", "flag_customer", {"customer_id": alice[0]})
    with dep.admin_connect(dep.database(A)) as conn:
        assert conn.execute(query).fetchall() == before
    assert audit_rows(dep, "flag_customer")[0] == ("denied", "row_limit", 0)
    assert ("allowed", "ok", 2) not in audit_rows(dep, "flag_customer")
    assert pooled_connection_state(one_connection)[0] == dep.names.app


def test_the_audit_row_carries_the_rows_the_step_touched(deployment: Deployment, one_connection: sa.Engine) -> None:
    """A select's count comes from the guard inside the transaction, an empty result's from the role switch."""
    dep = deployment
    expected = open_invoices(dep)
    assert expected >= 3
    session = durable_session(dep, one_connection, "collector")
    found = session.run("collect_overdue", "find_open", {"min_amount": 0})
    assert found.row_count == len(found.rows) == expected
    ids = [row["id"] for row in found.rows]
    assert ids == sorted(ids)  # the select's ORDER BY survives the guard around it
    assert all(
        set(row) == {"id", "customer_id", "amount_cents", "currency", "note", "customers.name", "customers.email"}
        for row in found.rows
    )
    assert audit_rows(dep, "find_open")[0] == ("allowed", "ok", expected)
    none = session.run("collect_overdue", "find_open", {"min_amount": 10**9})
    assert none.row_count == 0 and none.rows == ()
    assert audit_rows(dep, "find_open")[0] == ("allowed", "ok", 0)
    assert session.rows_used == expected


def test_a_delete_without_returning_counts_what_it_touched(deployment: Deployment, one_connection: sa.Engine) -> None:
    """void_invoice returns no column: the guard's single row carries the count, for the result and the audit."""
    dep = deployment
    authority = ApprovalAuthority(b"g" * 32)
    session = durable_session(dep, one_connection, "support_bot", approvals=authority)
    customer = session.run("support", "lookup", {"name": "alice-acme"}).rows[0]["id"]
    invoice = session.run("support", "open_invoice", {"customer_id": customer, "amount_cents": 3}).rows[0]["id"]
    for target, touched in ((invoice, 1), (invoice, 0)):
        with pytest.raises(ApprovalRequired) as info:
            session.run("void", "void_invoice", {"invoice_id": target})
        assert info.value.request is not None
        token = authority.issue(info.value.request, "ops@acme")
        voided = session.run("void", "void_invoice", {"invoice_id": target}, approval=token)
        assert (voided.row_count, voided.rows) == (touched, ())
        assert audit_rows(dep, "void_invoice")[0] == ("allowed", "ok", touched)


def test_the_row_budget_is_checked_by_the_server(deployment: Deployment, one_connection: sa.Engine) -> None:
    """One row fewer left than found: refused before COMMIT, the budget untouched, the refusal audited."""
    dep = deployment
    agent = dep.policy.agent("collector")
    budget = open_invoices(dep) - 1
    tight = agent.model_copy(update={"budgets": agent.budgets.model_copy(update={"rows_per_session": budget})})
    policy = dep.policy.model_copy(update={"agents": (tight, dep.policy.agent("support_bot"))})
    context = TenantContext(tenant=A, isolation=dep.isolation)
    session = AgentSession(one_connection, context, tight, policy=policy, audit=TableAuditSink(one_connection))
    with pytest.raises(BudgetExceeded) as info:
        session.run("collect_overdue", "find_open", {"min_amount": 0})
    assert info.value.reason == "row_budget" and not isinstance(info.value, RowLimitExceeded)
    assert session.rows_used == 0
    assert audit_rows(dep, "find_open")[0] == ("denied", "row_budget", 0)
    assert session.run("collect_overdue", "find_open", {"min_amount": 10**9}).row_count == 0


def test_the_commit_waits_for_the_wal_flush(deployment: Deployment, one_connection: sa.Engine) -> None:
    """Durable means ``synchronous_commit`` on for the app login: the session never turns it off."""
    dep = deployment
    durable_session(dep, one_connection, "support_bot").run("support", "lookup", {"name": "alice-acme"})
    with one_connection.connect() as conn:
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"


@pytest.mark.parametrize(
    ("args", "sqlstate"), [((6, 5, 100), ROW_LIMIT_SQLSTATE), ((3, 5, 2), ROW_BUDGET_SQLSTATE), ((5, 5, 5), None)]
)
def test_check_rows_as_the_agent_role(deployment: Deployment, args: tuple[int, int, int], sqlstate: str | None) -> None:
    """The generated function itself: raises its own SQLSTATE over either bound, else records the count."""
    dep = deployment
    with dep.connect_as_agent(A, "support_bot") as conn:
        if sqlstate is not None:
            with pytest.raises(psycopg.Error) as info:
                conn.execute("SELECT acl.check_rows(%s, %s, %s)", args)
            assert info.value.sqlstate == sqlstate
            return
        conn.autocommit = False
        assert conn.execute("SELECT acl.check_rows(%s, %s, %s)", args).fetchone() == (5,)
        setting = conn.execute("SELECT pg_catalog.current_setting(%s)", (ROW_COUNT_SETTING,)).fetchone()
        assert setting == ("5",)


def test_only_agent_roles_may_run_the_guard(deployment: Deployment) -> None:
    dep = deployment
    info = psycopg.conninfo.make_conninfo(
        dep.admin.conninfo(dep.database(A)), user=dep.names.app, password=dep.app_password
    )
    with psycopg.connect(info, autocommit=True) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute("SELECT acl.check_rows(1, 1, 1)")


def test_a_database_without_the_guard_is_refused_before_any_step(
    deployment: Deployment, one_connection: sa.Engine
) -> None:
    """A database provisioned before the guard existed: the first call's placement check names what is missing."""
    dep = deployment
    rename = "ALTER FUNCTION acl.check_rows(bigint, bigint, bigint) RENAME TO {}"
    with dep.admin_connect(dep.database(A)) as conn:
        conn.execute(sql.SQL(rename).format(sql.Identifier("check_rows_away")))
    try:
        with pytest.raises(PlacementError, match="row guard"):
            durable_session(dep, one_connection, "support_bot").run("support", "lookup", {"name": "alice-acme"})
    finally:
        with dep.admin_connect(dep.database(A)) as conn:
            conn.execute("ALTER FUNCTION acl.check_rows_away(bigint, bigint, bigint) RENAME TO check_rows")
    again = durable_session(dep, one_connection, "support_bot")
    assert again.run("support", "lookup", {"name": "alice-acme"}).row_count == 1
