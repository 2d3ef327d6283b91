"""``paybill:aws:Tenant``: one tenant on AWS, isolated as its resolved topology says."""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.aws.bridge import AwsBridgeTenant
from paybill_infra.clouds.aws.platform import AwsTenantArgs
from paybill_infra.clouds.aws.pooled import AwsPooledTenant
from paybill_infra.clouds.aws.silo import AwsSiloTenant
from paybill_infra.clouds.base import dispatch_tenant
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation

BUILDERS = {Isolation.SILO: AwsSiloTenant, Isolation.POOLED: AwsPooledTenant, Isolation.BRIDGE: AwsBridgeTenant}


class AwsTenant(TenantComponent):
    """Builds :class:`AwsSiloTenant`, :class:`AwsPooledTenant` or :class:`AwsBridgeTenant` as its child, per
    ``args.topology.isolation``, and publishes the child's contract. A plan change that moves the tenant to
    another isolation replaces the child; the control plane migrates the data first."""

    def __init__(self, name: str, args: AwsTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("paybill:aws:Tenant", name, None, opts)
        dispatch_tenant(self, name, args, args.topology, Cloud.AWS, BUILDERS, args.pool.isolations)
