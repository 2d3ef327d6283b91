"""One bridge tenant on Azure and the shared pool it is built against.

Config: `paybill:subscriptionId`, `paybill:entraTenantId` (required);
`paybill:region`, `paybill:tenant`, `paybill:tenantName`
(optional).
"""

from decimal import Decimal

import pulumi

from paybill_infra.clouds.azure import AzurePlatform, AzurePlatformArgs, AzureTenant, AzureTenantArgs
from paybill_infra.contract import TENANT_OUTPUTS
from paybill_infra.schema import Cloud, DatabaseSize, Isolation, Plan, PlanLimits, Price, Tenant
from paybill_infra.topology import CloudDefaults, resolve_topology

config = pulumi.Config("paybill")
region = config.get("region") or "westeurope"
plan = Plan(
    name="growth",
    tier=20,
    isolation=Isolation.BRIDGE,
    limits=PlanLimits(database_size=DatabaseSize.MEDIUM, storage_gb=50),
    price=Price(amount=Decimal("299.00"), currency="USD"),
    billing_id="price_growth",
    dedicated_server=True,
)
tenant = Tenant(
    slug=config.get("tenant") or "acme", display_name=config.get("tenantName") or "Acme Corp", plan=plan.name
)
topology = resolve_topology(plan, tenant, CloudDefaults(cloud=Cloud.AZURE, region=region, allowed_regions=(region,)))

platform = AzurePlatform(
    "pool",
    AzurePlatformArgs(
        name="pool-main",
        location=region,
        subscription_id=config.require("subscriptionId"),
        entra_tenant_id=config.require("entraTenantId"),
    ),
)
acme = AzureTenant(topology.tenant, AzureTenantArgs(topology=topology, pool=platform.pool))

pulumi.export("tenant", {name: getattr(acme, name) for name in TENANT_OUTPUTS})
