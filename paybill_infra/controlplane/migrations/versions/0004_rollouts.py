"""Rollouts in waves: the rollout journal, its per-unit progress and its event log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paybill_infra.controlplane.registry import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("idempotency_key", sa.String(128), unique=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(200)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("current_wave", sa.Integer()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("error", sa.Text()),
    )
    op.create_table(
        "rollout_units",
        sa.Column("rollout_id", sa.String(36), sa.ForeignKey("rollouts.id"), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("group", sa.String(32), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("wave_label", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("applications", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("error", sa.Text()),
    )
    op.create_table(
        "rollout_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("rollout_id", sa.String(36), sa.ForeignKey("rollouts.id"), nullable=False, index=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("wave", sa.Integer()),
        sa.Column("unit", sa.String(200)),
        sa.Column("message", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rollout_events")
    op.drop_table("rollout_units")
    op.drop_table("rollouts")
