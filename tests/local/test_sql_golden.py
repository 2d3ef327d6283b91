"""The local target's generated SQL: pinned in golden files and proven on a real PostgreSQL.

Regenerate on purpose with ``UPDATE_GOLDEN=1 pytest tests/local/test_sql_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import psycopg
import pytest

from paybill_infra.local import sql as q
from paybill_infra.local.credentials import scram_sha256_verifier
from paybill_infra.local.server import AdminConnection

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "local"
AGENT_GOLDEN = Path(__file__).resolve().parent.parent / "agent_acl" / "golden"
VERIFIER = scram_sha256_verifier("example-password", salt=b"golden-fixed-slt")


def scripts() -> dict[str, q.Statements]:
    return {
        "platform": [
            *q.create_owner_role(),
            *q.lock_public_schema(),
            *q.create_control_schema(),
            *q.create_schema(q.POOLED_SCHEMA, q.OWNER_ROLE),
            *q.create_tables(q.POOLED_SCHEMA, q.OWNER_ROLE),
            *q.enable_pooled_rls(),
        ],
        "tenant_role": q.create_login_role(
            "r_acme", VERIFIER, connection_limit=20, statement_timeout_ms=30000, search_path=["s_acme"]
        ),
        "provisioning": [
            *q.create_lock_table(),
            *q.take_provisioning_lock(),
            *q.revoke_maintenance_connect(),
            *q.revoke_large_object_creation(),
        ],
        "pooled_bind": q.bind_pooled_tenant("r_acme", "acme"),
        "pooled_unbind": q.unbind_pooled_tenant("r_acme", "acme"),
        "bridge_schema": [
            *q.grant_connect(q.SHARED_DATABASE, "r_acme"),
            *q.create_schema("s_acme", "r_acme"),
            *q.create_tables("s_acme", "r_acme"),
            *q.grant_schema_tables("s_acme", "r_acme"),
        ],
        "silo_database": [*q.create_database("d_acme", "r_acme"), *q.grant_connect("d_acme", "r_acme")],
    }


@pytest.mark.parametrize("name", sorted(scripts()))
def test_generated_sql_matches_golden(name: str) -> None:
    rendered = q.render(scripts()[name])
    path = GOLDEN / f"{name}.sql"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered)
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1"
    assert rendered == path.read_text(), f"{name}: generated SQL changed; review and UPDATE_GOLDEN=1 if intended"


def test_identifiers_and_values_are_quoted_not_formatted() -> None:
    evil = 'x"; DROP ROLE postgres; --'
    text = q.render(q.create_login_role(evil, "v'; --", connection_limit=1, statement_timeout_ms=10, search_path=[]))
    assert 'CREATE ROLE "x""; DROP ROLE postgres; --" LOGIN' in text
    assert "PASSWORD 'v''; --'" in text


PROJECT_OBJECTS = re.compile(r"(?<![\w.\"])\"?(customers|invoices|tenant_roles|audit_log|provisioning_lock)\b")

ALIAS = re.compile(r'\bAS "[^"]*"')


@pytest.mark.parametrize("path", sorted([*GOLDEN.glob("*.sql"), *AGENT_GOLDEN.glob("*.sql")]), ids=lambda p: p.name)
def test_golden_sql_references_project_objects_only_schema_qualified(path: Path) -> None:
    """A bare ``customers`` would resolve through the caller's search path: a capture point (issue 10)."""
    code = [ALIAS.sub("", line) for line in path.read_text().splitlines() if not line.startswith("--")]
    bare = [m.group(0) for line in code for m in PROJECT_OBJECTS.finditer(line)]
    assert bare == [], f"{path.name}: unqualified references {bare}"


@pytest.mark.postgres
def test_golden_sql_runs_on_postgres_and_the_verifier_logs_in(pg_admin: AdminConnection) -> None:
    all_sql = scripts()
    with psycopg.connect(pg_admin.conninfo("postgres"), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS golden_shared WITH (FORCE)")
        conn.execute("DROP DATABASE IF EXISTS d_acme WITH (FORCE)")
        for role in ("r_acme", q.OWNER_ROLE):
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(f'DROP OWNED BY "{role}"')
                conn.execute(f'DROP ROLE "{role}"')
        for statement in all_sql["tenant_role"]:
            conn.execute(statement)
        conn.execute("CREATE DATABASE golden_shared")
        for statement in all_sql["silo_database"]:
            conn.execute(statement)
    shared = [
        *all_sql["platform"],
        *q.bind_pooled_tenant("r_acme", "acme", database="golden_shared"),
        *all_sql["pooled_unbind"],
        *q.grant_connect("golden_shared", "r_acme"),
        *q.create_schema("s_acme", "r_acme"),
        *q.create_tables("s_acme", "r_acme"),
        *q.grant_schema_tables("s_acme", "r_acme"),
    ]
    with psycopg.connect(pg_admin.conninfo("golden_shared")) as conn:
        for statement in shared:
            conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM pg_policies WHERE schemaname = 'pooled'").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM paybill.tenant_roles").fetchone() == (0,)
    with psycopg.connect(pg_admin.url("golden_shared", user="r_acme", password="example-password")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("r_acme",)
        assert conn.execute("SELECT count(*) FROM s_acme.customers").fetchone() == (0,)
        assert conn.execute("SHOW search_path").fetchone() == ("pg_catalog, s_acme",)
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (0,)  # its own table: the pinned path
    with psycopg.connect(pg_admin.conninfo("postgres"), autocommit=True) as conn:
        conn.execute("DROP DATABASE golden_shared WITH (FORCE)")
        conn.execute("DROP DATABASE d_acme WITH (FORCE)")
        conn.execute('DROP OWNED BY "r_acme"')
        conn.execute('DROP ROLE "r_acme"')
        conn.execute(f'DROP OWNED BY "{q.OWNER_ROLE}"')
        conn.execute(f'DROP ROLE "{q.OWNER_ROLE}"')
