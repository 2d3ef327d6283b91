"""``paybill:gcp:BridgeTenant``: the pool's VPC, the tenant's own database.

A database of its own on the pool's instance, or, when the plan asks for a dedicated server, a Cloud SQL
instance of its own on the pool's VPC (private IP, the pool's CMEK key).
"""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import admin_password, check_tenant, data_options, server_admin, tenant_contract
from paybill_infra.clouds.gcp.common import ADMIN_USER, PG_PORT, private_instance, tenant_access, tenant_database
from paybill_infra.clouds.gcp.platform import GcpTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
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
            admin = admin_password(self, name)
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
                root_password=admin.result,
                depends_on=[],
                opts=data_options(self, topo),
            )
            instance_name, db_host = instance.name, instance.private_ip_address
            self.server_admin = server_admin(db_host, PG_PORT, ADMIN_USER, admin.result)
        db_name = tenant_database(self, name, topo, instance=instance_name, project=pool.project)
        access = tenant_access(
            self, name, topo, project=pool.project, region=pool.region, instance=instance_name, key_id=pool.key_id
        )
        self.publish(
            tenant_contract(
                topo,
                db_host=db_host,
                db_port=PG_PORT,
                db_name=db_name,
                db_password=access.password,
                identity=access.account.email,
                network_id=pool.network_id,
                key_id=pool.key_id,
            )
        )
