"""The control plane's start-up check refuses a registry that still carries old-scheme names (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paybill_infra.controlplane import migrations
from paybill_infra.controlplane.naming_check import ensure_current_names, legacy_names
from paybill_infra.controlplane.registry import PoolRow, Registry, TenantRow, make_engine
from paybill_infra.controlplane.stacks import pool_database, pool_owner, tenant_role
from paybill_infra.errors import LegacyNamesError


def registry_with(tmp_path: Path, *, role: str, target_role: str | None, database: str, owner: str) -> Registry:
    engine = make_engine(f"sqlite:///{tmp_path / 'control.db'}")
    migrations.upgrade(engine)
    registry = Registry(engine)
    with registry.transaction() as session:
        pool = PoolRow(plan="starter", ordinal=1, stack="pool-starter-001", database=database, owner=owner, capacity=5)
        session.add(pool)
        session.flush()
        session.add(
            TenantRow(
                slug="acme",
                display_name="Acme",
                plan="starter",
                isolation="pooled",
                state="active",
                pool_id=pool.id,
                role=role,
                generation=1,
                target_role=target_role,
            )
        )
    return registry


def test_a_registry_with_current_names_passes(tmp_path: Path) -> None:
    registry = registry_with(
        tmp_path,
        role=tenant_role("acme", 1),
        target_role=tenant_role("acme", 2),
        database=pool_database("starter", 1),
        owner=pool_owner("starter", 1),
    )
    ensure_current_names(registry)
    assert legacy_names(registry) == []


def test_old_scheme_names_stop_the_control_plane_with_every_record_named(tmp_path: Path) -> None:
    registry = registry_with(
        tmp_path,
        role="t_acme_g1",
        target_role="t_acme_g2",
        database="pb_pool_starter_001",
        owner="pb_pool_starter_001_owner",
    )
    with pytest.raises(LegacyNamesError) as info:
        ensure_current_names(registry)
    assert list(info.value.legacy) == [
        "tenant 'acme' role: t_acme_g1 -> r_acme__g1",
        "tenant 'acme' target_role: t_acme_g2 -> r_acme__g2",
        "pool 'starter' #1 database: pb_pool_starter_001 -> pool_starter__001",
        "pool 'starter' #1 owner: pb_pool_starter_001_owner -> poolowner_starter__001",
    ]
    assert "README: 'In-database names'" in str(info.value)
