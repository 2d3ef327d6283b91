"""The SQLAlchemy ``MetaData`` derived from a :class:`DataSchema` (deterministic: same input, same tables).

Each ``Table`` carries ``info["acl_tenant_column"]`` (the tenant column name, or None for shared tables) so the
tenant-closure check can tell, from a compiled statement alone, which FROM items need the tenant predicate.
Tenant-scoped tables get ``UNIQUE (tenant, *pk)`` so child foreign keys can include the tenant column. The
declared indexes are added under their own names, so provisioning creates them with the tables.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeEngine

from agent_acl.naming import bounded
from agent_acl.schema import Column, ColumnType, DataSchema, Generated, OnDelete, Table

TENANT_INFO_KEY = "acl_tenant_column"

_TYPES: dict[ColumnType, TypeEngine[Any]] = {
    ColumnType.TEXT: sa.Text(),
    ColumnType.SMALLINT: sa.SmallInteger(),
    ColumnType.INTEGER: sa.Integer(),
    ColumnType.BIGINT: sa.BigInteger(),
    ColumnType.BOOLEAN: sa.Boolean(),
    ColumnType.NUMERIC: sa.Numeric(),
    ColumnType.DOUBLE: sa.Double(),
    ColumnType.DATE: sa.Date(),
    ColumnType.TIMESTAMPTZ: sa.DateTime(timezone=True),
    ColumnType.UUID: sa.Uuid(),
    ColumnType.JSONB: postgresql.JSONB(),
    ColumnType.BYTEA: sa.LargeBinary(),
}

_ON_DELETE = {
    OnDelete.NO_ACTION: None,
    OnDelete.RESTRICT: "RESTRICT",
    OnDelete.CASCADE: "CASCADE",
    OnDelete.SET_NULL: "SET NULL",
}


def sa_type(column_type: ColumnType) -> TypeEngine[Any]:
    return _TYPES[column_type]


def _server_default(column: Column) -> Any:
    if column.generated is Generated.NOW:
        return sa.func.now() if column.type is ColumnType.TIMESTAMPTZ else sa.func.current_date()
    if column.generated is Generated.RANDOM_UUID:
        return sa.func.gen_random_uuid()
    if column.generated is Generated.UUIDV7:
        return sa.func.pg_catalog.uuidv7()
    if column.default is None:
        return None
    if isinstance(column.default, bool):
        return sa.true() if column.default else sa.false()
    return sa.literal(column.default, sa_type(column.type))


def _sa_column(column: Column, primary: bool) -> sa.Column[Any]:
    args: list[Any] = []
    if column.generated is Generated.IDENTITY:
        args.append(sa.Identity(always=False))
    return sa.Column(
        column.name,
        sa_type(column.type),
        *args,
        primary_key=primary,
        nullable=column.nullable and not primary,
        server_default=_server_default(column),
        autoincrement="auto" if column.generated is Generated.IDENTITY else False,
        info={"acl_sensitivity": column.sensitivity.value},
    )


def _table(metadata: sa.MetaData, schema: DataSchema, table: Table, schema_name: str | None) -> sa.Table:
    tenant = schema.tenant_column if table.tenant_scoped else None
    items: list[Any] = [_sa_column(col, col.name in table.primary_key) for col in table.columns]
    items.append(sa.PrimaryKeyConstraint(*table.primary_key, name=bounded(f"{table.name}__pkey")))
    leading_tenant = bool(table.primary_key) and table.primary_key[0] == tenant
    if tenant is not None and tenant not in table.primary_key:
        items.append(sa.UniqueConstraint(tenant, *table.primary_key, name=bounded(f"{table.name}__tenant_key")))
        leading_tenant = True
    if tenant is not None and not leading_tenant:
        items.append(sa.Index(bounded(f"{table.name}__tenant_idx"), tenant))
    for fk in table.foreign_keys:
        target = f"{schema_name}.{fk.references.table}" if schema_name else fk.references.table
        items.append(
            sa.ForeignKeyConstraint(
                list(fk.columns),
                [f"{target}.{col}" for col in fk.references.columns],
                name=bounded(f"{table.name}__{fk.name}__fkey"),
                ondelete=_ON_DELETE[fk.on_delete],
            )
        )
    items += [sa.Index(index.name, *index.columns, unique=index.unique) for index in table.indexes]
    return sa.Table(table.name, metadata, *items, schema=schema_name, info={TENANT_INFO_KEY: tenant})


@lru_cache(maxsize=256)
def build_metadata(schema: DataSchema, schema_name: str | None = None) -> sa.MetaData:
    """The schema's tables in a fresh ``MetaData``, optionally placed in the PostgreSQL schema ``schema_name``.

    Cached per (schema, schema name): treat the result as read-only.
    """
    metadata = sa.MetaData()
    for table in schema.tables:
        _table(metadata, schema, table, schema_name)
    return metadata


def sa_table(schema: DataSchema, schema_name: str | None, name: str) -> sa.Table:
    metadata = build_metadata(schema, schema_name)
    key = f"{schema_name}.{name}" if schema_name else name
    return metadata.tables[key]


def sorted_tables(schema: DataSchema, schema_name: str | None = None) -> list[sa.Table]:
    """Tables in dependency order (parents first), ties broken by name: stable across runs."""
    return list(build_metadata(schema, schema_name).sorted_tables)
