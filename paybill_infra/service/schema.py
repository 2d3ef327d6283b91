"""Where the service's schema stands, checked without alembic (the API process imports no migration tool).

:func:`ready` compares the service tables' version with :data:`HEAD`, the newest revision of
:mod:`paybill_infra.service.migrations` (a test keeps the two equal). Migrating is
:func:`paybill_infra.service.migrate.migrate`'s job.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

SCHEMA_LOCK = 0x70617962696C6C  # advisory lock id serialising schema set-up across processes
VERSION_TABLE = "svc_alembic_version"
HEAD = "0003"
QUEUE_TABLE = "procrastinate_jobs"


def ready(conn: Connection) -> bool:
    """Whether the queue's and the service's tables are there, at the newest revision."""
    if not inspect(conn).has_table(QUEUE_TABLE) or not inspect(conn).has_table(VERSION_TABLE):
        return False
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == HEAD  # noqa: S608
