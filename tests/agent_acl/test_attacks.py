"""The attack list of issue 5, against the real PostgreSQL, for silo, bridge and pooled.

An agent of tenant ``acme`` logs in as its own database role (so ``RESET ROLE`` cannot fall back to anything
stronger) and tries to read or write tenant ``globex``'s rows, escalate, or escape. Every attempt must be
refused by PostgreSQL: an error, or (for settings PostgreSQL allows but the policy ignores) no foreign row.
Each test also checks the positive case where it makes sense, so a test that refuses everything fails.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors, sql

from agent_acl import AgentSession, Isolation, TenantContext
from tests.agent_acl.conftest import Deployment

pytestmark = pytest.mark.postgres

A, B = "acme", "globex"


def refused(
    conn: psycopg.Connection, statement: sql.Composable | str, params: tuple[object, ...] = ()
) -> type[Exception]:
    """Run ``statement``; it must fail. Returns the error class."""
    with pytest.raises(psycopg.Error) as info:
        conn.execute(statement, params or None)  # type: ignore[arg-type]
    return type(info.value)


def invoices(dep: Deployment, tenant: str) -> sql.Identifier:
    return sql.Identifier(dep.schema(tenant), "invoices")


def customers(dep: Deployment, tenant: str) -> sql.Identifier:
    return sql.Identifier(dep.schema(tenant), "customers")


def visible_tenants(conn: psycopg.Connection, dep: Deployment) -> set[str]:
    rows = conn.execute(sql.SQL("SELECT DISTINCT tenant_id FROM {t}").format(t=invoices(dep, A))).fetchall()
    return {r[0] for r in rows}


def count_rows(dep: Deployment, tenant: str) -> int:
    with dep.admin_connect(dep.database(tenant)) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {t} WHERE tenant_id = %s").format(t=invoices(dep, tenant)), (tenant,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_own_rows_are_reachable(deployment: Deployment) -> None:
    """The positive control: the agent's own role can read its declared columns of its own tenant."""
    with deployment.connect_as_agent(A, "collector") as conn:
        assert visible_tenants(conn, deployment) == {A}
        assert conn.execute("SELECT current_user").fetchone() == (deployment.names.agent_role(A, "collector"),)


def test_set_app_tenant_id_opens_nothing(deployment: Deployment) -> None:
    with deployment.connect_as_agent(A, "collector") as conn:
        conn.execute("SET app.tenant_id = 'globex'")
        conn.execute("SELECT set_config('app.tenant_id', 'globex', false)")
        assert visible_tenants(conn, deployment) == {A}
        rows = conn.execute(
            sql.SQL("SELECT id FROM {t} WHERE tenant_id = 'globex'").format(t=invoices(deployment, A))
        ).fetchall()
        assert rows == []


def test_cross_tenant_objects_are_unreachable(deployment: Deployment) -> None:
    dep = deployment
    if dep.isolation is Isolation.SILO:
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            dep.connect_as_agent(A, "collector", database=dep.database(B))
        return
    with dep.connect_as_agent(A, "collector") as conn:
        if dep.isolation is Isolation.BRIDGE:
            assert (
                refused(conn, sql.SQL("SELECT id FROM {t}").format(t=invoices(dep, B))) is errors.InsufficientPrivilege
            )
        else:
            assert conn.execute(
                sql.SQL("SELECT count(*) FROM {t} WHERE tenant_id = %s").format(t=invoices(dep, A)), (B,)
            ).fetchone() == (0,)


@pytest.mark.parametrize(
    "statement",
    [
        "SET ROLE {other_agent}",
        "SET ROLE {other_tenant}",
        "SET ROLE {owner}",
        "SET ROLE {app}",
        "SET ROLE postgres",
        "SET SESSION AUTHORIZATION {other_agent}",
        "SET SESSION AUTHORIZATION postgres",
    ],
)
def test_role_switching_is_refused(deployment: Deployment, statement: str) -> None:
    names = deployment.names
    composed = sql.SQL(statement).format(  # type: ignore[arg-type]
        other_agent=sql.Identifier(names.agent_role(B, "collector")),
        other_tenant=sql.Identifier(names.tenant_role(B)),
        owner=sql.Identifier(names.owner),
        app=sql.Identifier(names.app),
    )
    with deployment.connect_as_agent(A, "collector") as conn:
        assert refused(conn, composed) is errors.InsufficientPrivilege
        assert (
            refused(
                conn,
                sql.SQL("SELECT set_config('role', {r}, false)").format(
                    r=sql.Literal(names.agent_role(B, "collector"))
                ),
            )
            is errors.InsufficientPrivilege
        )


def test_reset_role_stays_the_agent(deployment: Deployment) -> None:
    with deployment.connect_as_agent(A, "collector") as conn:
        conn.execute("RESET ROLE")
        conn.execute("RESET SESSION AUTHORIZATION")
        conn.execute("RESET ALL")
        assert (
            conn.execute("SELECT current_user, session_user").fetchone()
            == (deployment.names.agent_role(A, "collector"),) * 2
        )
        assert visible_tenants(conn, deployment) == {A}


def test_app_role_holds_no_data_privilege(deployment: Deployment) -> None:
    """What RESET ROLE returns to inside an AgentSession transaction: the app role, which can read no data."""
    dep = deployment
    with dep.engine(A).connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            raw.execute(sql.SQL("SELECT id FROM {t}").format(t=invoices(dep, A)))


@pytest.mark.parametrize(
    ("agent", "column"),
    [("collector", "email"), ("collector", "api_token"), ("support_bot", "api_token"), ("collector", "note")],
)
def test_masked_columns_cannot_be_selected(deployment: Deployment, agent: str, column: str) -> None:
    dep = deployment
    table = customers(dep, A) if column in ("email", "api_token") else invoices(dep, A)
    with dep.connect_as_agent(A, agent) as conn:
        assert refused(conn, sql.SQL("SELECT {c} FROM {t}").format(c=sql.Identifier(column), t=table)) is (
            errors.InsufficientPrivilege
        )
        assert refused(conn, sql.SQL("SELECT * FROM {t}").format(t=table)) is errors.InsufficientPrivilege
        assert refused(conn, sql.SQL("SELECT t FROM {t} AS t").format(t=table)) is errors.InsufficientPrivilege
        # and an oracle through WHERE is refused too
        assert (
            refused(
                conn,
                sql.SQL("SELECT count(*) FROM {t} WHERE {c} IS NOT NULL").format(c=sql.Identifier(column), t=table),
            )
            is errors.InsufficientPrivilege
        )


@pytest.mark.parametrize(
    "statement",
    [
        "COPY (SELECT 1) TO PROGRAM 'id > /tmp/agent_acl_pwned'",
        "COPY {inv} TO PROGRAM 'cat > /tmp/agent_acl_pwned'",
        "COPY {inv} (id) TO '/tmp/agent_acl_pwned'",
        "COPY {inv} (id) FROM '/etc/hostname'",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_read_binary_file('/etc/passwd')",
        "SELECT pg_ls_dir('.')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT id INTO {stolen} FROM {inv}",
        "SELECT id INTO public.stolen FROM {inv}",
        "SELECT id INTO TEMP stolen FROM {inv}",
        "CREATE TABLE {stolen} AS SELECT id FROM {inv}",
        "CREATE TEMP TABLE stolen (id int)",
        "TRUNCATE {inv}",
        "DROP TABLE {inv}",
        "DROP SCHEMA {schema} CASCADE",
        "ALTER TABLE {inv} DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE {inv} NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON {inv}",
        "CREATE VIEW {view} AS SELECT * FROM {inv}",
        "CREATE TEMP VIEW v AS SELECT id FROM {inv}",
        "CREATE FUNCTION {func}() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM {inv_text}'",
        "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE SCHEMA evil",
        "GRANT SELECT ON {inv} TO PUBLIC",
        "UPDATE {inv} SET tenant_id = 'globex'",
        "UPDATE {inv} SET amount_cents = 0",
        "DELETE FROM {inv}",
        "INSERT INTO {inv} (tenant_id, customer_id, amount_cents) VALUES ('globex', 1, 1)",
        "INSERT INTO acl.tenant_roles VALUES (current_user, 'globex')",
        "UPDATE acl.tenant_roles SET tenant_id = 'globex'",
        "INSERT INTO acl.audit_log (agent, tenant, workflow, step, sql_hash, params_digest, row_count, decision,"
        " reason) VALUES ('x','x','x','x','x','x',0,'allowed','forged')",
        "SELECT * FROM acl.audit_log",
        "ALTER ROLE CURRENT_USER BYPASSRLS",
        "CREATE EXTENSION dblink SCHEMA {schema}",
        "LOAD 'auto_explain'",
    ],
)
def test_escapes_are_refused(deployment: Deployment, statement: str) -> None:
    dep = deployment
    schema = dep.schema(A)
    text = sql.SQL(statement).format(  # type: ignore[arg-type]
        inv=invoices(dep, A),
        inv_text=sql.SQL(sql.Identifier(schema, "invoices").as_string(None).replace('"', "")),  # type: ignore[arg-type]
        stolen=sql.Identifier(schema, "stolen"),
        view=sql.Identifier(schema, "v"),
        func=sql.Identifier(schema, "f"),
        schema=sql.Identifier(schema),
    )
    before = count_rows(dep, A), count_rows(dep, B)
    with dep.connect_as_agent(A, "collector") as conn:
        error = refused(conn, text)
    expected: tuple[type[Exception], ...] = (errors.InsufficientPrivilege,)
    if statement.startswith("DROP POLICY") and dep.isolation is not Isolation.POOLED:
        expected = (errors.InsufficientPrivilege, errors.UndefinedObject)  # no policy there to drop
    if "acl.tenant_roles" in statement and dep.isolation is not Isolation.POOLED:
        expected = (errors.UndefinedTable,)  # the row guard needs USAGE on acl; the mapping is pooled-only
    assert issubclass(error, expected), error
    assert (count_rows(dep, A), count_rows(dep, B)) == before


def test_statement_timeout_is_the_roles(deployment: Deployment) -> None:
    with deployment.connect_as_agent(A, "support_bot") as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("1s",)
        assert refused(conn, "SELECT pg_sleep(3)") is errors.QueryCanceled


def test_role_timeout_is_only_a_default_for_raw_sessions(deployment: Deployment) -> None:
    """A known PostgreSQL limit, pinned so it stays visible: any role may SET its own statement_timeout (and
    ALTER ROLE ... SET it for itself). The role default is a floor for honest clients; the enforced budget is
    the ``SET LOCAL`` that AgentSession issues per step, and agents get no raw SQL (their roles are NOLOGIN)."""
    with deployment.connect_as_agent(A, "support_bot") as conn:
        conn.execute("SET statement_timeout = 0")
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)


@pytest.mark.parametrize(
    "payload",
    [
        "x' UNION SELECT id, api_token, email FROM data.customers --",
        "x'; DROP TABLE data.invoices; --",
        "alice-acme' OR '1'='1",
        'alice-acme"; SET ROLE postgres; --',
        "') OR tenant_id = 'globex' --",
    ],
)
def test_injection_through_a_text_parameter(deployment: Deployment, payload: str) -> None:
    dep = deployment
    session = AgentSession(
        dep.engine(A), TenantContext(tenant=A, isolation=dep.isolation), "support_bot", policy=dep.policy
    )
    before = count_rows(dep, A), count_rows(dep, B)
    result = session.run("support", "lookup", {"name": payload})
    assert result.rows == ()
    assert (count_rows(dep, A), count_rows(dep, B)) == before
    assert session.run("support", "lookup", {"name": "alice-acme"}).row_count == 1  # the control


def test_raw_injection_with_a_bound_parameter_is_data(deployment: Deployment) -> None:
    """Even with raw SQL, a bound parameter is one value: no second statement, no UNION."""
    dep = deployment
    with dep.connect_as_agent(A, "support_bot") as conn:
        rows = conn.execute(
            sql.SQL("SELECT id FROM {t} WHERE name = %s").format(t=customers(dep, A)),
            ("x'; DROP TABLE data.invoices; --",),
        ).fetchall()
        assert rows == []
        assert refused(conn, sql.SQL("SELECT id FROM {t}; SELECT api_token FROM {t}").format(t=customers(dep, A))) is (
            errors.InsufficientPrivilege
        )
