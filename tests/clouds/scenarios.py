"""Scenarios for the cloud component tests: one pool and one tenant per (cloud, isolation), run once per session
under Pulumi's mocks (see ``harness``) and shared by every test that inspects it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from harness import Run, run_program

from paybill_infra.clouds import components_for
from paybill_infra.contract import TENANT_OUTPUTS
from paybill_infra.schema import Cloud, DatabaseSize, Isolation, Plan, PlanLimits, Price, Tenant
from paybill_infra.topology import CloudDefaults, Topology, resolve_topology

REGIONS = {
    Cloud.AWS: "eu-west-1",
    Cloud.AZURE: "westeurope",
    Cloud.GCP: "europe-west1",
    Cloud.OCI: "eu-frankfurt-1",
    Cloud.IBM: "eu-de",
}
CLOUDS = tuple(REGIONS)
LONGEST_SLUG = "a" + "b1-" * 12 + "xyz"
"""A legal slug of the maximum length (40)."""


def platform_args(cloud: Cloud, **overrides: Any) -> Any:
    region = REGIONS[cloud]
    base: dict[Cloud, dict[str, Any]] = {
        Cloud.AWS: {"name": "pool-eu", "region": region},
        Cloud.AZURE: {
            "name": "pool-eu",
            "location": region,
            "subscription_id": "00000000-0000-0000-0000-000000000001",
            "entra_tenant_id": "00000000-0000-0000-0000-000000000002",
        },
        Cloud.GCP: {"name": "pool-eu", "project": "paybill-prod", "region": region},
        Cloud.OCI: {
            "name": "pool-eu",
            "region": region,
            "tenancy_ocid": "ocid1.tenancy.oc1..aaaa",
            "parent_compartment_id": "ocid1.compartment.oc1..bbbb",
        },
        Cloud.IBM: {"name": "pool-eu", "region": region},
    }
    return components_for(cloud).platform_args(**{**base[cloud], **overrides})


def topology(
    cloud: Cloud, isolation: Isolation, *, slug: str = "acme", dedicated: bool = False, region: str | None = None
) -> Topology:
    plan = Plan(
        name="pro",
        tier=20,
        isolation=isolation,
        billing_id="price_pro",
        price=Price(amount=Decimal("99.00"), currency="USD"),
        dedicated_server=dedicated,
        limits=PlanLimits(database_size=DatabaseSize.MEDIUM, storage_gb=50),
    )
    region = region or REGIONS[cloud]
    defaults = CloudDefaults(cloud=cloud, region=region, allowed_regions=(region,))
    return resolve_topology(plan, Tenant(slug=slug, display_name="Acme Corp", plan="pro"), defaults)


def tenant_program(cloud: Cloud, topo: Topology, **platform_overrides: Any) -> Callable[[], dict[str, Any]]:
    def program() -> dict[str, Any]:
        parts = components_for(cloud)
        platform = parts.platform("pool", platform_args(cloud, **platform_overrides))
        tenant = parts.tenant(topo.tenant, parts.tenant_args(topology=topo, pool=platform.pool))  # type: ignore[attr-defined]
        return {name: getattr(tenant, name) for name in TENANT_OUTPUTS}

    return program


_RUNS: dict[tuple[Any, ...], Run] = {}


def scenario(cloud: Cloud, isolation: Isolation, *, slug: str = "acme", dedicated: bool = False) -> Run:
    key = (cloud, isolation, slug, dedicated)
    if key not in _RUNS:
        _RUNS[key] = run_program(tenant_program(cloud, topology(cloud, isolation, slug=slug, dedicated=dedicated)))
    return _RUNS[key]


@pytest.fixture(params=[(c, i) for c in CLOUDS for i in Isolation], ids=lambda p: f"{p[0]}-{p[1]}")
def combo(request: pytest.FixtureRequest) -> tuple[Cloud, Isolation, Run]:
    cloud, isolation = request.param
    return cloud, isolation, scenario(cloud, isolation)
