"""One pooled tenant on GCP and the shared pool it is built against.

Config: `gcp:region` (the region: the program and the provider both use it, default europe-west1);
`gcp:project` (required); `paybill:tenant`, `paybill:tenantName` (optional).
"""

from decimal import Decimal

import pulumi
import pulumi_gcp as gcp

from paybill_infra.clouds.gcp import GcpPlatform, GcpPlatformArgs, GcpTenant, GcpTenantArgs
from paybill_infra.contract import TENANT_OUTPUTS
from paybill_infra.schema import Cloud, DatabaseSize, Isolation, Plan, PlanLimits, Price, Tenant
from paybill_infra.topology import CloudDefaults, resolve_topology

config = pulumi.Config("paybill")
region = pulumi.Config("gcp").get("region") or "europe-west1"
project = pulumi.Config("gcp").require("project")
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
defaults = CloudDefaults(cloud=Cloud.GCP, region=region, allowed_regions=(region,))
topology = resolve_topology(plan, tenant, defaults)

# Every resource goes to the configured region: the components' children inherit this provider.
provider = gcp.Provider("gcp", project=project, region=region)
opts = pulumi.ResourceOptions(providers=[provider])
platform = GcpPlatform("pool", GcpPlatformArgs(name="pool-main", region=region, project=project), opts=opts)
acme = GcpTenant(topology.tenant, GcpTenantArgs(topology=topology, pool=platform.pool), opts=opts)

pulumi.export("tenant", {name: getattr(acme, name) for name in TENANT_OUTPUTS})
