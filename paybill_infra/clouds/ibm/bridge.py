"""``paybill:ibm:BridgeTenant``: a Databases for PostgreSQL deployment of the tenant's own, reached through a
virtual endpoint gateway in the pool's VPC and encrypted with the pool's root key."""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import check_tenant, tenant_contract
from paybill_infra.clouds.ibm.common import PG_PORT, host_of, tenant_access_group, tenant_deployment
from paybill_infra.clouds.ibm.platform import IbmTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind


class IbmBridgeTenant(TenantComponent):
    """Bridge isolation on IBM Cloud: shares the VPC, never the database."""

    def __init__(self, name: str, args: IbmTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.IBM, pool.region, Isolation.BRIDGE)
        super().__init__("paybill:ibm:BridgeTenant", name, None, with_tags(opts, Cloud.IBM, topo.tags))
        own = tenant_deployment(
            self,
            name,
            topo,
            resource_group=pool.resource_group,
            region=pool.region,
            key_crn=pool.key_crn,
            vpc=pool.vpc_id,
            subnet=pool.subnet_id,
        )
        self.server_admin = own.admin
        group = tenant_access_group(self, name, topo, own.database.guid)
        self.publish(
            tenant_contract(
                topo,
                db_host=host_of(own.database),
                db_port=PG_PORT,
                db_name=topo.name(NameKind.DATABASE),
                db_password=own.password,
                identity=group.id,
                network_id=pool.vpc_id,
                key_id=pool.key_crn,
            )
        )
