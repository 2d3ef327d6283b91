"""Versioned tenant data schemas: the recorded versions of the schema file, and the version each tenant's
tables and each pool's shared tables are at.

Existing tenants and pools were provisioned from the schema of the day, recorded as version 1 when the control
plane first records one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paybill_infra.controlplane.registry import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schema_versions",
        sa.Column("number", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("content_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("source", sa.String(500), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("schema_version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("pools") as batch:
        batch.add_column(sa.Column("schema_version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("pools") as batch:
        batch.drop_column("schema_version")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("schema_version")
    op.drop_table("schema_versions")
