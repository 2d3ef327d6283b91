"""One journal: the service's operations are rows of the control plane's ``operations`` (its migration
0005 gave that table what they need), so ``svc_operations`` goes.

Its rows move over, keeping their ids: a row the control plane had journaled under the same id already
(every operation a worker ran since revision 0002) keeps the journal's record and gains the service's
columns (worker, job, idempotency key in the requester's scope); the others (queued, refused, given up,
drift checks, or older) are inserted. ``svc_events`` then refers to the journal.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

EVENTS_FK = "svc_events_operation_id_fkey"

MERGE = """
UPDATE operations o SET worker = s.worker, job_id = s.job_id, idempotency_scope = s.actor,
    idempotency_key = s.idempotency_key
FROM svc_operations s WHERE o.id = s.id AND o.idempotency_key IS NULL
"""

MOVE = """
INSERT INTO operations (id, kind, tenant, actor, status, phase, idempotency_scope, idempotency_key,
    request_hash, request, attempts, owner, worker, job_id, heartbeat_at, created_at, updated_at, started_at,
    finished_at, summary, error)
SELECT s.id, s.kind, s.tenant, s.actor, s.status, left(s.phase, 32), s.actor, s.idempotency_key,
    NULL, s.request, s.attempts, NULL, s.worker, s.job_id, s.updated_at, s.created_at, s.updated_at,
    CASE WHEN s.status = 'queued' THEN NULL ELSE s.created_at END,
    CASE WHEN s.status IN ('succeeded', 'failed', 'rolled_back') THEN s.updated_at END,
    s.summary, s.error
FROM svc_operations s WHERE NOT EXISTS (SELECT 1 FROM operations o WHERE o.id = s.id)
"""

MOVE_BACK = """
INSERT INTO svc_operations (id, kind, tenant, actor, status, phase, request, idempotency_key, job_id, worker,
    attempts, summary, error, created_at, updated_at)
SELECT id, kind, tenant, actor, status, phase, request, idempotency_key, job_id, worker, attempts, summary,
    error, created_at, updated_at
FROM operations WHERE idempotency_scope <> ''
"""


def upgrade() -> None:
    op.execute(MERGE)
    op.execute(MOVE)
    op.drop_constraint(EVENTS_FK, "svc_events", type_="foreignkey")
    op.create_foreign_key(EVENTS_FK, "svc_events", "operations", ["operation_id"], ["id"], ondelete="CASCADE")
    op.drop_table("svc_operations")


def downgrade() -> None:
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
    op.execute(MOVE_BACK)
    op.execute("DELETE FROM svc_events e WHERE NOT EXISTS (SELECT 1 FROM svc_operations s WHERE s.id = e.operation_id)")
    op.drop_constraint(EVENTS_FK, "svc_events", type_="foreignkey")
    op.create_foreign_key(EVENTS_FK, "svc_events", "svc_operations", ["operation_id"], ["id"], ondelete="CASCADE")
