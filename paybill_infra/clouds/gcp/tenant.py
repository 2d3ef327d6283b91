"""``paybill:gcp:Tenant``: one tenant on Google Cloud, isolated as its resolved topology says."""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import dispatch_tenant
from paybill_infra.clouds.gcp.bridge import GcpBridgeTenant
from paybill_infra.clouds.gcp.platform import GcpTenantArgs
from paybill_infra.clouds.gcp.pooled import GcpPooledTenant
from paybill_infra.clouds.gcp.silo import GcpSiloTenant
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation

BUILDERS = {Isolation.SILO: GcpSiloTenant, Isolation.POOLED: GcpPooledTenant, Isolation.BRIDGE: GcpBridgeTenant}


class GcpTenant(TenantComponent):
    """Builds the silo, pooled or bridge component its topology names as a child and publishes its contract."""

    def __init__(self, name: str, args: GcpTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("paybill:gcp:Tenant", name, None, opts)
        dispatch_tenant(self, name, args, args.topology, Cloud.GCP, BUILDERS, args.pool.isolations)
