"""The local target's generated SQL: pinned in golden files and proven on a real PostgreSQL.

Regenerate on purpose with ``UPDATE_GOLDEN=1 pytest tests/local/test_sql_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from paybill_infra.local import sql as q
from paybill_infra.local.credentials import scram_sha256_verifier
from paybill_infra.local.server import AdminConnection

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "local"
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
        "tenant_role": q.create_login_role("t_acme_app", VERIFIER, connection_limit=20, statement_timeout_ms=30000),
        "pooled_bind": q.bind_pooled_tenant("t_acme_app", "acme"),
        "pooled_unbind": q.unbind_pooled_tenant("t_acme_app", "acme"),
        "bridge_schema": [
            *q.grant_connect(q.SHARED_DATABASE, "t_acme_app"),
            *q.create_schema("t_acme", "t_acme_app"),
            *q.create_tables("t_acme", "t_acme_app"),
            *q.grant_schema_tables("t_acme", "t_acme_app"),
        ],
        "silo_database": [*q.create_database("t_acme", "t_acme_app"), *q.grant_connect("t_acme", "t_acme_app")],
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
    text = q.render(q.create_login_role(evil, "v'; --", connection_limit=1, statement_timeout_ms=10))
    assert 'CREATE ROLE "x""; DROP ROLE postgres; --" LOGIN' in text
    assert "PASSWORD 'v''; --'" in text


@pytest.mark.postgres
def test_golden_sql_runs_on_postgres_and_the_verifier_logs_in(pg_admin: AdminConnection) -> None:
    all_sql = scripts()
    with psycopg.connect(pg_admin.conninfo("postgres"), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS golden_shared WITH (FORCE)")
        conn.execute("DROP DATABASE IF EXISTS t_acme WITH (FORCE)")
        for role in ("t_acme_app", q.OWNER_ROLE):
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
        *q.bind_pooled_tenant("t_acme_app", "acme", database="golden_shared"),
        *all_sql["pooled_unbind"],
        *q.grant_connect("golden_shared", "t_acme_app"),
        *q.create_schema("t_acme", "t_acme_app"),
        *q.create_tables("t_acme", "t_acme_app"),
        *q.grant_schema_tables("t_acme", "t_acme_app"),
    ]
    with psycopg.connect(pg_admin.conninfo("golden_shared")) as conn:
        for statement in shared:
            conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM pg_policies WHERE schemaname = 'pooled'").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM paybill.tenant_roles").fetchone() == (0,)
    with psycopg.connect(pg_admin.url("golden_shared", user="t_acme_app", password="example-password")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("t_acme_app",)
        assert conn.execute("SELECT count(*) FROM t_acme.customers").fetchone() == (0,)
    with psycopg.connect(pg_admin.conninfo("postgres"), autocommit=True) as conn:
        conn.execute("DROP DATABASE golden_shared WITH (FORCE)")
        conn.execute("DROP DATABASE t_acme WITH (FORCE)")
        conn.execute('DROP OWNED BY "t_acme_app"')
        conn.execute('DROP ROLE "t_acme_app"')
        conn.execute(f'DROP OWNED BY "{q.OWNER_ROLE}"')
        conn.execute(f'DROP ROLE "{q.OWNER_ROLE}"')
