"""The tenant application tables the local target provisions, as SQLAlchemy Core metadata.

The same tables exist in every topology: in a silo tenant's own database, in a bridge tenant's schema,
and shared in the ``pooled`` schema. Every table carries ``tenant_id`` even where isolation is physical,
so moving a tenant between topologies is a row copy, never a reshape. Foreign keys include ``tenant_id``
so a pooled tenant cannot point a row at another tenant's row (FK checks bypass row-level security).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Identity,
    Index,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
)

TENANT_COLUMN = "tenant_id"


def define_tables(metadata: MetaData, schema: str | None = None) -> tuple[Table, ...]:
    """Declare the tables in ``metadata`` under ``schema``, parents first.

    A factory rather than ``Table.to_metadata`` copies: copies take their constraints from a set, so their
    DDL order would change from run to run, and generated SQL must be byte-identical.
    """
    customers = Table(
        "customers",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column(TENANT_COLUMN, Text, nullable=False),
        Column("name", Text, nullable=False),
        Column("email", Text),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        UniqueConstraint(TENANT_COLUMN, "id", name="customers_tenant_id_id_key"),
        Index("customers_tenant_id_idx", TENANT_COLUMN),
        schema=schema,
    )
    parent = f"{schema}.customers" if schema else "customers"
    invoices = Table(
        "invoices",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column(TENANT_COLUMN, Text, nullable=False),
        Column("customer_id", BigInteger, nullable=False),
        Column("amount_cents", BigInteger, nullable=False),
        Column("currency", Text, nullable=False, server_default="USD"),
        Column("status", Text, nullable=False, server_default="open"),
        ForeignKeyConstraint(
            [TENANT_COLUMN, "customer_id"],
            [f"{parent}.{TENANT_COLUMN}", f"{parent}.id"],
            name="invoices_customer_fkey",
            ondelete="CASCADE",
        ),
        CheckConstraint("amount_cents >= 0", name="invoices_amount_nonnegative"),
        Index("invoices_tenant_id_idx", TENANT_COLUMN),
        schema=schema,
    )
    return customers, invoices


metadata = MetaData()
TABLES: tuple[Table, ...] = define_tables(metadata)
"""Tables in dependency order (parents first): create in this order, delete rows in reverse."""
