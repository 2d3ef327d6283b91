"""The tenant application tables of the local target when a program names no schema file: the shipped default
(:data:`paybill_infra.datamodel.source.DEFAULT_SCHEMA_FILE`), an ``agent_acl`` data schema.

The same typed schema drives provisioning (the tables every topology gets: in a silo tenant's own database, in
a bridge tenant's schema, shared in the ``pooled`` schema) and the agent ACL (sensitivities, column grants,
the tenant-closure proof): SQLAlchemy tables come from :func:`agent_acl.models.build_metadata`. A project
names its own file (see :mod:`paybill_infra.datamodel.source`); the providers then receive it as an input.

Every table carries ``tenant_id`` even where isolation is physical, so moving a tenant between topologies is
a row copy, never a reshape; ``agent_acl`` makes every tenant table unique on ``(tenant_id, id)`` and requires
foreign keys to include ``tenant_id``, so a pooled row cannot point at another tenant's row (FK checks bypass
row-level security).

Keys are UUIDv7 (``uuidv7()``, PostgreSQL 18), not a shared identity sequence: in a pool, a sequence would
tell every tenant how many rows all the others inserted (issue 10), and a guessed key of another tenant
could be confirmed through a duplicate-key error. Time-ordered UUIDs keep index locality and page order.
"""

from __future__ import annotations

from sqlalchemy import Table

from agent_acl import DataSchema
from agent_acl.models import sorted_tables
from paybill_infra.datamodel.source import load_schema_file

APP_SCHEMA: DataSchema = load_schema_file().data

TENANT_COLUMN = APP_SCHEMA.tenant_column


def tables_in(schema: str | None = None, data: DataSchema = APP_SCHEMA) -> tuple[Table, ...]:
    """The tables of ``data`` placed in PostgreSQL schema ``schema``, parents first (create in this order,
    delete rows in reverse). Shared and cached by ``agent_acl``: read-only."""
    return tuple(sorted_tables(data, schema))


TABLES: tuple[Table, ...] = tables_in()
