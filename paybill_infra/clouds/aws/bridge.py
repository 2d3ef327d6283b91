"""``paybill:aws:BridgeTenant``: the pool's network, the tenant's own database and KMS key.

The database is a logical database on the pool's cluster, or, when the plan asks for a dedicated server, an RDS
instance of its own in the pool's private subnets, encrypted with the tenant's key. Aurora has no API for
databases inside a cluster, so a logical database is created in-database by the control plane; the component
owns its name, credentials and key.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from paybill_infra.clouds.aws.common import PG_PORT, kms_key, tenant_access, tls_parameter_group
from paybill_infra.clouds.aws.platform import AwsTenantArgs
from paybill_infra.clouds.base import check_tenant, data_options
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent, TenantContract
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind

MASTER_USER = "paybill_admin"
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
            instance = aws.rds.Instance(
                f"{name}-db",
                identifier=topo.name(NameKind.SERVER),
                engine="postgres",
                instance_class=topo.sizing.instance_class,
                allocated_storage=topo.sizing.storage_gb,
                storage_type="gp3",
                db_name=db_name,
                username=MASTER_USER,
                manage_master_user_password=True,
                master_user_secret_kms_key_id=key.arn,
                port=PG_PORT,
                storage_encrypted=True,
                kms_key_id=key.arn,
                iam_database_authentication_enabled=True,
                publicly_accessible=False,
                multi_az=True,
                db_subnet_group_name=pool.db_subnet_group,
                vpc_security_group_ids=[pool.db_security_group_id],
                parameter_group_name=tls_parameter_group(self, name).name,
                backup_retention_period=BACKUP_DAYS,
                copy_tags_to_snapshot=True,
                deletion_protection=True,
                skip_final_snapshot=False,
                final_snapshot_identifier=f"{topo.name(NameKind.SERVER)}-final",
                performance_insights_enabled=True,
                performance_insights_kms_key_id=key.arn,
                opts=data_options(self, topo),
            )
            db_host, db_port, resource_id = instance.address, instance.port, instance.resource_id
        else:
            db_host, db_port, resource_id = pool.db_host, pool.db_port, pool.cluster_resource_id
        access = tenant_access(self, name, topo, pool.region, key.arn, resource_id, db_host, db_port, db_name)
        self.publish(
            TenantContract(
                tenant_id=topo.tenant,
                isolation=topo.isolation.value,
                plan=topo.plan,
                db_host=db_host,
                db_port=db_port,
                db_name=db_name,
                db_user=topo.name(NameKind.DB_USER),
                db_password=access.password,
                identity=access.role.arn,
                network_id=pool.vpc_id,
                key_id=key.arn,
                tags=topo.tags,
            )
        )
