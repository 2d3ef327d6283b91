"""AgentSession costs one round trip per call, with a durable audit row: counted on the wire.

libpq's protocol trace records every frontend (F) and backend (B) message of the session's pooled connection.
A round trip is a run of frontend messages answered by backend ones, so the count is what the client really
waited for, whatever psycopg or SQLAlchemy do underneath.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import pq

from agent_acl import AgentSession, MemoryAuditSink, TableAuditSink, TenantContext
from tests.agent_acl.conftest import Deployment

pytestmark = pytest.mark.postgres

A = "acme"
MESSAGE = re.compile(r"^([FB])\t\d+\t(\w+)")
PARSED = re.compile(r'^F\t\d+\tParse\t "[^"]*" "([^"]*)')
ROLE = "SELECT set_config('role',"
AUDITED = ["RESET ROLE", "INSERT INTO", "COMMIT"]
STEP_CTE = "WITH acl__step"  # every step runs inside its row guard


def round_trips(trace: str) -> list[list[str]]:
    """The statements (first word of each parsed query) sent in each round trip of a libpq trace."""
    trips: list[list[str]] = []
    previous = ""
    for line in trace.splitlines():
        message = MESSAGE.match(line)
        if message is None:  # the rest of a multi-line query text
            continue
        direction = message.group(1)
        if direction == "F" and previous != "F":
            trips.append([])
        if parsed := PARSED.match(line):
            trips[-1].append(" ".join(parsed.group(1).split()[:2]))
        previous = direction
    return trips


@contextmanager
def traced(engine: sa.Engine, path: Path) -> Iterator[list[list[list[str]]]]:
    """Trace every checkout of ``engine``; yields a list that gets one entry (its round trips) per checkout."""
    checkouts: list[list[list[str]]] = []
    with path.open("w") as out:

        def start(dbapi_connection: psycopg.Connection[Any], *_: object) -> None:
            out.truncate(0)
            out.seek(0)
            dbapi_connection.pgconn.trace(out.fileno())
            dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

        def stop(dbapi_connection: psycopg.Connection[Any], *_: object) -> None:
            dbapi_connection.pgconn.untrace()
            out.flush()
            checkouts.append(round_trips(path.read_text()))

        sa.event.listen(engine, "checkout", start)
        sa.event.listen(engine, "checkin", stop)
        try:
            yield checkouts
        finally:
            sa.event.remove(engine, "checkout", start)
            sa.event.remove(engine, "checkin", stop)


@pytest.fixture
def fresh_engine(deployment: Deployment) -> Iterator[sa.Engine]:
    """The app login to acme's database on a new pool: no statement is server-side prepared yet."""
    url = deployment.admin.url(deployment.database(A), user=deployment.names.app, password=deployment.app_password)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    yield engine
    engine.dispose()


def test_a_call_is_one_round_trip_with_a_durable_audit_row(
    deployment: Deployment, fresh_engine: sa.Engine, tmp_path: Path
) -> None:
    dep = deployment
    session = AgentSession(
        fresh_engine,
        TenantContext(tenant=A, isolation=dep.isolation),
        "support_bot",
        policy=dep.policy,
        audit=TableAuditSink(fresh_engine),
    )
    with traced(fresh_engine, tmp_path / "trace") as checkouts:
        session.run("support", "lookup", {"name": "alice-acme"})  # first call: adds the placement check
        session.run("support", "lookup", {"name": "alice-acme"})
        customer = session.run("support", "lookup", {"name": "bob-acme"}).rows[0]["id"]
        opened = session.run("support", "open_invoice", {"customer_id": customer, "amount_cents": 31})
    first, *lookups, insert = checkouts
    assert first == [["BEGIN", ROLE, "SELECT current_database(),"], [STEP_CTE, *AUDITED]]
    assert lookups == [[["BEGIN", ROLE, STEP_CTE, *AUDITED]]] * 2
    assert insert == [["BEGIN", ROLE, STEP_CTE, *AUDITED]]
    with dep.admin_connect(dep.database(A)) as conn:
        rows = conn.execute(
            "SELECT step, decision, row_count FROM acl.audit_log WHERE agent = 'support_bot' ORDER BY at DESC LIMIT 2"
        ).fetchall()
        assert rows == [("open_invoice", "allowed", 1), ("lookup", "allowed", 1)]
        schema = psycopg.sql.Identifier(dep.schema(A), "invoices")
        conn.execute(psycopg.sql.SQL("DELETE FROM {t} WHERE id = %s").format(t=schema), (opened.rows[0]["id"],))


def test_memory_audit_costs_no_statement(deployment: Deployment, fresh_engine: sa.Engine, tmp_path: Path) -> None:
    """With the in-memory audit the one trip ends [RESET ROLE, COMMIT]."""
    dep = deployment
    audit = MemoryAuditSink()
    session = AgentSession(
        fresh_engine, TenantContext(tenant=A, isolation=dep.isolation), "support_bot", policy=dep.policy, audit=audit
    )
    session.run("support", "lookup", {"name": "alice-acme"})
    with traced(fresh_engine, tmp_path / "trace") as checkouts:
        session.run("support", "lookup", {"name": "alice-acme"})
    assert checkouts == [[["BEGIN", ROLE, STEP_CTE, "RESET ROLE", "COMMIT"]]]
    assert [r.decision.value for r in audit.records] == ["allowed", "allowed"]


def test_a_steps_statement_runs_on_a_cached_plan(deployment: Deployment, fresh_engine: sa.Engine) -> None:
    """Once psycopg has prepared the step's statement, PostgreSQL plans it once and reuses the plan, instead of
    planning it again (row-level security's sub-select included) on every call."""
    dep = deployment
    session = AgentSession(
        fresh_engine,
        TenantContext(tenant=A, isolation=dep.isolation),
        "support_bot",
        policy=dep.policy,
        audit=MemoryAuditSink(),
    )
    for _ in range(9):
        assert session.run("support", "lookup", {"name": "alice-acme"}).rows
    with fresh_engine.connect() as conn:
        plans = conn.exec_driver_sql(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE starts_with(statement, 'WITH acl__step')"
        ).all()
    assert len(plans) == 1 and plans[0][0] >= 3 and plans[0][1] == 0, plans
