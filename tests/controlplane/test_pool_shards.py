"""A pool larger than ``pool_shard_size`` spreads its members over shards: stacks beside the pool's own stack,
over the pool's one database. A tenant's runs touch only its shard; the pool's stack keeps the database while
any shard holds members, and the last member out takes the shard and then the pool down. Real engine,
embedded PostgreSQL (a shard size of 2, so five members make three stacks).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest
from sqlalchemy import select

from paybill_infra.controlplane import ControlPlane, OnboardRequest, OperationStatus, RetentionPolicy
from paybill_infra.controlplane.placement import shard_stack
from paybill_infra.controlplane.registry import PoolRow, PoolShardRow
from tests.controlplane.conftest import Env
from tests.controlplane.test_pool_scope import can_log_in, components
from tests.tenant_data import login

pytestmark = [pytest.mark.engine, pytest.mark.postgres]

MEMBERS = ("s-ada", "s-bob", "s-cyd", "s-dan", "s-eve")


@pytest.fixture(scope="module")
def sharded(env: Env) -> Iterator[ControlPlane]:
    with ControlPlane(env.settings.model_copy(update={"pool_shard_size": 2})) as plane:
        yield plane


@pytest.fixture(scope="module")
def pool(sharded: ControlPlane) -> str:
    """Five members of one pool, onboarded in one batch: two in the pool's stack, two and one in shards."""
    results = sharded.onboard_many([{"slug": s, "display_name": s, "plan": "team"} for s in MEMBERS])
    assert all(not isinstance(r, Exception) and r.status is OperationStatus.SUCCEEDED for r in results)
    with sharded.registry.transaction() as session:
        (name,) = session.scalars(select(PoolRow.stack))
    return name


@pytest.fixture(scope="module")
def held(sharded: ControlPlane, pool: str) -> dict[str, list[str]]:
    """Per stack of the pool (its own, then its shards), the members placed on it."""
    placed = {slug: sharded.show(slug).stack or "" for slug in MEMBERS}
    stacks = (pool, shard_stack(pool, 1), shard_stack(pool, 2))
    return {stack: sorted(s for s, at in placed.items() if at == stack) for stack in stacks}


def database_exists(env: Env, name: str) -> bool:
    return bool(env.query("SELECT 1 FROM pg_database WHERE datname = %s", name))


def test_members_beyond_the_shard_size_live_in_shards_over_the_pools_database(
    sharded: ControlPlane, held: dict[str, list[str]]
) -> None:
    assert [len(members) for members in held.values()] == [2, 2, 1], held
    (listed,) = sharded.status().pools
    assert (listed.members, listed.shards) == (5, tuple(list(held)[1:]))
    for stack, members in held.items():
        assert sorted(components(sharded, stack)) == members
    databases = {sharded.credentials(slug).database for slug in MEMBERS}
    assert len(databases) == 1
    for slug in MEMBERS:
        with login(sharded, slug) as conn:
            conn.execute("INSERT INTO pooled.customers (tenant_id, name) VALUES (%s, %s)", (slug, f"{slug}-own"))
    for slug in MEMBERS:
        with login(sharded, slug) as conn:
            seen = conn.execute("SELECT tenant_id, name FROM pooled.customers").fetchall()
        assert seen == [(slug, f"{slug}-own")], "row-level security let a member of another stack through"


def test_a_member_of_a_shard_is_suspended_by_a_run_of_its_shard_alone(
    sharded: ControlPlane, pool: str, held: dict[str, list[str]]
) -> None:
    shard = shard_stack(pool, 1)
    one, other = held[shard]
    before = sharded.stacks.resources(pool, lambda: None)
    result = sharded.suspend(one, reason="test")
    assert result.summary["stack"] == shard
    assert {k: v for k, v in result.summary["changes"].items() if k != "same"} == {"update": 1}
    assert not can_log_in(sharded, one)
    assert can_log_in(sharded, other)
    assert sharded.stacks.resources(pool, lambda: None) == before, "a shard member's run touched the pool stack"
    sharded.resume(one)
    assert can_log_in(sharded, one)


def test_a_new_member_is_previewed_and_placed_in_the_first_stack_with_room(sharded: ControlPlane, pool: str) -> None:
    preview = sharded.preview_onboard(OnboardRequest(slug="s-fay", display_name="Fay", plan="team"))
    assert [s.stack for s in preview.stacks] == [shard_stack(pool, 2)]
    assert preview.stacks[0].changes.get("create") == 3


def test_a_shard_destroyed_under_a_new_placement_keeps_its_record_and_is_built_again(
    sharded: ControlPlane, pool: str, held: dict[str, list[str]]
) -> None:
    """A destroy decided from a spec read before a tenant was placed in the shard (the race of an
    offboarding and an onboarding) must not forget the shard the new tenant is placed in."""
    shard = shard_stack(pool, 2)
    with sharded.registry.transaction() as session:
        spec = sharded.reconciler.spec(session, shard)
    sharded.reconciler._destroy(replace(spec, members=()), None)
    assert not sharded.stacks.exists(shard)
    with sharded.registry.transaction() as session:
        assert session.scalars(select(PoolShardRow.stack).where(PoolShardRow.stack == shard)).one_or_none() == shard
    sharded.converge()
    assert sorted(components(sharded, shard)) == held[shard]
    assert all(can_log_in(sharded, slug) for slug in held[shard])


def test_the_last_members_out_take_their_shard_and_then_the_pool_down(
    env: Env, sharded: ControlPlane, pool: str, held: dict[str, list[str]]
) -> None:
    first, second = shard_stack(pool, 1), shard_stack(pool, 2)
    for slug in held[second]:
        sharded.offboard(slug, retention=RetentionPolicy.NONE)
    assert not sharded.stacks.exists(second)
    for slug in held[pool]:
        sharded.offboard(slug, retention=RetentionPolicy.NONE)
    assert sharded.stacks.exists(pool), "the pool's stack went while a shard still held members"
    assert components(sharded, pool) == {}
    with sharded.registry.transaction() as session:
        (database,) = session.scalars(select(PoolRow.database))
        assert list(session.scalars(select(PoolShardRow.stack))) == [first]
    assert database_exists(env, database)
    assert all(can_log_in(sharded, slug) for slug in held[first])
    for slug in held[first]:
        sharded.offboard(slug, retention=RetentionPolicy.NONE)
    assert not sharded.stacks.exists(first)
    assert not sharded.stacks.exists(pool)
    with sharded.registry.transaction() as session:
        assert session.scalars(select(PoolRow)).first() is None
        assert session.scalars(select(PoolShardRow)).first() is None
    assert not database_exists(env, database)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(env.server.ensure_running().conninfo(database), connect_timeout=5).close()
