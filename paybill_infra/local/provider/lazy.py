"""The modules the providers talk to PostgreSQL with, imported on first use: ``check``/``diff`` (all a
no-change run asks of the provider host) need none of them, and SQLAlchemy + agent_acl (behind ``app_schema``
and ``q``) alone cost seconds of CPU per engine run. Type checkers see the real modules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybill_infra._lazy import LazyModule

if TYPE_CHECKING:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg import sql

    from paybill_infra.datamodel import render, source, sync
    from paybill_infra.local import app_schema, server
    from paybill_infra.local import sql as q
else:
    psycopg = LazyModule("psycopg")
    pg_errors = LazyModule("psycopg.errors")
    sql = LazyModule("psycopg.sql")
    app_schema = LazyModule("paybill_infra.local.app_schema")
    server = LazyModule("paybill_infra.local.server")
    q = LazyModule("paybill_infra.local.sql")
    render = LazyModule("paybill_infra.datamodel.render")
    source = LazyModule("paybill_infra.datamodel.source")
    sync = LazyModule("paybill_infra.datamodel.sync")

__all__ = ["app_schema", "pg_errors", "psycopg", "q", "render", "server", "source", "sql", "sync"]
