"""The service tables as ``create_all`` made them before migrations: operations (with the control plane's
operation id beside the service's own), their events, applied webhook events and API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "svc_operations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(64)),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("phase", sa.String(64), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("control_plane_operation", sa.String(64)),
        sa.Column("job_id", sa.BigInteger),
        sa.Column("worker", sa.String(200)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("actor", "idempotency_key", name="svc_operations_idempotency"),
    )
    op.create_index("ix_svc_operations_tenant", "svc_operations", ["tenant"])
    op.create_index("ix_svc_operations_status", "svc_operations", ["status"])
    op.create_index("ix_svc_operations_control_plane_operation", "svc_operations", ["control_plane_operation"])
    op.create_table(
        "svc_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "operation_id", sa.String(36), sa.ForeignKey("svc_operations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("payload", sa.JSON, nullable=False),
    )
    op.create_index("ix_svc_events_operation_id", "svc_events", ["operation_id"])
    op.create_table(
        "svc_webhook_events",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "svc_api_keys",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(64)),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    for table in ("svc_api_keys", "svc_webhook_events", "svc_events", "svc_operations"):
        op.drop_table(table)
