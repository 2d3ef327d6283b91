"""One bridge tenant on Azure and the shared pool it is built against.

Config: `azure-native:location` (the region: the program and the provider both use it, default westeurope);
`azure-native:subscriptionId`, `azure-native:tenantId` (required); `paybill:tenant`, `paybill:tenantName`
(optional).
"""

from decimal import Decimal

import pulumi
import pulumi_azure_native as azure_native

from paybill_infra.clouds.azure import AzurePlatform, AzurePlatformArgs, AzureTenant, AzureTenantArgs
from paybill_infra.contract import TENANT_OUTPUTS
from paybill_infra.schema import Cloud, DatabaseSize, Isolation, Plan, PlanLimits, Price, Tenant
from paybill_infra.topology import CloudDefaults, resolve_topology

config = pulumi.Config("paybill")
region = pulumi.Config("azure-native").get("location") or "westeurope"
subscription_id = pulumi.Config("azure-native").require("subscriptionId")
entra_tenant_id = pulumi.Config("azure-native").require("tenantId")
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
defaults = CloudDefaults(cloud=Cloud.AZURE, region=region, allowed_regions=(region,))
topology = resolve_topology(plan, tenant, defaults)

# Every resource goes to the configured region: the components' children inherit this provider.
provider = azure_native.Provider("azure", location=region, subscription_id=subscription_id, tenant_id=entra_tenant_id)
opts = pulumi.ResourceOptions(providers=[provider])
platform = AzurePlatform(
    "pool",
    AzurePlatformArgs(
        name="pool-main", location=region, subscription_id=subscription_id, entra_tenant_id=entra_tenant_id
    ),
    opts=opts,
)
acme = AzureTenant(topology.tenant, AzureTenantArgs(topology=topology, pool=platform.pool), opts=opts)

pulumi.export("tenant", {name: getattr(acme, name) for name in TENANT_OUTPUTS})
