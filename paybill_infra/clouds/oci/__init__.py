"""Oracle Cloud: a shared pool (compartment, VCN, PostgreSQL DB system, Vault key) and silo, pooled and bridge tenants.

Importing this package imports ``pulumi_oci``; without it the import fails with
:class:`~paybill_infra.clouds.errors.CloudSdkMissingError` naming ``pip install 'paybill-infra[oci]'``.
"""

from paybill_infra.clouds._sdk import require_sdk
from paybill_infra.schema.enums import Cloud

require_sdk(Cloud.OCI, "pulumi_oci", "pulumi_random")

from paybill_infra.clouds.oci.bridge import OciBridgeTenant  # noqa: E402
from paybill_infra.clouds.oci.platform import OciPlatform, OciPlatformArgs, OciPool, OciTenantArgs  # noqa: E402
from paybill_infra.clouds.oci.pooled import OciPooledTenant  # noqa: E402
from paybill_infra.clouds.oci.silo import OciSiloTenant  # noqa: E402
from paybill_infra.clouds.oci.tenant import OciTenant  # noqa: E402

__all__ = [
    "OciBridgeTenant",
    "OciPlatform",
    "OciPlatformArgs",
    "OciPool",
    "OciPooledTenant",
    "OciSiloTenant",
    "OciTenant",
    "OciTenantArgs",
]
