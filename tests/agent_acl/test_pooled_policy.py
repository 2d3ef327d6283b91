"""The pooled tenant policy's form, on the real PostgreSQL: it fails closed and stays one cheap InitPlan.

The policy reads the caller's row of ``acl.tenant_roles`` in a sub-select written into the policy itself
(:func:`agent_acl.ddl.current_tenant`). These tests pin what that form must keep: a role the mapping does not
name sees and writes nothing (never everything), the mapping alone decides the tenant, and the policy calls no
function a search path could redirect and runs once per statement, not once per row.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors, sql

from tests.agent_acl.conftest import Deployment

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("deployment", ["pooled"], indirect=True)]

A, B = "acme", "globex"
STRAY = "stray_role_without_mapping"


def invoices(dep: Deployment) -> sql.Identifier:
    return sql.Identifier(dep.schema(A), "invoices")


def as_stray(conn: psycopg.Connection, dep: Deployment) -> None:
    """In the open transaction: a role with every grant an agent has on invoices, but no mapping row."""
    conn.execute(sql.SQL("CREATE ROLE {r}").format(r=sql.Identifier(STRAY)))
    for statement in (
        "GRANT USAGE ON SCHEMA {data}, {ctl} TO {r}",
        "GRANT SELECT, INSERT ON {inv} TO {r}",
        "GRANT SELECT ON {ctl}.tenant_roles TO {r}",
        "SET LOCAL ROLE {r}",
    ):
        conn.execute(
            sql.SQL(statement).format(
                data=sql.Identifier(dep.schema(A)),
                ctl=sql.Identifier(dep.names.control_schema),
                inv=invoices(dep),
                r=sql.Identifier(STRAY),
            )
        )


def visible(conn: psycopg.Connection, dep: Deployment) -> list[tuple[str, int]]:
    query = sql.SQL("SELECT tenant_id, count(*) FROM {t} GROUP BY tenant_id ORDER BY tenant_id")
    return [(r[0], r[1]) for r in conn.execute(query.format(t=invoices(dep))).fetchall()]


def test_a_role_without_a_mapping_row_sees_and_writes_nothing(deployment: Deployment) -> None:
    dep = deployment
    with dep.admin_connect(dep.database(A)) as conn, conn.transaction(force_rollback=True):
        everything = visible(conn, dep)
        assert {tenant for tenant, _ in everything} == {A, B}
        as_stray(conn, dep)
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (A,))
        assert visible(conn, dep) == []
        by_tenant = sql.SQL("SELECT id FROM {t} WHERE tenant_id = %s").format(t=invoices(dep))
        assert conn.execute(by_tenant, (A,)).fetchall() == []
        insert = sql.SQL("INSERT INTO {t} (tenant_id, customer_id, amount_cents) VALUES (%s, 1001, 1)")
        with pytest.raises(errors.InsufficientPrivilege, match="row-level security"), conn.transaction():
            conn.execute(insert.format(t=invoices(dep)), (A,))
        conn.execute("RESET ROLE")
        mapping = sql.Identifier(dep.names.control_schema, "tenant_roles")
        conn.execute(sql.SQL("INSERT INTO {m} VALUES (%s, %s)").format(m=mapping), (STRAY, B))
        conn.execute(sql.SQL("SET LOCAL ROLE {r}").format(r=sql.Identifier(STRAY)))
        assert visible(conn, dep) == [(B, dict(everything)[B])]  # the control: the mapping alone opens rows


def test_the_policy_calls_no_function_and_runs_once_per_statement(deployment: Deployment) -> None:
    dep = deployment
    with dep.admin_connect(dep.database(A)) as conn:
        depends = conn.execute(
            "SELECT DISTINCT c.relname, d.refclassid::regclass::text,"
            " CASE WHEN d.refclassid = 'pg_class'::regclass THEN d.refobjid::regclass::text END"
            " FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
            " JOIN pg_depend d ON d.classid = 'pg_policy'::regclass AND d.objid = p.oid"
            " WHERE c.relnamespace = %s::regnamespace AND d.refobjid <> p.polrelid ORDER BY 1, 2, 3",
            (dep.schema(A),),
        ).fetchall()
    mapping = f"{dep.names.control_schema}.tenant_roles"
    scoped = sorted(t.name for t in dep.policy.data.tables if t.tenant_scoped)
    assert depends == [(table, "pg_class", mapping) for table in scoped]
    with dep.connect_as_agent(A, "collector") as conn:
        query = sql.SQL("EXPLAIN SELECT tenant_id FROM {t} WHERE id > %s ORDER BY id LIMIT 50")
        plan = "\n".join(r[0] for r in conn.execute(query.format(t=invoices(dep)), (0,)))
    assert "InitPlan" in plan
    assert "SubPlan" not in plan
