"""``paybill:azure:Tenant``: one tenant on Azure, isolated as its resolved topology says."""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.azure.bridge import AzureBridgeTenant
from paybill_infra.clouds.azure.platform import AzureTenantArgs
from paybill_infra.clouds.azure.pooled import AzurePooledTenant
from paybill_infra.clouds.azure.silo import AzureSiloTenant
from paybill_infra.clouds.base import dispatch_tenant
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation

BUILDERS = {Isolation.SILO: AzureSiloTenant, Isolation.POOLED: AzurePooledTenant, Isolation.BRIDGE: AzureBridgeTenant}


class AzureTenant(TenantComponent):
    """Builds the silo, pooled or bridge component its topology names as a child and publishes its contract."""

    def __init__(self, name: str, args: AzureTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("paybill:azure:Tenant", name, None, opts)
        dispatch_tenant(self, name, args, args.topology, Cloud.AZURE, BUILDERS, args.pool.isolations)
