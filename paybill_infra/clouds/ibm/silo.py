"""``paybill:ibm:SiloTenant``: a resource group of the tenant's own with its VPC, Key Protect root key and
Databases for PostgreSQL deployment. Key Protect, key and deployment are protected and retained on delete."""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import check_tenant, data_options, tenant_contract
from paybill_infra.clouds.ibm import bindings as ibm
from paybill_infra.clouds.ibm.common import (
    PG_PORT,
    host_of,
    key_protect,
    private_network,
    tenant_access_group,
    tenant_deployment,
)
from paybill_infra.clouds.ibm.platform import IbmTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
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
        own = tenant_deployment(
            self,
            name,
            topo,
            resource_group=group.id,
            region=pool.region,
            key_crn=key.crn,
            vpc=network.vpc.id,
            subnet=network.subnet.id,
        )
        self.server_admin = own.admin
        access = tenant_access_group(self, name, topo, own.database.guid)
        self.publish(
            tenant_contract(
                topo,
                db_host=host_of(own.database),
                db_port=PG_PORT,
                db_name=topo.name(NameKind.DATABASE),
                db_password=own.password,
                identity=access.id,
                network_id=network.vpc.id,
                key_id=key.crn,
            )
        )
