"""``paybill:ibm:BridgeTenant``: a Databases for PostgreSQL deployment of the tenant's own, reached through a
virtual endpoint gateway in the pool's VPC and encrypted with the pool's root key."""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import check_tenant, data_options, tenant_password
from paybill_infra.clouds.ibm.common import PG_PORT, deployment, host_of, tenant_access_group
from paybill_infra.clouds.ibm.platform import IbmTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent, TenantContract
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind


class IbmBridgeTenant(TenantComponent):
    """Bridge isolation on IBM Cloud: shares the VPC, never the database."""

    def __init__(self, name: str, args: IbmTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.IBM, pool.region, Isolation.BRIDGE)
        super().__init__("paybill:ibm:BridgeTenant", name, None, with_tags(opts, Cloud.IBM, topo.tags))
        password = tenant_password(self, name).result
        database = deployment(
            self,
            name,
            resource_group=pool.resource_group,
            region=pool.region,
            deployment_name=topo.name(NameKind.SERVER),
            host_flavor=topo.sizing.instance_class,
            storage_gb=topo.sizing.storage_gb,
            key_crn=pool.key_crn,
            admin_password=tenant_password(self, f"{name}-admin").result,
            users=[{"name": topo.name(NameKind.DB_USER), "password": password, "type": "database"}],
            vpc=pool.vpc_id,
            subnet=pool.subnet_id,
            opts=data_options(self, topo),
        )
        group = tenant_access_group(
            self, name, group_name=topo.name(NameKind.IDENTITY), tenant=topo.tenant, database_guid=database.guid
        )
        self.publish(
            TenantContract(
                tenant_id=topo.tenant,
                isolation=topo.isolation.value,
                plan=topo.plan,
                db_host=host_of(database),
                db_port=PG_PORT,
                db_name=topo.name(NameKind.DATABASE),
                db_user=topo.name(NameKind.DB_USER),
                db_password=password,
                identity=group.id,
                network_id=pool.vpc_id,
                key_id=pool.key_crn,
                tags=topo.tags,
            )
        )
