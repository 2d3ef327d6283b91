"""A fleet on two clouds and two regions: separate pools per (plan, cloud, region), and a tenant moved to
another region with its data migrated between the two regions' servers, checked as the tenant sees it."""

from __future__ import annotations

import pytest

from paybill_infra.controlplane import ControlPlane, OperationStatus
from paybill_infra.controlplane.placement import infra_stack, shard_stack
from paybill_infra.errors import PaybillError
from paybill_infra.schema.enums import Cloud
from tests.targets.conftest import Fleet
from tests.targets.test_every_cloud import login, own_rows, seed

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


def test_pools_per_cloud_and_region_and_a_move_between_regions(fleet: Fleet, plane: ControlPlane) -> None:
    for cloud, region in ((Cloud.AWS, "eu-west-1"), (Cloud.AWS, "eu-central-1"), (Cloud.GCP, "europe-west1")):
        fleet.stand_ins.admin(cloud, region, "platform")  # started before the engine runs (see test_every_cloud)
    requests = [
        {"slug": "eu1", "display_name": "EU one", "plan": "starter", "cloud": "aws", "region": "eu-west-1"},
        {"slug": "eu2", "display_name": "EU two", "plan": "starter", "cloud": "aws", "region": "eu-west-1"},
        {"slug": "fra", "display_name": "Frankfurt", "plan": "starter", "cloud": "aws", "region": "eu-central-1"},
        {"slug": "gee", "display_name": "Google", "plan": "starter", "cloud": "gcp"},
        {"slug": "loc", "display_name": "Local", "plan": "starter"},
    ]
    outcomes = plane.onboard_many(requests)
    assert all(not isinstance(o, PaybillError) for o in outcomes), outcomes
    pools = {(p.cloud, p.region): p for p in plane.status().pools}
    assert {key: pool.members for key, pool in pools.items()} == {
        (Cloud.AWS, "eu-west-1"): 2,
        (Cloud.AWS, "eu-central-1"): 1,
        (Cloud.GCP, "europe-west1"): 1,
        (Cloud.LOCAL, "local"): 1,
    }
    assert len({pool.stack for pool in pools.values()}) == 4
    assert plane.show("loc").stack == "pool-starter-001", "local stack names are unchanged"
    listed = {t.slug: (t.cloud, t.region) for t in plane.tenants()}
    assert listed["fra"] == (Cloud.AWS, "eu-central-1") and listed["gee"] == (Cloud.GCP, "europe-west1")

    seed(plane, "eu1")
    seed(plane, "eu2")
    before = own_rows(plane, "eu1")
    neighbour = own_rows(plane, "eu2")

    moved = plane.move("eu1", cloud="aws", region="eu-central-1")
    assert moved.status is OperationStatus.SUCCEEDED and moved.summary["rows"] == {"customers": 2, "invoices": 2}
    view = plane.show("eu1")
    assert (view.cloud, view.region, view.stack) == (Cloud.AWS, "eu-central-1", "aws-eu-central-1-pool-starter-001")
    assert own_rows(plane, "eu1") == before, "the tenant sees exactly its rows in the new region"
    assert own_rows(plane, "eu2") == neighbour, "the pool neighbour left behind is untouched"
    source_rows = fleet.stand_ins.query(
        Cloud.AWS,
        "eu-west-1",
        "SELECT count(*) FROM pooled.customers WHERE tenant_id = 'eu1'",
        dbname=view.database or "",
    )
    assert source_rows == [(0,)], "nothing of the tenant stays in the old region"
    with login(plane, "eu1") as conn:
        assert conn.info.host == fleet.stand_ins.admin(Cloud.AWS, "eu-central-1").host

    with pytest.raises(PaybillError, match="already in aws/eu-central-1"):
        plane.move("eu1", cloud="aws", region="eu-central-1")
    with pytest.raises(PaybillError, match="unknown region 'us-east-1'"):
        plane.move("eu1", cloud="aws", region="us-east-1")
    assert plane.show("eu1").region == "eu-central-1"
    for slug in ("eu1", "eu2", "fra", "gee", "loc"):
        plane.offboard(slug)


def test_a_cloud_pool_spreads_over_shards_each_with_its_own_infrastructure(fleet: Fleet) -> None:
    """With one member per stack, a second pooled tenant goes to a shard: its cloud resources live in the
    shard's infrastructure twin, its data in the pool's one database on the region's server; the pool's stack
    outlives its own member while the shard holds one, and the last member out takes everything down."""
    fleet.stand_ins.admin(Cloud.AWS, "eu-west-1", "platform")
    settings = fleet.settings.model_copy(update={"pool_shard_size": 1})
    with ControlPlane(settings, infra=fleet.infra) as plane:
        requests = [{"slug": s, "display_name": s, "plan": "team", "cloud": "aws"} for s in ("sh1", "sh2")]
        outcomes = plane.onboard_many(requests)
        assert all(not isinstance(o, PaybillError) and o.status is OperationStatus.SUCCEEDED for o in outcomes)
        pool = "aws-eu-west-1-pool-team-001"
        stacks = {slug: plane.show(slug).stack or "" for slug in ("sh1", "sh2")}
        assert sorted(stacks.values()) == [pool, shard_stack(pool, 1)]
        for slug, stack in stacks.items():
            twin = " ".join(name for _, name in fleet.infra.resources(infra_stack(stack)))
            assert slug in twin and all(o not in twin for o in stacks if o != slug), (stack, twin)
        assert len({plane.show(slug).database for slug in stacks}) == 1
        for slug in stacks:
            seed(plane, slug)
            assert {row[0] for row in own_rows(plane, slug)} == {"ann", "bob"}
        resident = next(slug for slug, stack in stacks.items() if stack == pool)
        sharded = next(slug for slug, stack in stacks.items() if stack != pool)
        plane.offboard(resident)
        assert plane.stacks.exists(pool) and fleet.infra.exists(infra_stack(pool))
        with login(plane, sharded) as conn:
            assert conn.execute("SELECT count(*) FROM pooled.customers").fetchone() == (2,)
        plane.offboard(sharded)
        for stack in stacks.values():
            assert not plane.stacks.exists(stack) and not fleet.infra.exists(infra_stack(stack))
        assert [p for p in plane.status().pools if p.plan == "team"] == []
