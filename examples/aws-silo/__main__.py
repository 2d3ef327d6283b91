"""One silo tenant on AWS and the shared pool it is built against.

Config: `aws:region` (the region: the program and the provider both use it, default eu-west-1);
`paybill:tenant`, `paybill:tenantName` (optional).
"""

from decimal import Decimal

import pulumi
import pulumi_aws as aws

from paybill_infra.clouds.aws import AwsPlatform, AwsPlatformArgs, AwsTenant, AwsTenantArgs
from paybill_infra.contract import TENANT_OUTPUTS
from paybill_infra.schema import Cloud, DatabaseSize, Isolation, Plan, PlanLimits, Price, Tenant
from paybill_infra.topology import CloudDefaults, resolve_topology

config = pulumi.Config("paybill")
region = pulumi.Config("aws").get("region") or "eu-west-1"
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
defaults = CloudDefaults(cloud=Cloud.AWS, region=region, allowed_regions=(region,))
topology = resolve_topology(plan, tenant, defaults)

# Every resource goes to the configured region: the components' children inherit this provider.
provider = aws.Provider("aws", region=region)
opts = pulumi.ResourceOptions(providers=[provider])
platform = AwsPlatform("pool", AwsPlatformArgs(name="pool-main", region=region), opts=opts)
acme = AwsTenant(topology.tenant, AwsTenantArgs(topology=topology, pool=platform.pool), opts=opts)

pulumi.export("tenant", {name: getattr(acme, name) for name in TENANT_OUTPUTS})
