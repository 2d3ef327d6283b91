"""Multi-target fleets: every tenant and pool carries its cloud and region; pools are keyed by
(plan, cloud, region, ordinal), and a pool's database name is unique per (cloud, region), not fleet-wide.

Existing rows are the local target's (``local``/``local``), which is what every fleet before this revision ran.

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


NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
"""Names SQLite's reflection gives the unnamed unique constraint of 0001 (``pools.database``)."""


def _database_key() -> str:
    return "pools_database_key" if op.get_bind().dialect.name == "postgresql" else "uq_pools_database"


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("cloud", sa.String(16), nullable=False, server_default="local"))
        batch.add_column(sa.Column("region", sa.String(40), nullable=False, server_default="local"))
        batch.add_column(sa.Column("target_cloud", sa.String(16)))
        batch.add_column(sa.Column("target_region", sa.String(40)))
    with op.batch_alter_table("pools", naming_convention=NAMING) as batch:
        batch.add_column(sa.Column("cloud", sa.String(16), nullable=False, server_default="local"))
        batch.add_column(sa.Column("region", sa.String(40), nullable=False, server_default="local"))
        batch.drop_constraint(_database_key(), type_="unique")
        batch.drop_constraint("pools_plan_ordinal_key", type_="unique")
        batch.create_unique_constraint("pools_place_ordinal_key", ["plan", "cloud", "region", "ordinal"])
        batch.create_unique_constraint("pools_place_database_key", ["cloud", "region", "database"])
    with op.batch_alter_table("stacks") as batch:
        batch.add_column(sa.Column("cloud", sa.String(16), nullable=False, server_default="local"))
        batch.add_column(sa.Column("region", sa.String(40), nullable=False, server_default="local"))


def downgrade() -> None:
    with op.batch_alter_table("stacks") as batch:
        batch.drop_column("region")
        batch.drop_column("cloud")
    with op.batch_alter_table("pools") as batch:
        batch.drop_constraint("pools_place_database_key", type_="unique")
        batch.drop_constraint("pools_place_ordinal_key", type_="unique")
        batch.create_unique_constraint("pools_plan_ordinal_key", ["plan", "ordinal"])
        batch.create_unique_constraint(_database_key(), ["database"])
        batch.drop_column("region")
        batch.drop_column("cloud")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("target_region")
        batch.drop_column("target_cloud")
        batch.drop_column("region")
        batch.drop_column("cloud")
