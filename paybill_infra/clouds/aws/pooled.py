"""``paybill:aws:PooledTenant``: a tenant in the shared tables of the pool's cluster.

It creates no database server: only the tenant's credentials secret and its ABAC role. Rows are separated in
the shared database by ``tenant_id`` and row-level security, whose roles and policies the control plane
applies in-database (the same SQL as the local target's pooled model).
"""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.aws.common import tenant_access
from paybill_infra.clouds.aws.platform import AwsTenantArgs
from paybill_infra.clouds.base import check_tenant, tenant_contract
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation


class AwsPooledTenant(TenantComponent):
    """Pooled isolation on AWS: the pool's cluster, network and key; the tenant's own role and secret."""

    def __init__(self, name: str, args: AwsTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.AWS, pool.region, Isolation.POOLED)
        super().__init__("paybill:aws:PooledTenant", name, None, with_tags(opts, Cloud.AWS, topo.tags))
        access = tenant_access(
            self,
            name,
            topo,
            pool.region,
            pool.key_arn,
            pool.cluster_resource_id,
            pool.db_host,
            pool.db_port,
            pool.database,
        )
        self.publish(
            tenant_contract(
                topo,
                db_host=pool.db_host,
                db_port=pool.db_port,
                db_name=pool.database,
                db_password=access.password,
                identity=access.role.arn,
                network_id=pool.vpc_id,
                key_id=pool.key_arn,
            )
        )
