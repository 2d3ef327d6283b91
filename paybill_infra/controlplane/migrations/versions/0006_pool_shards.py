"""Pool shards: a pool's members beyond its first stack's share live in further stacks over the same database
(``pool_shards``, one row per shard stack). Existing pools have no shards: their members stay in the pool's
first stack, as before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paybill_infra.controlplane.registry import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pool_shards",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("pool_id", sa.Integer(), sa.ForeignKey("pools.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("stack", sa.String(128), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("pool_id", "ordinal", name="pool_shards_pool_ordinal_key"),
    )
    op.create_index("ix_pool_shards_pool_id", "pool_shards", ["pool_id"])


def downgrade() -> None:
    op.drop_index("ix_pool_shards_pool_id", table_name="pool_shards")
    op.drop_table("pool_shards")
