"""The tenant application tables of the local target, declared once as an ``agent_acl`` data schema.

The same typed schema drives provisioning (the tables every topology gets: in a silo tenant's own database, in
a bridge tenant's schema, shared in the ``pooled`` schema) and the agent ACL (sensitivities, column grants,
the tenant-closure proof): SQLAlchemy tables come from :func:`agent_acl.models.build_metadata`.

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

APP_SCHEMA = DataSchema.model_validate(
    {
        "tenant_column": "tenant_id",
        "tables": [
            {
                "name": "customers",
                "primary_key": ["id"],
                "columns": [
                    {"name": "id", "type": "uuid", "nullable": False, "generated": "uuidv7"},
                    {"name": "tenant_id", "type": "text", "nullable": False},
                    {"name": "name", "type": "text", "nullable": False, "sensitivity": "pii"},
                    {"name": "email", "type": "text", "sensitivity": "pii"},
                    {"name": "created_at", "type": "timestamptz", "nullable": False, "generated": "now"},
                ],
            },
            {
                "name": "invoices",
                "primary_key": ["id"],
                "columns": [
                    {"name": "id", "type": "uuid", "nullable": False, "generated": "uuidv7"},
                    {"name": "tenant_id", "type": "text", "nullable": False},
                    {"name": "customer_id", "type": "uuid", "nullable": False},
                    {"name": "amount_cents", "type": "bigint", "nullable": False, "sensitivity": "confidential"},
                    {"name": "currency", "type": "text", "nullable": False, "default": "USD"},
                    {"name": "status", "type": "text", "nullable": False, "default": "open"},
                ],
                "foreign_keys": [
                    {
                        "name": "customer",
                        "columns": ["tenant_id", "customer_id"],
                        "references": {"table": "customers", "columns": ["tenant_id", "id"]},
                        "on_delete": "cascade",
                    }
                ],
            },
        ],
    }
)

TENANT_COLUMN = APP_SCHEMA.tenant_column


def tables_in(schema: str | None = None) -> tuple[Table, ...]:
    """The tables placed in PostgreSQL schema ``schema``, parents first (create in this order, delete rows in
    reverse). Shared and cached by ``agent_acl``: read-only."""
    return tuple(sorted_tables(APP_SCHEMA, schema))


TABLES: tuple[Table, ...] = tables_in()
