"""``paybill:ibm:Tenant``: one tenant on IBM Cloud, isolated as its resolved topology says."""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import dispatch_tenant
from paybill_infra.clouds.ibm.bridge import IbmBridgeTenant
from paybill_infra.clouds.ibm.platform import IbmTenantArgs
from paybill_infra.clouds.ibm.pooled import IbmPooledTenant
from paybill_infra.clouds.ibm.silo import IbmSiloTenant
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation

BUILDERS = {Isolation.SILO: IbmSiloTenant, Isolation.POOLED: IbmPooledTenant, Isolation.BRIDGE: IbmBridgeTenant}


class IbmTenant(TenantComponent):
    """Builds the silo, pooled or bridge component its topology names as a child and publishes its contract."""

    def __init__(self, name: str, args: IbmTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("paybill:ibm:Tenant", name, None, opts)
        dispatch_tenant(self, name, args, args.topology, Cloud.IBM, BUILDERS, args.pool.isolations)
