"""AWS: a shared pool (VPC, Aurora PostgreSQL, KMS) and silo, pooled and bridge tenants.

Importing this package imports ``pulumi_aws``; without it the import fails with
:class:`~paybill_infra.clouds.errors.CloudSdkMissingError` naming ``pip install 'paybill-infra[aws]'``.
"""

from paybill_infra.clouds._sdk import require_sdk
from paybill_infra.schema.enums import Cloud

require_sdk(Cloud.AWS, "pulumi_aws", "pulumi_random")

from paybill_infra.clouds.aws.bridge import AwsBridgeTenant  # noqa: E402
from paybill_infra.clouds.aws.platform import AwsPlatform, AwsPlatformArgs, AwsPool, AwsTenantArgs  # noqa: E402
from paybill_infra.clouds.aws.pooled import AwsPooledTenant  # noqa: E402
from paybill_infra.clouds.aws.silo import AwsSiloTenant  # noqa: E402
from paybill_infra.clouds.aws.tenant import AwsTenant  # noqa: E402

__all__ = [
    "AwsBridgeTenant",
    "AwsPlatform",
    "AwsPlatformArgs",
    "AwsPool",
    "AwsPooledTenant",
    "AwsSiloTenant",
    "AwsTenant",
    "AwsTenantArgs",
]
