"""One bridge tenant on Oracle Cloud and the shared pool it is built against.

Config: `paybill:tenancyOcid`, `paybill:compartmentOcid` (required);
`paybill:region`, `paybill:tenant`, `paybill:tenantName`
(optional).
"""

from decimal import Decimal

import pulumi

from paybill_infra.clouds.oci import OciPlatform, OciPlatformArgs, OciTenant, OciTenantArgs
from paybill_infra.contract import TENANT_OUTPUTS
from paybill_infra.schema import Cloud, DatabaseSize, Isolation, Plan, PlanLimits, Price, Tenant
from paybill_infra.topology import CloudDefaults, resolve_topology

config = pulumi.Config("paybill")
region = config.get("region") or "eu-frankfurt-1"
plan = Plan(
    name="growth",
    tier=20,
    isolation=Isolation.BRIDGE,
    limits=PlanLimits(database_size=DatabaseSize.MEDIUM, storage_gb=50),
    price=Price(amount=Decimal("299.00"), currency="USD"),
    billing_id="price_growth",
)
tenant = Tenant(
    slug=config.get("tenant") or "acme", display_name=config.get("tenantName") or "Acme Corp", plan=plan.name
)
topology = resolve_topology(plan, tenant, CloudDefaults(cloud=Cloud.OCI, region=region, allowed_regions=(region,)))

platform = OciPlatform(
    "pool",
    OciPlatformArgs(
        name="pool-main",
        region=region,
        tenancy_ocid=config.require("tenancyOcid"),
        parent_compartment_id=config.require("compartmentOcid"),
    ),
)
acme = OciTenant(topology.tenant, OciTenantArgs(topology=topology, pool=platform.pool))

pulumi.export("tenant", {name: getattr(acme, name) for name in TENANT_OUTPUTS})
