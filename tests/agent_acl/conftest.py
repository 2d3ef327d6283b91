"""Fixtures of the agent_acl tests: the example policy, and one live deployment per isolation model.

A deployment applies the real provisioning plans (the same batches ``paybill acl sql`` renders) to the
session's PostgreSQL, for two tenants, seeds a few rows as the administrator, and at the end applies the
teardown and checks that nothing is left behind.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
import yaml
from psycopg import sql

from agent_acl import AclPolicy, Batch, Isolation, Names, load_policy, migration, teardown
from agent_acl.roles import enable_login
from paybill_infra.local.server import AdminConnection

REPO = Path(__file__).resolve().parents[2]
POLICY_FILE = REPO / "examples" / "agent-workflow" / "billing_policy.yaml"


def policy_document() -> dict[str, Any]:
    """The example policy as one document, its referred schema file inlined (for tests that edit it)."""
    document = yaml.safe_load(POLICY_FILE.read_text())
    document["schema"] = yaml.safe_load((POLICY_FILE.parent / document["schema"]).read_text())
    return dict(document)


GOLDEN = Path(__file__).resolve().parent / "golden"
TENANTS = ("acme", "globex")


def database_exists(admin: AdminConnection, database: str) -> bool:
    with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None


def apply_batches(admin: AdminConnection, batches: Sequence[Batch], *, skip_missing: bool = False) -> None:
    """Run provisioning batches as the administrator, each in its database, in a transaction unless autocommit.

    ``skip_missing`` skips batches whose database does not exist (cleaning up after a crashed run).
    """
    for batch in batches:
        if skip_missing and not database_exists(admin, batch.database):
            continue
        with psycopg.connect(admin.conninfo(batch.database), autocommit=batch.autocommit) as conn:
            for statement in batch.statements:
                conn.execute(statement)


@pytest.fixture(scope="session")
def policy() -> AclPolicy:
    return load_policy(POLICY_FILE)


@dataclass
class Deployment:
    """One applied policy: its names, the app login, and helpers to connect as its roles."""

    admin: AdminConnection
    policy: AclPolicy
    isolation: Isolation
    names: Names
    app_password: str
    agent_password: str
    engines: dict[str, sa.Engine] = field(default_factory=dict)

    def database(self, tenant: str) -> str:
        return self.names.database(self.isolation, tenant)

    def schema(self, tenant: str) -> str:
        return self.names.data_schema(self.isolation, tenant)

    def engine(self, tenant: str) -> sa.Engine:
        """The backend's engine for ``tenant``: the app login, to the tenant's database."""
        database = self.database(tenant)
        if database not in self.engines:
            url = self.admin.url(database, user=self.names.app, password=self.app_password)
            self.engines[database] = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        return self.engines[database]

    def connect_as_agent(self, tenant: str, agent: str, database: str | None = None) -> psycopg.Connection:
        """A raw psycopg connection logged in as the agent's own role (autocommit, like an attacker's psql)."""
        role = self.names.agent_role(tenant, agent)
        info = psycopg.conninfo.make_conninfo(
            self.admin.conninfo(database or self.database(tenant)), user=role, password=self.agent_password
        )
        return psycopg.connect(info, autocommit=True)

    def admin_connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(self.admin.conninfo(database), autocommit=True)


def seed(dep: Deployment) -> None:
    """Two customers and three invoices per tenant, written as the administrator.

    Ids are explicit and distinct across tenants (1001+ for acme, 2001+ for globex) in every model, so "acme's
    agent touches globex's invoice 2003" means the same thing in silo, bridge and pooled; the identity
    sequences stay below them for rows the agents create.
    """
    for index, tenant in enumerate(TENANTS):
        next_id = [1000 * (index + 1)]
        schema = dep.schema(tenant)
        with dep.admin_connect(dep.database(tenant)) as conn:
            cur = sql.Identifier(schema, "currencies")
            conn.execute(
                sql.SQL("INSERT INTO {t} VALUES ('USD', 'US dollar'), ('EUR', 'Euro') ON CONFLICT DO NOTHING").format(
                    t=cur
                )
            )
            customers = sql.Identifier(schema, "customers")
            invoices = sql.Identifier(schema, "invoices")
            for name in ("alice", "bob"):
                next_id[0] += 1
                row = conn.execute(
                    sql.SQL(
                        "INSERT INTO {t} (id, tenant_id, name, email, api_token)"
                        " VALUES (%s, %s, %s, %s, %s) RETURNING id"
                    ).format(t=customers),
                    (next_id[0], tenant, f"{name}-{tenant}", f"{name}@{tenant}.example", f"tok-{tenant}-{name}"),
                ).fetchone()
                assert row is not None
                for amount in (1000, 5000) if name == "alice" else (9000,):
                    next_id[0] += 1
                    conn.execute(
                        sql.SQL(
                            "INSERT INTO {t} (id, tenant_id, customer_id, amount_cents, note)"
                            " VALUES (%s, %s, %s, %s, %s)"
                        ).format(t=invoices),
                        (next_id[0], tenant, row[0], amount, f"note for {tenant}"),
                    )


def leftovers(admin: AdminConnection, prefix: str) -> tuple[list[str], list[str]]:
    with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
        roles = [r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (prefix + "%",))]
        dbs = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",))]
    return roles, dbs


@pytest.fixture(scope="session", params=[m.value for m in Isolation])
def deployment(request: pytest.FixtureRequest, pg_admin: AdminConnection, policy: AclPolicy) -> Iterator[Deployment]:
    isolation = Isolation(request.param)
    named = policy.model_copy(update={"name": f"t{isolation.value}"})
    dep = Deployment(
        pg_admin, named, isolation, Names(named.name), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    )
    apply_batches(pg_admin, teardown(named, isolation, TENANTS), skip_missing=True)  # a crashed run
    apply_batches(pg_admin, migration(named, isolation, TENANTS))
    with dep.admin_connect("postgres") as conn:
        for statement in enable_login(dep.names.app, dep.app_password):
            conn.execute(statement)
        for tenant in TENANTS:
            for agent in named.agents:
                for statement in enable_login(dep.names.agent_role(tenant, agent.name), dep.agent_password):
                    conn.execute(statement)
    seed(dep)
    yield dep
    for engine in dep.engines.values():
        engine.dispose()
    apply_batches(pg_admin, teardown(named, isolation, TENANTS))
    roles, dbs = leftovers(pg_admin, named.name + "__")
    assert (roles, dbs) == ([], []), f"teardown left {roles} {dbs}"


PRIVILEGES_OF_ROLE = """
SELECT n.nspname, c.relname, NULL::text, a.privilege_type
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
WHERE a.grantee = %(role)s::regrole AND n.nspname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT n.nspname, c.relname, att.attname::text, a.privilege_type
FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
     aclexplode(att.attacl) a
WHERE a.grantee = %(role)s::regrole AND n.nspname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT n.nspname, NULL, NULL, 'SCHEMA ' || a.privilege_type
FROM pg_namespace n, aclexplode(n.nspacl) a WHERE a.grantee = %(role)s::regrole
UNION ALL
SELECT n.nspname, p.proname, NULL, 'FUNCTION ' || a.privilege_type
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a
WHERE a.grantee = %(role)s::regrole
UNION ALL
SELECT d.datname, NULL, NULL, 'DATABASE ' || a.privilege_type
FROM pg_database d, aclexplode(d.datacl) a WHERE a.grantee = %(role)s::regrole
UNION ALL
SELECT NULL, m.roleid::regrole::text, NULL, 'MEMBER OF'
FROM pg_auth_members m WHERE m.member = %(role)s::regrole
"""


def actual_privileges(conn: psycopg.Connection, role: str) -> set[tuple[str | None, str | None, str | None, str]]:
    """Every privilege ``role`` holds in the current database, on shared objects, and its memberships."""
    return {tuple(row) for row in conn.execute(PRIVILEGES_OF_ROLE, {"role": role}).fetchall()}  # type: ignore[misc]


def expected_privileges(
    policy: AclPolicy, isolation: Isolation, tenant: str, agent: str
) -> set[tuple[str | None, str | None, str | None, str]]:
    """What the declaration says the agent's role holds: the matrix, plus connect/usage, the row guard (and the
    mapping, pooled)."""
    from agent_acl import Privilege, explain_access

    names = Names(policy.name)
    schema = names.data_schema(isolation, tenant)
    out: set[tuple[str | None, str | None, str | None, str]] = {
        (schema, None, None, "SCHEMA USAGE"),
        (names.database(isolation, tenant), None, None, "DATABASE CONNECT"),
        ("acl", None, None, "SCHEMA USAGE"),
        ("acl", "check_rows", None, "FUNCTION EXECUTE"),
    }
    for entry in explain_access(policy, agent).entries:
        column = None if entry.privilege is Privilege.DELETE else entry.column
        out.add((schema, entry.table, column, entry.privilege.value))
    if isolation is Isolation.POOLED:
        out.add(("acl", "tenant_roles", None, "SELECT"))
    return out
