"""Every cloud through the control plane: a pooled, a bridge and a silo tenant onboarded, a pooled tenant
migrated to silo, suspend and resume, offboarding; one control plane running the five clouds at once.

The clouds' infrastructure runs under the recording mock runner; the database layer runs on the real
engine against a real PostgreSQL standing in for each region's managed servers. Every check reads
PostgreSQL's own catalogs, the infrastructure the mock runner holds, or logs in as the tenant.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from paybill_infra.controlplane import ControlPlane, OperationStatus, TenantState
from paybill_infra.controlplane.placement import infra_stack
from paybill_infra.errors import PaybillError
from paybill_infra.schema.enums import Cloud
from tests.targets.conftest import REGIONS, Fleet
from tests.tenant_data import login, own_rows

pytestmark = [pytest.mark.engine, pytest.mark.postgres]

CLOUDS = (Cloud.AWS, Cloud.AZURE, Cloud.GCP, Cloud.OCI, Cloud.IBM)
KEY = {
    Cloud.AWS: "aws:kms/key:Key",
    Cloud.AZURE: "azure-native:keyvault:Key",
    Cloud.GCP: "gcp:kms/cryptoKey:CryptoKey",
    Cloud.OCI: "oci:Kms/key:Key",
    Cloud.IBM: "ibm:index/kmsKey:KmsKey",
}
SERVER = {
    Cloud.AWS: "aws:rds/instance:Instance",
    Cloud.AZURE: "azure-native:dbforpostgresql:Server",
    Cloud.GCP: "gcp:sql/databaseInstance:DatabaseInstance",
    Cloud.OCI: "oci:Psql/dbSystem:DbSystem",
    Cloud.IBM: "ibm:index/database:Database",
}


def seed(plane: ControlPlane, slug: str) -> None:
    schema = plane.show(slug).schema_name
    with login(plane, slug) as conn:
        for name, cents in (("ann", 100), ("bob", 250)):
            cid = conn.execute(
                f'INSERT INTO "{schema}".customers (tenant_id, name, email) VALUES (%s, %s, %s) RETURNING id',
                (slug, name, f"{name}@{slug}.example"),
            ).fetchone()
            assert cid is not None
            conn.execute(
                f'INSERT INTO "{schema}".invoices (tenant_id, customer_id, amount_cents, status) '
                "VALUES (%s, %s, %s, 'open')",
                (slug, cid[0], cents),
            )


def lifecycle(fleet: Fleet, plane: ControlPlane, cloud: Cloud) -> None:
    region = REGIONS[cloud][0]
    pooled, bridge, silo = f"pool{cloud.value}", f"bridge{cloud.value}", f"silo{cloud.value}"
    requests = [
        {"slug": slug, "display_name": slug.title(), "plan": plan, "cloud": cloud.value}
        for slug, plan in ((pooled, "starter"), (bridge, "growth"), (silo, "enterprise"))
    ]
    outcomes = plane.onboard_many(requests)
    assert all(not isinstance(o, PaybillError) and o.status is OperationStatus.SUCCEEDED for o in outcomes), outcomes

    # Stack names and pool placement per (plan, cloud, region).
    prefix = f"{cloud.value}-{region}"
    views = {slug: plane.show(slug) for slug in (pooled, bridge, silo)}
    assert {v.cloud for v in views.values()} == {cloud} and {v.region for v in views.values()} == {region}
    assert views[pooled].stack == f"{prefix}-pool-starter-001"
    assert views[bridge].stack == f"{prefix}-tenant-{bridge}-bridge"
    assert views[silo].stack == f"{prefix}-tenant-{silo}-silo"
    pools = [p for p in plane.status().pools if p.cloud is cloud]
    assert [(p.plan, p.region, p.members) for p in pools] == [("starter", region, 1)]

    # The cloud resources of each stack: a silo has its own key and server; a pooled tenant adds neither.
    silo_types = {t for t, _ in fleet.infra.resources(infra_stack(views[silo].stack or ""))}
    assert {KEY[cloud], SERVER[cloud]} <= silo_types, silo_types
    pool_types = {t for t, _ in fleet.infra.resources(infra_stack(views[pooled].stack or ""))}
    assert pool_types and not {KEY[cloud], SERVER[cloud]} & pool_types, pool_types
    platform_types = {t for t, _ in fleet.infra.resources(infra_stack(f"{prefix}-platform"))}
    assert KEY[cloud] in platform_types

    # In PostgreSQL: the pooled tenant's role is confined by FORCE'd row-level security.
    seed(plane, pooled)
    pool_db = views[pooled].database or ""
    forced = fleet.stand_ins.query(
        cloud,
        region,
        "SELECT bool_and(relrowsecurity AND relforcerowsecurity) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'pooled' AND c.relkind = 'r'",
        dbname=pool_db,
    )
    assert forced == [(True,)]
    with login(plane, pooled) as conn:
        conn.execute("SET app.tenant_id = 'someone-else'")
        assert conn.execute("SELECT count(*) FROM pooled.customers WHERE tenant_id <> %s", (pooled,)).fetchone() == (0,)
    before = own_rows(plane, pooled)
    assert len(before) == 2

    # Pooled -> silo: the rows are moved, verified, and seen by the tenant's new role in its own database.
    moved = plane.change_plan(pooled, "enterprise")
    assert moved.status is OperationStatus.SUCCEEDED and moved.summary["rows"] == {"customers": 2, "invoices": 2}
    after = plane.show(pooled)
    assert after.isolation.value == "silo" and after.stack == f"{prefix}-tenant-{pooled}-silo"
    assert own_rows(plane, pooled) == before
    assert not fleet.infra.exists(infra_stack(views[pooled].stack or "")), "the emptied pool's infrastructure stays"
    assert [p for p in plane.status().pools if p.cloud is cloud] == []

    # Suspend: the role cannot log in; resume: it can again.
    plane.suspend(silo)
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        login(plane, silo).close()
    plane.resume(silo)
    login(plane, silo).close()

    # Offboarding leaves no tenant stack, infrastructure, role or database behind.
    roles = {slug: plane.credentials(slug).user for slug in (pooled, bridge, silo)}
    for slug in (pooled, bridge, silo):
        assert plane.offboard(slug).status is OperationStatus.SUCCEEDED
        view = plane.show(slug)
        assert view.state is TenantState.OFFBOARDED and view.stack is None
    leftover = [s for s in plane.status().stacks if s.startswith(prefix) and s != f"{prefix}-platform"]
    assert leftover == []
    for slug in (pooled, bridge, silo):
        assert not fleet.infra.exists(infra_stack(f"{prefix}-tenant-{slug}-silo"))
        assert not fleet.infra.exists(infra_stack(f"{prefix}-tenant-{slug}-bridge"))
    for owner in [o for c, r, o in fleet.stand_ins.servers if (c, r) == (cloud, region)]:
        found = fleet.stand_ins.query(
            cloud, region, "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", list(roles.values()), owner=owner
        )
        assert found == [], (owner, found)
        databases = {r[0] for r in fleet.stand_ins.query(cloud, region, "SELECT datname FROM pg_database", owner=owner)}
        assert not any(slug in d for d in databases for slug in (pooled, bridge, silo)), (owner, databases)


def test_every_cloud_through_one_control_plane(fleet: Fleet, plane: ControlPlane) -> None:
    """The five clouds' lifecycles run at once on one control plane (its workers bound the engine runs).

    The servers standing in for the clouds' are started first, so the engine runs do not wait on them."""
    for cloud in CLOUDS:
        for owner in ("platform", f"pool{cloud.value}", f"bridge{cloud.value}", f"silo{cloud.value}"):
            fleet.stand_ins.admin(cloud, REGIONS[cloud][0], owner)
    with ThreadPoolExecutor(len(CLOUDS)) as pool:
        runs = {cloud: pool.submit(lifecycle, fleet, plane, cloud) for cloud in CLOUDS}
    failures = {cloud: run.exception() for cloud, run in runs.items() if run.exception() is not None}
    for cloud, error in failures.items():
        raise AssertionError(f"{cloud}: {error!r}") from error
