"""The registry: tenants, subscriptions, pools, stacks, operations, locks and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-08-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paybill_infra.controlplane.registry import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY_SQLITE = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
)
APPEND_ONLY_PG_FUNCTION = (
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$"
)
APPEND_ONLY_PG_TRIGGER = (
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
)


def upgrade() -> None:
    op.create_table(
        "pools",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("stack", sa.String(128), nullable=False, unique=True),
        sa.Column("database", sa.String(63), nullable=False, unique=True),
        sa.Column("owner", sa.String(63), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("plan", "ordinal", name="pools_plan_ordinal_key"),
    )
    op.create_table(
        "tenants",
        sa.Column("slug", sa.String(40), primary_key=True),
        sa.Column("display_name", sa.String(128), nullable=False),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("isolation", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("stack", sa.String(128)),
        sa.Column("pool_id", sa.Integer(), sa.ForeignKey("pools.id"), index=True),
        sa.Column("role", sa.String(63)),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("seats_used", sa.Integer(), nullable=False),
        sa.Column("storage_gb_used", sa.Integer(), nullable=False),
        sa.Column("target_plan", sa.String(32)),
        sa.Column("target_isolation", sa.String(16)),
        sa.Column("target_stack", sa.String(128)),
        sa.Column("target_pool_id", sa.Integer(), sa.ForeignKey("pools.id"), index=True),
        sa.Column("target_role", sa.String(63)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column("tenant", sa.String(40), primary_key=True),
        sa.Column("plan", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("period_end", UTCDateTime()),
        sa.Column("past_due_since", UTCDateTime()),
        sa.Column("canceled_at", UTCDateTime()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "stacks",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("last_operation", sa.String(16)),
        sa.Column("last_changes", sa.JSON(), nullable=False),
        sa.Column("last_run_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(40), nullable=False, index=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(128), unique=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime()),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text()),
    )
    op.create_table(
        "locks",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False, index=True),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("tenant", sa.String(40), index=True),
        sa.Column("operation_id", sa.String(36)),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_PG_FUNCTION)
        op.execute(APPEND_ONLY_PG_TRIGGER)
    else:
        for statement in APPEND_ONLY_SQLITE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in ("audit_log", "locks", "operations", "stacks", "subscriptions", "tenants", "pools"):
        op.drop_table(table)
