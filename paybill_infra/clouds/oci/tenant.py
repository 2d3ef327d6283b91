"""``paybill:oci:Tenant``: one tenant on Oracle Cloud, isolated as its resolved topology says."""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import dispatch_tenant
from paybill_infra.clouds.oci.bridge import OciBridgeTenant
from paybill_infra.clouds.oci.platform import OciTenantArgs
from paybill_infra.clouds.oci.pooled import OciPooledTenant
from paybill_infra.clouds.oci.silo import OciSiloTenant
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation

BUILDERS = {Isolation.SILO: OciSiloTenant, Isolation.POOLED: OciPooledTenant, Isolation.BRIDGE: OciBridgeTenant}


class OciTenant(TenantComponent):
    """Builds the silo, pooled or bridge component its topology names as a child and publishes its contract."""

    def __init__(self, name: str, args: OciTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("paybill:oci:Tenant", name, None, opts)
        dispatch_tenant(self, name, args, args.topology, Cloud.OCI, BUILDERS, args.pool.isolations)
