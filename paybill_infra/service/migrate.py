"""``python -m paybill_infra.service migrate``: everything the service needs in its database, in one
idempotent step that is safe to run from several processes at once.

1. the queue's tables (procrastinate's own DDL, applied once);
2. the control plane's registry (its Alembic migrations);
3. the service's tables (:mod:`paybill_infra.service.migrations`).

Workers run it at start; the API process never does (it runs no Alembic and needs no engine): deploy by
running ``migrate`` (or a worker) before the API.
"""

from __future__ import annotations

from sqlalchemy import Connection, create_engine, func, inspect, select

from paybill_infra.controlplane import migrations as registry_migrations
from paybill_infra.service import migrations
from paybill_infra.service.queue import queue_schema
from paybill_infra.service.schema import QUEUE_TABLE, SCHEMA_LOCK
from paybill_infra.service.settings import ServiceSettings


def migrate(settings: ServiceSettings) -> None:
    """Bring the database to the newest schema (a no-op when it is there already). A session-level advisory
    lock serialises concurrent runs: the registry's migrations use connections of their own."""
    engine = create_engine(settings.sqlalchemy_url())
    try:
        with engine.connect() as lock:
            lock.execute(select(func.pg_advisory_lock(SCHEMA_LOCK)))
            try:
                with engine.begin() as conn:
                    _queue(conn)
                registry_migrations.upgrade(engine)
                with engine.begin() as conn:
                    migrations.upgrade(conn)
            finally:
                lock.execute(select(func.pg_advisory_unlock(SCHEMA_LOCK)))
                lock.commit()
    finally:
        engine.dispose()


def _queue(conn: Connection) -> None:
    if not inspect(conn).has_table(QUEUE_TABLE):
        # the DBAPI cursor without parameters: the file holds literal '%' signs
        conn.connection.cursor().execute(queue_schema())
