"""Alembic environment of the service tables: uses the connection handed over in ``config.attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from paybill_infra.service.schema import VERSION_TABLE
from paybill_infra.service.store import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through paybill_infra.service.migrations.upgrade(connection)")

context.configure(connection=connection, target_metadata=Base.metadata, version_table=VERSION_TABLE, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
