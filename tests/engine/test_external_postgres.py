"""An external PostgreSQL given by URL replaces the embedded server, and its URL stays a secret."""

from __future__ import annotations

import psycopg
import pytest
from pulumi import automation as auto

from paybill_infra.local.server import AdminConnection
from tests.engine.conftest import ProjectFactory

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


def test_fleet_on_an_external_server_by_url(make_project: ProjectFactory, pg_admin: AdminConnection) -> None:
    project = make_project([{"slug": "extco", "name": "External Co", "plan": "growth"}])
    url = pg_admin.url("postgres")
    project.fleet.stack.set_config("paybill:postgresUrl", auto.ConfigValue(url, secret=True))
    project.fleet.up()
    with psycopg.connect(pg_admin.conninfo("paybill")) as conn:
        assert conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 's_extco'").fetchone() == (1,)
    assert not project.server.is_running(), "the embedded server must not start when a URL is given"
    for path in (project.root / "state").rglob("*.json"):
        assert pg_admin.password not in path.read_text(), f"the server URL's password is in plain text in {path}"
    project.fleet.destroy()
    with psycopg.connect(pg_admin.conninfo("postgres")) as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'r_extco'").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'paybill'").fetchone() == (0,)
