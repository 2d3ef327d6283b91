"""``paybill:aws:BridgeTenant``: the pool's network, the tenant's own database and KMS key.

The database is a logical database on the pool's cluster, or, when the plan asks for a dedicated server, an RDS
instance of its own in the pool's private subnets, encrypted with the tenant's key. Aurora has no API for
databases inside a cluster, so a logical database is created in-database by the control plane; the component
owns its name, credentials and key.
"""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.aws.common import instance_admin, kms_key, tenant_access, tenant_instance
from paybill_infra.clouds.aws.platform import AwsTenantArgs
from paybill_infra.clouds.base import check_tenant, data_options, tenant_contract
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind

BACKUP_DAYS = 14


class AwsBridgeTenant(TenantComponent):
    """Bridge isolation on AWS: shares the pool's VPC and subnets, never its database or key."""

    def __init__(self, name: str, args: AwsTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.AWS, pool.region, Isolation.BRIDGE)
        super().__init__("paybill:aws:BridgeTenant", name, None, with_tags(opts, Cloud.AWS, topo.tags))
        key = kms_key(
            self, name, topo.name(NameKind.KEY), f"Paybill bridge tenant {topo.tenant}", opts=data_options(self, topo)
        )
        db_name = topo.name(NameKind.DATABASE)
        db_host: pulumi.Input[str]
        db_port: pulumi.Input[int]
        resource_id: pulumi.Input[str]
        if topo.sizing.dedicated_server:
            instance = tenant_instance(
                self,
                name,
                topo,
                key_arn=key.arn,
                subnet_group=pool.db_subnet_group,
                security_group_id=pool.db_security_group_id,
                backup_days=BACKUP_DAYS,
            )
            db_host, db_port, resource_id = instance.address, instance.port, instance.resource_id
            self.server_admin = instance_admin(instance)
        else:
            db_host, db_port, resource_id = pool.db_host, pool.db_port, pool.cluster_resource_id
        access = tenant_access(self, name, topo, pool.region, key.arn, resource_id, db_host, db_port, db_name)
        self.publish(
            tenant_contract(
                topo,
                db_host=db_host,
                db_port=db_port,
                db_name=db_name,
                db_password=access.password,
                identity=access.role.arn,
                network_id=pool.vpc_id,
                key_id=key.arn,
            )
        )
