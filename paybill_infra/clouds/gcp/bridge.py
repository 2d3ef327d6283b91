"""``paybill:gcp:BridgeTenant``: the pool's VPC, the tenant's own database.

A database of its own on the pool's instance, or, when the plan asks for a dedicated server, a Cloud SQL
instance of its own on the pool's VPC (private IP, the pool's CMEK key).
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from paybill_infra.clouds.base import check_tenant, data_options, tenant_password
from paybill_infra.clouds.gcp.common import PG_PORT, private_instance, tenant_access
from paybill_infra.clouds.gcp.platform import GcpTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent, TenantContract
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind


class GcpBridgeTenant(TenantComponent):
    """Bridge isolation on Google Cloud: shares the network, never the database."""

    def __init__(self, name: str, args: GcpTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.GCP, pool.region, Isolation.BRIDGE)
        super().__init__("paybill:gcp:BridgeTenant", name, None, with_tags(opts, Cloud.GCP, topo.tags))
        instance_name: pulumi.Input[str] = pool.instance_name
        db_host: pulumi.Input[str] = pool.db_host
        if topo.sizing.dedicated_server:
            instance = private_instance(
                self,
                name,
                project=pool.project,
                region=pool.region,
                instance_name=topo.name(NameKind.SERVER),
                tier=topo.sizing.instance_class,
                disk_gb=topo.sizing.storage_gb,
                network_id=pool.network_id,
                key_id=pool.key_id,
                depends_on=[],
                opts=data_options(self, topo),
            )
            instance_name, db_host = instance.name, instance.private_ip_address
        database = gcp.sql.Database(
            f"{name}-database",
            name=topo.name(NameKind.DATABASE),
            instance=instance_name,
            project=pool.project,
            opts=data_options(self, topo),
        )
        access = tenant_access(
            self,
            name,
            project=pool.project,
            region=pool.region,
            account_id=topo.name(NameKind.IDENTITY),
            secret_id=topo.name(NameKind.SECRET),
            db_user=topo.name(NameKind.DB_USER),
            instance=instance_name,
            instance_name=instance_name,
            password=tenant_password(self, name).result,
            key_id=pool.key_id,
        )
        self.publish(
            TenantContract(
                tenant_id=topo.tenant,
                isolation=topo.isolation.value,
                plan=topo.plan,
                db_host=db_host,
                db_port=PG_PORT,
                db_name=database.name,
                db_user=topo.name(NameKind.DB_USER),
                db_password=access.password,
                identity=access.account.email,
                network_id=pool.network_id,
                key_id=pool.key_id,
                tags=topo.tags,
            )
        )
