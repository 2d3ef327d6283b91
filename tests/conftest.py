"""Shared fixtures: a real PostgreSQL for the whole session (the embedded server, or ``PAYBILL_PG_URL``).

In CI (``CI=true``) nothing here is ever skipped: a missing server or engine is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from paybill_infra.local.server import AdminConnection, EmbeddedServer, ServerSpec, admin_connection

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def pg_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminConnection]:
    """Superuser connection to a real PostgreSQL 18 (embedded, in a session temp dir)."""
    url = os.environ.get("PAYBILL_PG_URL")
    if url:
        yield admin_connection(ServerSpec(url=url))
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("pg"))
    yield server.ensure_running()
    server.stop()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
