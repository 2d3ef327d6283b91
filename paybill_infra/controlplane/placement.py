"""Where a tenant lives: stack names per target and region, and bin-packing pooled tenants into pools.

Pools are keyed by (plan, cloud, region): a pooled tenant joins the first pool of its plan *in its target
and region* with room (lowest ordinal), and a full set of pools opens the next one. Names are pure
functions of that key, so the same registry always maps to the same stacks on every machine, and the
local target keeps the names it had before fleets spanned several targets.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from paybill_infra.controlplane.registry import PoolRow, SchemaVersionRow, TenantRow
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.schema.plan import Plan
from paybill_infra.targets.base import Target
from paybill_infra.topology.naming import Alphabet, NameRule, make_name, pool_database, pool_owner

_STACK_RULE = NameRule(100, Alphabet.DNS)
INFRA_SUFFIX = "infra"


def stack_name(target: Target, region: str, *parts: str) -> str:
    """The database-layer stack ``parts`` of ``target`` in ``region`` (``platform``, ``pool-<plan>-NNN``,
    ``tenant-<slug>-<isolation>``, prefixed with ``<cloud>-<region>-`` off the local target)."""
    prefix = (target.cloud.value, region) if target.stack_prefix(region) else ()
    return make_name(_STACK_RULE, *prefix, *parts)


def platform_stack(target: Target, region: str) -> str:
    return stack_name(target, region, "platform")


def pool_stack(target: Target, region: str, plan: str, ordinal: int) -> str:
    return stack_name(target, region, "pool", plan, f"{ordinal:03d}")


def tenant_stack(target: Target, region: str, slug: str, isolation: Isolation) -> str:
    """One stack per silo/bridge tenant, target, region and isolation: a migration's source and target
    never share one."""
    return stack_name(target, region, "tenant", slug, isolation.value)


def infra_stack(stack: str) -> str:
    """The infrastructure twin of a database-layer stack (cloud targets only)."""
    return make_name(_STACK_RULE, stack, INFRA_SUFFIX)


def place(session: Session, slug: str, plan: Plan, target: Target, region: str) -> tuple[str, int | None]:
    """The stack (and pool) for ``slug`` on ``plan`` in ``target``/``region``. Runs in the registry
    transaction, so two concurrent placements cannot overfill a pool or open two (SQLite serialises writers;
    on PostgreSQL placements of one pool key take turns on an advisory lock of the registry database)."""
    if plan.isolation is not Isolation.POOLED:
        return tenant_stack(target, region, slug, plan.isolation), None
    if session.get_bind().dialect.name == "postgresql":
        # Row locks cannot guard a key that has no pool yet: two first placements would both open one.
        key = f"paybill:place:{plan.name}:{target.cloud.value}:{region}"
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
    pool = free_pool(session, plan, target.cloud, region, lock=True)
    if pool is None:
        ordinal = next_ordinal(session, plan.name, target.cloud, region)
        pool = PoolRow(
            plan=plan.name,
            cloud=target.cloud,
            region=region,
            ordinal=ordinal,
            stack=pool_stack(target, region, plan.name, ordinal),
            database=pool_database(plan.name, ordinal),
            owner=pool_owner(plan.name, ordinal),
            capacity=plan.pool_capacity,
            schema_version=newest_version(session),
        )
        session.add(pool)
        session.flush()
    return pool.stack, pool.id


def newest_version(session: Session) -> int:
    """The data schema version new tenants and pools are created at: the newest recorded (1 before any)."""
    return session.scalar(select(func.max(SchemaVersionRow.number))) or 1


def peek_place(session: Session, slug: str, plan: Plan, target: Target, region: str) -> str:
    """Where :func:`place` would put ``slug``, without recording anything (for previews)."""
    if plan.isolation is not Isolation.POOLED:
        return tenant_stack(target, region, slug, plan.isolation)
    pool = free_pool(session, plan, target.cloud, region, lock=False)
    if pool is not None:
        return pool.stack
    return pool_stack(target, region, plan.name, next_ordinal(session, plan.name, target.cloud, region))


def next_ordinal(session: Session, plan: str, cloud: Cloud, region: str) -> int:
    """The lowest pool ordinal of the key not in use (a destroyed pool's number is reused)."""
    used = set(
        session.scalars(
            select(PoolRow.ordinal).where(PoolRow.plan == plan, PoolRow.cloud == cloud, PoolRow.region == region)
        )
    )
    return next(n for n in range(1, len(used) + 2) if n not in used)


def free_pool(session: Session, plan: Plan, cloud: Cloud, region: str, *, lock: bool) -> PoolRow | None:
    query = (
        select(PoolRow)
        .where(PoolRow.plan == plan.name, PoolRow.cloud == cloud, PoolRow.region == region)
        .order_by(PoolRow.ordinal)
    )
    for pool in session.scalars(query.with_for_update() if lock else query):
        used = session.scalar(
            select(func.count()).where(or_(TenantRow.pool_id == pool.id, TenantRow.target_pool_id == pool.id))
        )
        if (used or 0) < pool.capacity:
            return pool
    return None
