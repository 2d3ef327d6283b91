"""Azure: a shared pool (resource group, VNet, PostgreSQL Flexible Server, Key Vault) and silo, pooled and bridge
tenants.

Importing this package imports ``pulumi_azure_native``; without it the import fails with
:class:`~paybill_infra.clouds.errors.CloudSdkMissingError` naming ``pip install 'paybill-infra[azure]'``.
"""

from paybill_infra.clouds._sdk import require_sdk
from paybill_infra.schema.enums import Cloud

require_sdk(Cloud.AZURE, "pulumi_azure_native", "pulumi_random")

from paybill_infra.clouds.azure.bridge import AzureBridgeTenant  # noqa: E402
from paybill_infra.clouds.azure.platform import AzurePlatform, AzurePlatformArgs, AzurePool, AzureTenantArgs  # noqa: E402
from paybill_infra.clouds.azure.pooled import AzurePooledTenant  # noqa: E402
from paybill_infra.clouds.azure.silo import AzureSiloTenant  # noqa: E402
from paybill_infra.clouds.azure.tenant import AzureTenant  # noqa: E402

__all__ = [
    "AzureBridgeTenant",
    "AzurePlatform",
    "AzurePlatformArgs",
    "AzurePool",
    "AzurePooledTenant",
    "AzureSiloTenant",
    "AzureTenant",
    "AzureTenantArgs",
]
