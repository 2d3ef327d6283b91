"""IBM Cloud: a shared pool (resource group, VPC, Databases for PostgreSQL, Key Protect) and silo, pooled and
bridge tenants, on typed bindings to the parameterized ``terraform-provider`` package (see ``bindings``).

IBM has no PyPI SDK, so the only SDK this package needs is ``pulumi_random`` (from ``paybill-infra[ibm]``).
"""

from paybill_infra.clouds._sdk import require_sdk
from paybill_infra.schema.enums import Cloud

require_sdk(Cloud.IBM, "pulumi_random")

from paybill_infra.clouds.ibm.bridge import IbmBridgeTenant  # noqa: E402
from paybill_infra.clouds.ibm.platform import IbmPlatform, IbmPlatformArgs, IbmPool, IbmTenantArgs  # noqa: E402
from paybill_infra.clouds.ibm.pooled import IbmPooledTenant  # noqa: E402
from paybill_infra.clouds.ibm.silo import IbmSiloTenant  # noqa: E402
from paybill_infra.clouds.ibm.tenant import IbmTenant  # noqa: E402

__all__ = [
    "IbmBridgeTenant",
    "IbmPlatform",
    "IbmPlatformArgs",
    "IbmPool",
    "IbmPooledTenant",
    "IbmSiloTenant",
    "IbmTenant",
    "IbmTenantArgs",
]
