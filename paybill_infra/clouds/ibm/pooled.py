"""``paybill:ibm:PooledTenant``: a tenant in the shared tables of the pool's deployment: an IAM access group and
policy per tenant, no deployment of its own. Its database role is applied in-database by the control plane."""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import check_tenant, tenant_contract, tenant_password
from paybill_infra.clouds.ibm.common import PG_PORT, tenant_access_group
from paybill_infra.clouds.ibm.platform import IbmTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation


class IbmPooledTenant(TenantComponent):
    """Pooled isolation on IBM Cloud."""

    def __init__(self, name: str, args: IbmTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.IBM, pool.region, Isolation.POOLED)
        super().__init__("paybill:ibm:PooledTenant", name, None, with_tags(opts, Cloud.IBM, topo.tags))
        group = tenant_access_group(self, name, topo, pool.database_guid)
        self.publish(
            tenant_contract(
                topo,
                db_host=pool.db_host,
                db_port=PG_PORT,
                db_name=pool.database,
                db_password=tenant_password(self, name).result,
                identity=group.id,
                network_id=pool.vpc_id,
                key_id=pool.key_crn,
            )
        )
