"""Tenant isolation on each topology, provisioned by the real engine and attacked with raw SQL.

Every attack logs in with tenant A's own generated credentials (from the stack's secret outputs) and tries
to read or write tenant B's data. PostgreSQL itself must refuse: GRANTs, CONNECT privileges and forced
row-level security, not the application.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors

from tests.engine.conftest import Project, ProjectFactory

pytestmark = [pytest.mark.engine, pytest.mark.postgres]

TENANTS = [
    {"slug": "acme", "name": "Acme", "plan": "enterprise"},
    {"slug": "wayne", "name": "Wayne", "plan": "enterprise"},
    {"slug": "globex", "name": "Globex", "plan": "growth"},
    {"slug": "hooli", "name": "Hooli", "plan": "growth"},
    {"slug": "initech", "name": "Initech", "plan": "starter"},
    {"slug": "umbrella", "name": "Umbrella", "plan": "starter"},
]
WHERE = {
    "acme": ("d_acme", "app"),
    "wayne": ("d_wayne", "app"),
    "globex": ("paybill", "s_globex"),
    "hooli": ("paybill", "s_hooli"),
    "initech": ("paybill", "pooled"),
    "umbrella": ("paybill", "pooled"),
}
DENIED = (errors.InsufficientPrivilege, errors.InvalidAuthorizationSpecification)


@pytest.fixture(scope="module")
def fleet(make_module_project: ProjectFactory) -> Iterator[Project]:
    project = make_module_project(TENANTS)
    project.fleet.up()
    for slug, (db, schema) in WHERE.items():
        project.query(
            f'INSERT INTO "{schema}".customers (tenant_id, name, email) VALUES (%s, %s, %s)',
            slug,
            f"{slug}-customer",
            f"ceo@{slug}.example",
            dbname=db,
        )
    yield project
    project.fleet.destroy()


def connect(fleet: Project, slug: str, dbname: str | None = None) -> psycopg.Connection[Any]:
    admin = fleet.admin()
    db = dbname or WHERE[slug][0]
    return psycopg.connect(admin.url(db, user=f"r_{slug}", password=fleet.credentials()[slug]), autocommit=True)


def refused(conn: psycopg.Connection[Any], statement: str, *params: object) -> None:
    with pytest.raises(psycopg.Error) as info:
        conn.execute(statement, params or None)
    assert isinstance(info.value, (*DENIED, errors.UndefinedTable, errors.InvalidSchemaName)), info.value


def names(conn: psycopg.Connection[Any], table: str) -> set[str]:
    return {r[0] for r in conn.execute(f"SELECT name FROM {table}").fetchall()}


@pytest.mark.parametrize(("attacker", "victim"), [("acme", "wayne"), ("globex", "hooli"), ("initech", "umbrella")])
def test_no_tenant_can_log_into_another_tenants_database(fleet: Project, attacker: str, victim: str) -> None:
    if WHERE[victim][0] != WHERE[attacker][0]:
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            connect(fleet, attacker, WHERE[victim][0])
    admin = fleet.admin()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(admin.url(WHERE[victim][0], user=f"r_{victim}", password=fleet.credentials()[attacker]))


def test_silo_tenant_is_confined_to_its_own_database(fleet: Project) -> None:
    with connect(fleet, "acme") as conn:
        assert names(conn, "app.customers") == {"acme-customer"}
        refused(conn, "SET ROLE r_wayne")
        refused(conn, "SET SESSION AUTHORIZATION r_wayne")
        refused(conn, "CREATE EXTENSION dblink")
        refused(conn, "COPY app.customers TO PROGRAM 'cat > /tmp/x'")
        refused(conn, "SELECT pg_read_file('/etc/passwd')")
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        connect(fleet, "acme", "paybill")


def test_bridge_tenant_cannot_reach_another_schema_or_the_pool(fleet: Project) -> None:
    with connect(fleet, "globex") as conn:
        assert names(conn, "s_globex.customers") == {"globex-customer"}
        refused(conn, "SELECT * FROM s_hooli.customers")
        refused(conn, "INSERT INTO s_hooli.customers (tenant_id, name) VALUES ('hooli', 'x')")
        conn.execute("SET search_path = s_hooli")
        refused(conn, "SELECT * FROM customers")
        refused(conn, "SELECT * FROM pooled.customers")
        refused(conn, "SELECT * FROM paybill.tenant_roles")
        refused(conn, "SET ROLE r_hooli")
        refused(conn, "CREATE SCHEMA sneaky")
        refused(conn, "ALTER SCHEMA s_hooli OWNER TO r_globex")
    with connect(fleet, "hooli") as conn:
        assert names(conn, "s_hooli.customers") == {"hooli-customer"}


def test_pooled_tenant_sees_and_changes_only_its_rows(fleet: Project) -> None:
    with connect(fleet, "initech") as conn:
        assert names(conn, "pooled.customers") == {"initech-customer"}
        conn.execute("SET app.tenant_id = 'umbrella'")
        assert names(conn, "pooled.customers") == {"initech-customer"}
        refused(conn, "INSERT INTO pooled.customers (tenant_id, name) VALUES ('umbrella', 'planted')")
        assert conn.execute("UPDATE pooled.customers SET name = 'x' WHERE tenant_id = 'umbrella'").rowcount == 0
        assert conn.execute("DELETE FROM pooled.customers WHERE tenant_id = 'umbrella'").rowcount == 0
        assert conn.execute("SELECT tenant_id FROM paybill.tenant_roles").fetchall() == [("initech",)]
        refused(conn, "UPDATE paybill.tenant_roles SET tenant_id = 'umbrella'")
        refused(conn, "INSERT INTO paybill.tenant_roles VALUES ('r_initech', 'umbrella')")
        refused(conn, "SET ROLE r_umbrella")
        refused(conn, "SET SESSION AUTHORIZATION r_umbrella")
        refused(conn, "ALTER TABLE pooled.customers DISABLE ROW LEVEL SECURITY")
        refused(conn, "DROP POLICY tenant_isolation ON pooled.customers")
        refused(conn, "CREATE VIEW pooled.leak AS SELECT * FROM pooled.customers")
        refused(conn, "SELECT * FROM s_globex.customers")
        refused(conn, "TRUNCATE pooled.customers")
        conn.execute("RESET ROLE")
        assert names(conn, "pooled.customers") == {"initech-customer"}
    with connect(fleet, "umbrella") as conn:
        assert names(conn, "pooled.customers") == {"umbrella-customer"}
    assert fleet.query("SELECT count(*) FROM pooled.customers", dbname="paybill") == [(2,)]


def test_pooled_foreign_keys_cannot_point_across_tenants(fleet: Project) -> None:
    umbrella_id = fleet.query("SELECT id FROM pooled.customers WHERE tenant_id = 'umbrella'", dbname="paybill")[0][0]
    with connect(fleet, "initech") as conn, pytest.raises(psycopg.Error) as info:
        conn.execute(
            "INSERT INTO pooled.invoices (tenant_id, customer_id, amount_cents) VALUES ('initech', %s, 1)",
            (umbrella_id,),
        )
    assert isinstance(info.value, errors.ForeignKeyViolation)


def test_every_tenant_login_searches_only_its_own_schema(fleet: Project) -> None:
    """Issue 10: ``pg_catalog`` then the tenant's own schema, no ``"$user"`` and no ``public``."""
    for slug, (_, schema) in WHERE.items():
        with connect(fleet, slug) as conn:
            assert conn.execute("SHOW search_path").fetchone() == (f"pg_catalog, {schema}",), slug
