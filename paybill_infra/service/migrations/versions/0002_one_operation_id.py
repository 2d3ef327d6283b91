"""One operation id: the control plane journals a service operation under the service's own id, so the
separate ``control_plane_operation`` column goes (its value was only ever a second name for the same run).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_svc_operations_control_plane_operation", table_name="svc_operations")
    op.drop_column("svc_operations", "control_plane_operation")


def downgrade() -> None:
    op.add_column("svc_operations", sa.Column("control_plane_operation", sa.String(64)))
    op.create_index("ix_svc_operations_control_plane_operation", "svc_operations", ["control_plane_operation"])
