"""Refuse to run the control plane on a registry whose in-database names predate the collision-proof scheme.

The scheme of :mod:`paybill_infra.topology.naming` renamed every tenant role (``t_acme_app`` -> ``r_acme``,
``t_acme_g2`` -> ``r_acme__g2``) and pool (``pb_pool_gold_001`` -> ``pool_gold__001``). A registry written
before that still points at the old objects; reconciling it with the new names would create a second role
and database beside the old ones, so the control plane stops with the list instead (README: "In-database
names").
"""

from __future__ import annotations

from sqlalchemy import select

from paybill_infra.controlplane.registry import PoolRow, Registry, TenantRow
from paybill_infra.errors import LegacyNamesError
from paybill_infra.topology.naming import pool_database, pool_owner, tenant_role


def legacy_names(registry: Registry) -> list[str]:
    """Every registry record whose stored name differs from what the current scheme derives for it."""
    found: list[str] = []
    with registry.transaction() as session:
        for tenant in session.scalars(select(TenantRow).order_by(TenantRow.slug)):
            expected = {
                "role": (tenant.role, tenant_role(tenant.slug, tenant.generation)),
                "target_role": (tenant.target_role, tenant_role(tenant.slug, tenant.generation + 1)),
            }
            for field, (stored, derived) in expected.items():
                if stored is not None and stored != derived:
                    found.append(f"tenant '{tenant.slug}' {field}: {stored} -> {derived}")
        for pool in session.scalars(select(PoolRow).order_by(PoolRow.plan, PoolRow.ordinal)):
            for field, stored, derived in (
                ("database", pool.database, pool_database(pool.plan, pool.ordinal)),
                ("owner", pool.owner, pool_owner(pool.plan, pool.ordinal)),
            ):
                if stored != derived:
                    found.append(f"pool '{pool.plan}' #{pool.ordinal} {field}: {stored} -> {derived}")
    return found


def ensure_current_names(registry: Registry) -> None:
    """Raise :class:`LegacyNamesError` when any record still carries an old-scheme name; call it at start-up,
    after the registry migrations and before any reconcile."""
    legacy = legacy_names(registry)
    if legacy:
        raise LegacyNamesError(legacy)
