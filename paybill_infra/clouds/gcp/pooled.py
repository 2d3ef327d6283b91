"""``paybill:gcp:PooledTenant``: a tenant in the shared tables of the pool's Cloud SQL instance.

No instance and no database of its own: a database user on the shared instance, its password in Secret Manager,
and a service account whose IAM bindings carry conditions naming the tenant's secret and the pool's instance.
"""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import check_tenant, tenant_contract
from paybill_infra.clouds.gcp.common import PG_PORT, tenant_access
from paybill_infra.clouds.gcp.platform import GcpTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation


class GcpPooledTenant(TenantComponent):
    """Pooled isolation on Google Cloud."""

    def __init__(self, name: str, args: GcpTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.GCP, pool.region, Isolation.POOLED)
        super().__init__("paybill:gcp:PooledTenant", name, None, with_tags(opts, Cloud.GCP, topo.tags))
        access = tenant_access(
            self, name, topo, project=pool.project, region=pool.region, instance=pool.instance_name, key_id=pool.key_id
        )
        self.publish(
            tenant_contract(
                topo,
                db_host=pool.db_host,
                db_port=PG_PORT,
                db_name=pool.database,
                db_password=access.password,
                identity=access.account.email,
                network_id=pool.network_id,
                key_id=pool.key_id,
            )
        )
