"""Google Cloud: a shared pool (VPC, Cloud SQL with private IP, Cloud KMS) and silo, pooled and bridge tenants.

Importing this package imports ``pulumi_gcp``; without it the import fails with
:class:`~paybill_infra.clouds.errors.CloudSdkMissingError` naming ``pip install 'paybill-infra[gcp]'``.
"""

from paybill_infra.clouds._sdk import require_sdk
from paybill_infra.schema.enums import Cloud

require_sdk(Cloud.GCP, "pulumi_gcp", "pulumi_random")

from paybill_infra.clouds.gcp.bridge import GcpBridgeTenant  # noqa: E402
from paybill_infra.clouds.gcp.platform import GcpPlatform, GcpPlatformArgs, GcpPool, GcpTenantArgs  # noqa: E402
from paybill_infra.clouds.gcp.pooled import GcpPooledTenant  # noqa: E402
from paybill_infra.clouds.gcp.silo import GcpSiloTenant  # noqa: E402
from paybill_infra.clouds.gcp.tenant import GcpTenant  # noqa: E402

__all__ = [
    "GcpBridgeTenant",
    "GcpPlatform",
    "GcpPlatformArgs",
    "GcpPool",
    "GcpPooledTenant",
    "GcpSiloTenant",
    "GcpTenant",
    "GcpTenantArgs",
]
