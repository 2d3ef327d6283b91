"""Alembic migrations of the service's own tables (``svc_*``), run programmatically (no ``alembic.ini``).

They live beside the control plane's registry in one database, so they keep their own version table
(:data:`VERSION_TABLE`). A database whose service tables predate migrations (they were created with
``create_all``, which is revision ``0001``'s schema) is stamped at ``0001`` first, then upgraded.
Run through :func:`paybill_infra.service.migrate.migrate`, which also migrates the registry and installs
the queue's schema.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from paybill_infra.service.schema import VERSION_TABLE

SCRIPT_LOCATION = Path(__file__).resolve().parent
BASELINE = "0001"


def config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.attributes["connection"] = connection
    return cfg


def current(connection: Connection) -> str | None:
    """The revision the service tables are at (``None`` before the first migration)."""
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def head() -> str | None:
    """The newest revision."""
    return ScriptDirectory(str(SCRIPT_LOCATION)).get_current_head()


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` (idempotent), adopting tables made before migrations."""
    cfg = config(connection)
    if current(connection) is None and inspect(connection).has_table("svc_api_keys"):
        command.stamp(cfg, BASELINE)
    command.upgrade(cfg, revision)
