"""One journal: the product backend's accepted requests are ``queued`` rows of ``operations`` (its own
``svc_operations`` table goes, see the service's migration 0003), so the journal gains what the backend
needs and loosens what a queued request does not have yet.

- ``idempotency_scope``: whose key it is (the backend's requesting principal; ``''`` for the control
  plane's own callers); the one idempotency constraint is now unique per (scope, key);
- ``worker``, ``job_id``: the backend worker that ran the latest attempt, and the queue's job;
- ``updated_at``: when the row last changed (existing rows: their latest timestamp);
- ``tenant`` may be empty (a fleet-wide drift check), ``owner`` and ``request_hash`` are set when the
  control plane claims the row, ``actor`` holds a principal's full name and ``idempotency_key`` a billing
  event's (``billing:<event id>``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paybill_infra.controlplane.registry import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
"""Names SQLite's reflection gives the unnamed unique constraint of 0001 (``operations.idempotency_key``)."""


def _key_constraint() -> str:
    postgres = op.get_bind().dialect.name == "postgresql"
    return "operations_idempotency_key_key" if postgres else "uq_operations_idempotency_key"


def upgrade() -> None:
    with op.batch_alter_table("operations", naming_convention=NAMING) as batch:
        batch.add_column(sa.Column("idempotency_scope", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("worker", sa.String(200)))
        batch.add_column(sa.Column("job_id", sa.BigInteger()))
        batch.add_column(sa.Column("updated_at", UTCDateTime()))
        batch.alter_column("tenant", existing_type=sa.String(40), nullable=True)
        batch.alter_column("actor", existing_type=sa.String(128), type_=sa.String(200), existing_nullable=False)
        batch.alter_column("request_hash", existing_type=sa.String(64), nullable=True)
        batch.alter_column("idempotency_key", existing_type=sa.String(128), type_=sa.String(200))
        batch.alter_column("owner", existing_type=sa.String(200), nullable=True)
        batch.drop_constraint(_key_constraint(), type_="unique")
        batch.create_unique_constraint("operations_idempotency", ["idempotency_scope", "idempotency_key"])
    op.execute("UPDATE operations SET updated_at = COALESCE(finished_at, started_at, created_at)")
    with op.batch_alter_table("operations") as batch:
        batch.alter_column("updated_at", existing_type=UTCDateTime(), nullable=False)


def downgrade() -> None:
    op.execute("DELETE FROM operations WHERE owner IS NULL OR tenant IS NULL")
    with op.batch_alter_table("operations") as batch:
        batch.drop_constraint("operations_idempotency", type_="unique")
        batch.create_unique_constraint(_key_constraint(), ["idempotency_key"])
        batch.alter_column("owner", existing_type=sa.String(200), nullable=False)
        batch.alter_column("idempotency_key", existing_type=sa.String(200), type_=sa.String(128))
        batch.alter_column("request_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("actor", existing_type=sa.String(200), type_=sa.String(128), existing_nullable=False)
        batch.alter_column("tenant", existing_type=sa.String(40), nullable=False)
        batch.drop_column("updated_at")
        batch.drop_column("job_id")
        batch.drop_column("worker")
        batch.drop_column("idempotency_scope")
