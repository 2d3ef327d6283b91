"""The agent ACL provisioned by the engine for every tenant of the fleet, used by an agent, then destroyed."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from agent_acl import AccessDenied, AgentSession, Isolation, MemoryAuditSink, Names, TenantContext, load_policy
from tests.engine.conftest import ProjectFactory

pytestmark = [pytest.mark.engine, pytest.mark.postgres]

TENANTS = [
    {"slug": "acme", "name": "Acme", "plan": "enterprise"},
    {"slug": "globex", "name": "Globex", "plan": "growth"},
    {"slug": "initech", "name": "Initech", "plan": "starter"},
    {"slug": "umbrella", "name": "Umbrella", "plan": "starter"},
]


def test_fleet_provisions_agent_roles_and_an_agent_stays_in_its_tenant(
    make_project: ProjectFactory, repo_root: object
) -> None:
    project = make_project(TENANTS)
    example = _example_dir(repo_root)
    shutil.copy(example / "billing_policy.yaml", project.root / "acl.yaml")
    shutil.copy(example / "billing_schema.yaml", project.root / "billing_schema.yaml")  # the schema it names
    project.configure(TENANTS, aclPolicy="acl.yaml")
    policy = load_policy(project.root / "acl.yaml")
    names = Names(policy.name)
    project.fleet.up()

    agents = [a.name for a in policy.agents]
    roles = {r[0] for r in project.query("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", f"{policy.name}__%")}
    for tenant in (t["slug"] for t in TENANTS):
        assert set(names.roles_of_tenant(tenant, tuple(agents))) <= roles
    assert project.query("SELECT 1 FROM pg_database WHERE datname = %s", names.silo_database("acme")) == [(1,)]
    assert project.fleet.preview().changed == 0

    project.query("INSERT INTO data.currencies VALUES ('USD', 'US dollar')", dbname=names.shared_database())
    for tenant, invoice in (("initech", 1), ("umbrella", 2)):
        project.query(
            "INSERT INTO data.customers (id, tenant_id, name, email, api_token) VALUES (%s, %s, 'c', 'e', 't')",
            invoice,
            tenant,
            dbname=names.shared_database(),
        )
        project.query(
            "INSERT INTO data.invoices (id, tenant_id, customer_id, amount_cents, note) "
            "VALUES (%s, %s, %s, 50000, 'n')",
            invoice,
            tenant,
            invoice,
            dbname=names.shared_database(),
        )
    acl = project.fleet.stack.outputs()["agent_acl"]
    assert acl.secret
    url = project.admin().url(names.shared_database(), user=acl.value["app_role"], password=acl.value["app_password"])
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    session = AgentSession(
        engine,
        TenantContext(tenant="initech", isolation=Isolation.POOLED, actor="test"),
        "collector",
        policy=policy,
        audit=MemoryAuditSink(),
    )
    found = session.run("collect_overdue", "find_open", {"min_amount": 1})
    assert [row["id"] for row in found.rows] == [1], "the agent saw another tenant's invoice"
    with pytest.raises(AccessDenied):
        session.run("collect_overdue", "flag", {"invoice_id": 2})
    engine.dispose()

    project.fleet.destroy()
    leftover = project.query("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", f"{policy.name}%")
    assert leftover == []
    assert project.query("SELECT datname FROM pg_database WHERE datname LIKE %s", f"{policy.name}%") == []


def _example_dir(repo_root: object) -> Path:
    return Path(str(repo_root)) / "examples" / "agent-workflow"


def test_a_broken_acl_policy_fails_before_the_engine_runs(make_project: ProjectFactory) -> None:
    project = make_project(TENANTS)
    (project.root / "acl.yaml").write_text("name: billing\nschema: {tables: []}\nworkflows: [}\n")
    project.configure(TENANTS, aclPolicy="acl.yaml")
    from paybill_infra.errors import FleetConfigError

    with pytest.raises(FleetConfigError, match="aclPolicy"):
        project.fleet.up()
    with psycopg.connect(project.admin().conninfo("postgres")) as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 't\\_%'").fetchone() == (0,)
