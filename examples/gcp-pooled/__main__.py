"""One pooled tenant on Google Cloud and the shared pool it is built against.

Config: `paybill:project` (required); `paybill:region`, `paybill:tenant`, `paybill:tenantName`
(optional).
"""

from decimal import Decimal

import pulumi

from paybill_infra.clouds.gcp import GcpPlatform, GcpPlatformArgs, GcpTenant, GcpTenantArgs
from paybill_infra.contract import TENANT_OUTPUTS
from paybill_infra.schema import Cloud, DatabaseSize, Isolation, Plan, PlanLimits, Price, Tenant
from paybill_infra.topology import CloudDefaults, resolve_topology

config = pulumi.Config("paybill")
region = config.get("region") or "europe-west1"
plan = Plan(
    name="starter",
    tier=10,
    isolation=Isolation.POOLED,
    limits=PlanLimits(database_size=DatabaseSize.SMALL, storage_gb=5),
    price=Price(amount=Decimal("29.00"), currency="USD"),
    billing_id="price_starter",
)
tenant = Tenant(
    slug=config.get("tenant") or "acme", display_name=config.get("tenantName") or "Acme Corp", plan=plan.name
)
topology = resolve_topology(plan, tenant, CloudDefaults(cloud=Cloud.GCP, region=region, allowed_regions=(region,)))

platform = GcpPlatform("pool", GcpPlatformArgs(name="pool-main", region=region, project=config.require("project")))
acme = GcpTenant(topology.tenant, GcpTenantArgs(topology=topology, pool=platform.pool))

pulumi.export("tenant", {name: getattr(acme, name) for name in TENANT_OUTPUTS})
