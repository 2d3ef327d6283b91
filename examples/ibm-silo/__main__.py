"""One silo tenant on IBM and the shared pool it is built against.

Config: `ibm:region` (the region: the program and the provider both use it, default eu-de); `paybill:tenant`,
`paybill:tenantName` (optional).
"""

from decimal import Decimal

import pulumi

from paybill_infra.clouds.ibm import IbmPlatform, IbmPlatformArgs, IbmTenant, IbmTenantArgs
from paybill_infra.contract import TENANT_OUTPUTS
from paybill_infra.schema import Cloud, DatabaseSize, Isolation, Plan, PlanLimits, Price, Tenant
from paybill_infra.topology import CloudDefaults, resolve_topology

config = pulumi.Config("paybill")
region = pulumi.Config("ibm").get("region") or "eu-de"
plan = Plan(
    name="enterprise",
    tier=30,
    isolation=Isolation.SILO,
    limits=PlanLimits(database_size=DatabaseSize.LARGE, storage_gb=500),
    price=Price(amount=Decimal("24000.00"), currency="USD"),
    billing_id="price_enterprise",
)
tenant = Tenant(
    slug=config.get("tenant") or "acme", display_name=config.get("tenantName") or "Acme Corp", plan=plan.name
)
defaults = CloudDefaults(cloud=Cloud.IBM, region=region, allowed_regions=(region,))
topology = resolve_topology(plan, tenant, defaults)

platform = IbmPlatform(
    "pool",
    IbmPlatformArgs(name="pool-main", region=region),
)
acme = IbmTenant(topology.tenant, IbmTenantArgs(topology=topology, pool=platform.pool))

pulumi.export("tenant", {name: getattr(acme, name) for name in TENANT_OUTPUTS})
