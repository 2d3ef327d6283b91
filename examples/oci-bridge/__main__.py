"""One bridge tenant on OCI and the shared pool it is built against.

Config: `oci:region` (the region: the program and the provider both use it, default eu-frankfurt-1);
`oci:tenancyOcid`, `paybill:compartmentOcid` (required); `paybill:tenant`, `paybill:tenantName` (optional).
"""

from decimal import Decimal

import pulumi
import pulumi_oci as oci

from paybill_infra.clouds.oci import OciPlatform, OciPlatformArgs, OciTenant, OciTenantArgs
from paybill_infra.contract import TENANT_OUTPUTS
from paybill_infra.schema import Cloud, DatabaseSize, Isolation, Plan, PlanLimits, Price, Tenant
from paybill_infra.topology import CloudDefaults, resolve_topology

config = pulumi.Config("paybill")
region = pulumi.Config("oci").get("region") or "eu-frankfurt-1"
tenancy_ocid = pulumi.Config("oci").require("tenancyOcid")
compartment_ocid = pulumi.Config("paybill").require("compartmentOcid")
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
defaults = CloudDefaults(cloud=Cloud.OCI, region=region, allowed_regions=(region,))
topology = resolve_topology(plan, tenant, defaults)

# Every resource goes to the configured region: the components' children inherit this provider.
provider = oci.Provider("oci", region=region, tenancy_ocid=tenancy_ocid)
opts = pulumi.ResourceOptions(providers=[provider])
platform = OciPlatform(
    "pool",
    OciPlatformArgs(name="pool-main", region=region, tenancy_ocid=tenancy_ocid, parent_compartment_id=compartment_ocid),
    opts=opts,
)
acme = OciTenant(topology.tenant, OciTenantArgs(topology=topology, pool=platform.pool), opts=opts)

pulumi.export("tenant", {name: getattr(acme, name) for name in TENANT_OUTPUTS})
