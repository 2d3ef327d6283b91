"""``paybill:ibm:SiloTenant``: a resource group of the tenant's own with its VPC, Key Protect root key and
Databases for PostgreSQL deployment. Key Protect, key and deployment are protected and retained on delete."""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import check_tenant, data_options, tenant_password
from paybill_infra.clouds.ibm import bindings as ibm
from paybill_infra.clouds.ibm.common import (
    PG_PORT,
    deployment,
    host_of,
    key_protect,
    private_network,
    tenant_access_group,
)
from paybill_infra.clouds.ibm.platform import IbmTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent, TenantContract
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind


class IbmSiloTenant(TenantComponent):
    """Silo isolation on IBM Cloud. Uses only the pool's region and zone (plain config)."""

    def __init__(self, name: str, args: IbmTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.IBM, pool.region, Isolation.SILO)
        super().__init__("paybill:ibm:SiloTenant", name, None, with_tags(opts, Cloud.IBM, topo.tags))
        group = ibm.ResourceGroup(
            f"{name}-rg", name=topo.name(NameKind.GROUP), opts=pulumi.ResourceOptions(parent=self)
        )
        network = private_network(self, name, group.id, topo.name(NameKind.NETWORK), pool.zone)
        _, key = key_protect(self, name, group.id, pool.region, topo.name(NameKind.KEY), data_options(self, topo))
        password = tenant_password(self, name).result
        database = deployment(
            self,
            name,
            resource_group=group.id,
            region=pool.region,
            deployment_name=topo.name(NameKind.SERVER),
            host_flavor=topo.sizing.instance_class,
            storage_gb=topo.sizing.storage_gb,
            key_crn=key.crn,
            admin_password=tenant_password(self, f"{name}-admin").result,
            users=[{"name": topo.name(NameKind.DB_USER), "password": password, "type": "database"}],
            vpc=network.vpc.id,
            subnet=network.subnet.id,
            opts=data_options(self, topo),
        )
        access = tenant_access_group(
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
                identity=access.id,
                network_id=network.vpc.id,
                key_id=key.crn,
                tags=topo.tags,
            )
        )
