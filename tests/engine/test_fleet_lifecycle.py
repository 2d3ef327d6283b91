"""The fleet program on the real engine: up, no-op up, add and remove a tenant, drift, destroy.

Every assertion reads PostgreSQL's own catalogs, not the engine's word.
"""

from __future__ import annotations

from typing import Any

import pytest

from paybill_infra.errors import EngineError, FleetConfigError
from tests.engine.conftest import Project, ProjectFactory

pytestmark = [pytest.mark.engine, pytest.mark.postgres]

TENANTS = [
    {"slug": "acme", "name": "Acme", "plan": "enterprise"},
    {"slug": "globex", "name": "Globex", "plan": "growth"},
    {"slug": "initech", "name": "Initech", "plan": "starter"},
    {"slug": "umbrella", "name": "Umbrella", "plan": "starter"},
]


def tenant_objects(project: Project) -> dict[str, list[str]]:
    return {
        "databases": [
            r[0]
            for r in project.query(
                "SELECT datname FROM pg_database WHERE datname LIKE 'd\\_%' OR datname = 'paybill' ORDER BY 1"
            )
        ],
        "roles": [
            r[0]
            for r in project.query(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE 'r\\_%' OR rolname = 'paybill_owner' ORDER BY 1"
            )
        ],
    }


def shared(project: Project, sql: str, *params: object) -> list[tuple[Any, ...]]:
    return project.query(sql, *params, dbname="paybill")


@pytest.fixture(scope="module")
def project(make_module_project: ProjectFactory) -> Project:
    return make_module_project(TENANTS)


def test_up_provisions_every_topology(project: Project) -> None:
    summary = project.fleet.up()
    assert summary.changes.get("create", 0) >= 14 and "delete" not in summary.changes
    objects = tenant_objects(project)
    assert objects["databases"] == ["d_acme", "paybill"]
    assert objects["roles"] == ["paybill_owner", "r_acme", "r_globex", "r_initech", "r_umbrella"]
    assert shared(
        project, "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 's_globex'"
    ) == [("s_globex", "r_globex")]
    assert shared(project, "SELECT tablename, policyname FROM pg_policies WHERE schemaname = 'pooled' ORDER BY 1") == [
        ("customers", "tenant_isolation"),
        ("invoices", "tenant_isolation"),
    ]
    assert shared(
        project,
        "SELECT relname FROM pg_class WHERE relnamespace = 'pooled'::regnamespace AND "
        "relkind = 'r' AND relrowsecurity AND relforcerowsecurity ORDER BY 1",
    ) == [("customers",), ("invoices",)]
    assert shared(project, "SELECT tenant_id FROM paybill.tenant_roles ORDER BY 1") == [("initech",), ("umbrella",)]
    assert project.query(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'app'", dbname="d_acme"
    ) == [(2,)]


def test_second_up_changes_nothing(project: Project) -> None:
    summary = project.fleet.up()
    assert summary.changed == 0, summary.changes
    assert project.fleet.preview().changed == 0


def test_credentials_are_secrets_that_log_in(project: Project) -> None:
    import psycopg

    outputs = project.fleet.stack.outputs()
    assert outputs["credentials"].secret
    creds = project.credentials()
    admin = project.admin()
    with psycopg.connect(admin.url("d_acme", user="r_acme", password=creds["acme"])) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("r_acme",)
    files = [f for f in (project.root / "state").rglob("*") if f.is_file()]
    assert files, "no state files written"
    for path in files:
        text = path.read_bytes()
        for password in creds.values():
            assert password.encode() not in text, f"a password is in plain text in {path}"


def test_adding_a_tenant_creates_only_its_resources(project: Project) -> None:
    before = project.fleet.stack.export_stack().deployment["resources"]
    project.configure([*TENANTS, {"slug": "hooli", "name": "Hooli", "plan": "growth"}])
    preview = project.fleet.preview()
    assert preview.changes.get("create") == 3 and set(preview.changes) <= {"create", "same"}, preview.changes
    project.fleet.up()
    after = {r["urn"] for r in project.fleet.stack.export_stack().deployment["resources"]}
    added = after - {r["urn"] for r in before}
    assert all("hooli" in urn for urn in added) and len(added) == 3
    assert shared(project, "SELECT 1 FROM pg_namespace WHERE nspname = 's_hooli'") == [(1,)]


def test_removing_a_tenant_deletes_only_its_resources_and_rows(project: Project) -> None:
    for tenant in ("initech", "umbrella"):
        shared(project, "INSERT INTO pooled.customers (tenant_id, name) VALUES (%s, 'c')", tenant)
    project.configure(
        [t for t in TENANTS if t["slug"] != "umbrella"] + [{"slug": "hooli", "name": "Hooli", "plan": "growth"}]
    )
    preview = project.fleet.preview()
    assert preview.changes.get("delete") == 3 and set(preview.changes) <= {"delete", "same"}
    project.fleet.up()
    assert "r_umbrella" not in tenant_objects(project)["roles"]
    assert shared(project, "SELECT tenant_id, count(*) FROM pooled.customers GROUP BY 1") == [("initech", 1)]
    assert shared(project, "SELECT tenant_id FROM paybill.tenant_roles") == [("initech",)]


def test_refresh_sees_drift_made_by_hand_and_up_repairs_it(project: Project) -> None:
    project.query("ALTER ROLE r_acme BYPASSRLS CONNECTION LIMIT 999")
    shared(project, "DROP POLICY tenant_isolation ON pooled.invoices")
    shared(project, "DROP TABLE s_globex.invoices")
    shared(project, "REVOKE DELETE ON pooled.customers FROM r_initech")
    refresh = project.fleet.refresh()
    assert refresh.changes.get("update", 0) >= 4, refresh.changes
    assert project.fleet.preview().changes.get("update", 0) >= 4
    project.fleet.up()
    assert project.query("SELECT rolbypassrls, rolconnlimit FROM pg_roles WHERE rolname = 'r_acme'") == [(False, 100)]
    assert shared(project, "SELECT count(*) FROM pg_policies WHERE schemaname = 'pooled'") == [(2,)]
    assert shared(project, "SELECT to_regclass('s_globex.invoices') IS NOT NULL") == [(True,)]
    assert shared(project, "SELECT has_table_privilege('r_initech', 'pooled.customers', 'DELETE')") == [(True,)]
    assert project.fleet.preview().changed == 0


def test_a_database_dropped_by_hand_is_recreated(project: Project) -> None:
    project.query("DROP DATABASE d_acme WITH (FORCE)")
    refresh = project.fleet.refresh()
    assert refresh.changes.get("delete", 0) >= 1 or refresh.changed >= 1
    project.fleet.up()
    assert "d_acme" in tenant_objects(project)["databases"]


def test_bad_config_fails_before_the_engine_runs(project: Project) -> None:
    history = len(project.fleet.stack.history())
    project.configure([*TENANTS, {"slug": "bad slug!", "name": "x", "plan": "starter"}])
    with pytest.raises(FleetConfigError, match=r"tenants\[4\]"):
        project.fleet.up()
    project.configure([*TENANTS, {"slug": "zed", "name": "x", "plan": "diamond"}])
    with pytest.raises(FleetConfigError, match="unknown plan 'diamond'"):
        project.fleet.preview()
    assert len(project.fleet.stack.history()) == history, "a rejected config still ran an update"


def test_engine_failures_are_typed(project: Project) -> None:
    project.configure(TENANTS)
    project.query("CREATE ROLE r_umbrella LOGIN")  # a squatter holding the name the engine needs
    try:
        with pytest.raises(EngineError) as info:
            project.fleet.up()
        assert info.value.operation == "up" and info.value.stack == "test"
        assert "already exists" in info.value.detail
    finally:
        project.query("DROP ROLE r_umbrella")


def test_destroy_leaves_nothing_behind(project: Project) -> None:
    project.fleet.up()
    project.fleet.destroy()
    assert tenant_objects(project) == {"databases": [], "roles": []}
    assert project.query("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'r\\_%'") == [(0,)]
