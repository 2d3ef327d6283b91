"""Where a tenant lives: stack names per target and region, and bin-packing pooled tenants into pools.

Pools are keyed by (plan, cloud, region): a pooled tenant joins the first pool of its plan *in its target
and region* with room (lowest ordinal), and a full set of pools opens the next one. Within its pool it
takes a seat in the pool's first stack with room: the pool's own stack (which also holds the pool's
database) and then its shards, each holding at most ``shard_size`` members, so a tenant's engine runs never
handle more members than that, whatever the pool's capacity. Names are pure functions of the key and the
ordinals, so the same registry always maps to the same stacks on every machine, and the local target keeps
the names it had before fleets spanned several targets.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from paybill_infra.controlplane.registry import PoolRow, PoolShardRow, SchemaVersionRow, TenantRow
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


def shard_stack(pool_stack: str, ordinal: int) -> str:
    """The ``ordinal``-th shard of the pool whose first stack is ``pool_stack`` (ordinal 1 and up)."""
    return make_name(_STACK_RULE, pool_stack, f"s{ordinal:02d}")


def tenant_stack(target: Target, region: str, slug: str, isolation: Isolation) -> str:
    """One stack per silo/bridge tenant, target, region and isolation: a migration's source and target
    never share one."""
    return stack_name(target, region, "tenant", slug, isolation.value)


def infra_stack(stack: str) -> str:
    """The infrastructure twin of a database-layer stack (cloud targets only)."""
    return make_name(_STACK_RULE, stack, INFRA_SUFFIX)


def place(
    session: Session, slug: str, plan: Plan, target: Target, region: str, shard_size: int
) -> tuple[str, int | None]:
    """The stack (and pool) for ``slug`` on ``plan`` in ``target``/``region``. Runs in the registry
    transaction, so two concurrent placements cannot overfill a pool or a shard, or open two (SQLite
    serialises writers; on PostgreSQL placements of one pool key take turns on an advisory lock of the
    registry database)."""
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
    stack, shard = seat(session, pool, shard_size)
    if shard is not None:
        session.add(PoolShardRow(pool_id=pool.id, ordinal=shard, stack=stack))
        session.flush()
    return stack, pool.id


def seat(session: Session, pool: PoolRow, shard_size: int) -> tuple[str, int | None]:
    """The stack of ``pool`` a new member joins: its first stack with fewer than ``shard_size`` members (the
    pool's own, then its shards by ordinal), with the ordinal of a shard to open when every one is full
    (``None``: the stack exists)."""
    counts = dict(
        session.execute(
            select(TenantRow.stack, func.count())
            .where(TenantRow.pool_id == pool.id, TenantRow.stack.is_not(None))
            .group_by(TenantRow.stack)
        ).all()
    )
    for stack, n in session.execute(
        select(TenantRow.target_stack, func.count())
        .where(TenantRow.target_pool_id == pool.id, TenantRow.target_stack.is_not(None))
        .group_by(TenantRow.target_stack)
    ).all():
        counts[stack] = counts.get(stack, 0) + n
    shards = session.execute(
        select(PoolShardRow.ordinal, PoolShardRow.stack)
        .where(PoolShardRow.pool_id == pool.id)
        .order_by(PoolShardRow.ordinal)
    ).all()
    for stack in (pool.stack, *(s for _, s in shards)):
        if counts.get(stack, 0) < shard_size:
            return stack, None
    ordinal = next(n for n in range(1, len(shards) + 2) if n not in {o for o, _ in shards})
    return shard_stack(pool.stack, ordinal), ordinal


def pool_of(session: Session, stack: str) -> PoolRow | None:
    """The pool ``stack`` is a stack of (its own stack or one of its shards), if any."""
    pool = session.scalars(select(PoolRow).where(PoolRow.stack == stack)).one_or_none()
    if pool is not None:
        return pool
    shard = session.scalars(select(PoolShardRow).where(PoolShardRow.stack == stack)).one_or_none()
    return session.get(PoolRow, shard.pool_id) if shard is not None else None


def newest_version(session: Session) -> int:
    """The data schema version new tenants and pools are created at: the newest recorded (1 before any)."""
    return session.scalar(select(func.max(SchemaVersionRow.number))) or 1


def peek_place(
    session: Session, slug: str, plan: Plan, target: Target, region: str, shard_size: int
) -> tuple[str, PoolRow | None]:
    """Where :func:`place` would put ``slug`` (and in which existing pool, if any), without recording
    anything (for previews)."""
    if plan.isolation is not Isolation.POOLED:
        return tenant_stack(target, region, slug, plan.isolation), None
    pool = free_pool(session, plan, target.cloud, region, lock=False)
    if pool is not None:
        return seat(session, pool, shard_size)[0], pool
    return pool_stack(target, region, plan.name, next_ordinal(session, plan.name, target.cloud, region)), None


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
