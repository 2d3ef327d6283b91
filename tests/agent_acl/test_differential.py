"""Differential: the privileges PostgreSQL actually holds equal the declared ACL, no more, no less."""

from __future__ import annotations

import pytest

from agent_acl import Isolation
from tests.agent_acl.conftest import TENANTS, Deployment, actual_privileges, expected_privileges

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("agent", ["collector", "support_bot"])
@pytest.mark.parametrize("tenant", TENANTS)
def test_agent_privileges_equal_the_matrix(deployment: Deployment, tenant: str, agent: str) -> None:
    dep = deployment
    role = dep.names.agent_role(tenant, agent)
    with dep.admin_connect(dep.database(tenant)) as conn:
        actual = actual_privileges(conn, role)
    assert actual == expected_privileges(dep.policy, dep.isolation, tenant, agent)


def test_roles_have_no_elevated_attributes(deployment: Deployment) -> None:
    dep = deployment
    with dep.admin_connect("postgres") as conn:
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls "
            "FROM pg_roles WHERE rolname LIKE %s ORDER BY rolname",
            (dep.policy.name + "__%",),
        ).fetchall()
    assert len(rows) == 3 + len(TENANTS) * (1 + len(dep.policy.agents))
    for name, superuser, inherit, createrole, createdb, replication, bypassrls in rows:
        assert not (superuser or createrole or createdb or replication or bypassrls), name
        assert inherit == (name == dep.names.migrator), name


def test_app_role_holds_only_connect_and_audit_insert(deployment: Deployment) -> None:
    dep = deployment
    app = dep.names.app
    for tenant in TENANTS:
        database = dep.database(tenant)
        with dep.admin_connect(database) as conn:
            actual = actual_privileges(conn, app)
        members = {(None, dep.names.tenant_role(t), None, "MEMBER OF") for t in TENANTS} | {
            (None, dep.names.agent_role(t, a.name), None, "MEMBER OF") for t in TENANTS for a in dep.policy.agents
        }
        connects = {(dep.database(t), None, None, "DATABASE CONNECT") for t in TENANTS}  # a shared catalog
        assert database in {c[0] for c in connects}
        assert (
            actual
            == connects
            | {
                ("acl", None, None, "SCHEMA USAGE"),
                ("acl", "audit_log", None, "INSERT"),
            }
            | members
        )


def test_public_holds_nothing_on_our_objects(deployment: Deployment) -> None:
    dep = deployment
    for tenant in TENANTS:
        with dep.admin_connect(dep.database(tenant)) as conn:
            rows = conn.execute(
                "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,"
                " aclexplode(c.relacl) a WHERE a.grantee = 0 AND n.nspname IN (%s, 'acl')"
                " UNION ALL SELECT nspname, NULL FROM pg_namespace, aclexplode(nspacl) a"
                " WHERE a.grantee = 0 AND nspname IN (%s, 'acl', 'public')"
                " UNION ALL SELECT datname, a.privilege_type FROM pg_database, aclexplode(datacl) a"
                " WHERE a.grantee = 0 AND datname = current_database()",
                (dep.schema(tenant), dep.schema(tenant)),
            ).fetchall()
            assert rows == []


def test_pooled_tables_force_rls(deployment: Deployment) -> None:
    dep = deployment
    with dep.admin_connect(dep.database(TENANTS[0])) as conn:
        rows = dict(
            conn.execute(
                "SELECT c.relname, (c.relrowsecurity AND c.relforcerowsecurity) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                (dep.schema(TENANTS[0]),),
            ).fetchall()
        )
    expected = {t.name: dep.isolation is Isolation.POOLED and t.tenant_scoped for t in dep.policy.data.tables}
    assert rows == expected
