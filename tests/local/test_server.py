"""The embedded PostgreSQL manager: on-demand start, SCRAM-only auth, reuse, stop, external URLs."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from paybill_infra.local.server import AdminConnection, EmbeddedServer, ServerSpec, admin_connection

pytestmark = pytest.mark.postgres


def test_start_reuse_stop_restart(server_scratch: Path) -> None:
    server = EmbeddedServer(server_scratch / "restart")
    assert not server.is_running()
    first = server.ensure_running(isolated=True)
    assert server.is_running()
    assert server.ensure_running() == first, "a running server is reused, not restarted"
    with psycopg.connect(first.conninfo("postgres")) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.commit()
    assert server.stop() is True
    assert server.stop() is False
    again = server.ensure_running()
    with psycopg.connect(again.conninfo("postgres")) as conn:
        assert conn.execute("SELECT to_regclass('kept') IS NOT NULL").fetchone() == (True,)
    server.stop()


def test_every_login_needs_a_password(pg_admin: AdminConnection) -> None:
    with psycopg.connect(pg_admin.conninfo("postgres"), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS nopass")
        conn.execute("CREATE ROLE nopass LOGIN")
        hba = conn.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules").fetchall()
    assert hba == [("scram-sha-256",)], "the wheel's default 'trust' must not survive"
    for password in ("", "wrong"):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(pg_admin.url("postgres", user="nopass", password=password))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg_admin.url("postgres", password="not-the-superuser-password"))


def test_connection_reprs_hide_passwords(pg_admin: AdminConnection) -> None:
    assert pg_admin.password not in repr(pg_admin)
    assert "***" in repr(ServerSpec(url="postgresql://u:hunter2@db/x")) and "hunter2" not in repr(
        ServerSpec(url="postgresql://u:hunter2@db/x")
    )


def test_external_url_is_used_as_given(pg_admin: AdminConnection) -> None:
    url = pg_admin.url("postgres")
    resolved = admin_connection(ServerSpec(url=url))
    assert (resolved.host, resolved.port, resolved.user) == (pg_admin.host, pg_admin.port, pg_admin.user)
    with psycopg.connect(resolved.conninfo("postgres")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_server_whose_socket_vanished_is_restarted(server_scratch: Path) -> None:
    server = EmbeddedServer(server_scratch / "lost-socket")
    conn = server.ensure_running()
    socket = Path(conn.host) / f".s.PGSQL.{conn.port}"
    socket.unlink()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(conn.conninfo("postgres"))
    again = server.ensure_running(isolated=True)
    with psycopg.connect(again.conninfo("postgres")) as reconnected:
        assert reconnected.execute("SELECT 1").fetchone() == (1,)
    server.stop()
