"""``paybill:gcp:PooledTenant``: a tenant in the shared tables of the pool's Cloud SQL instance.

No instance and no database of its own: a database user on the shared instance, its password in Secret Manager,
and a service account whose IAM bindings carry conditions naming the tenant's secret and the pool's instance.
"""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import check_tenant, tenant_password
from paybill_infra.clouds.gcp.common import PG_PORT, tenant_access
from paybill_infra.clouds.gcp.platform import GcpTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent, TenantContract
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind


class GcpPooledTenant(TenantComponent):
    """Pooled isolation on Google Cloud."""

    def __init__(self, name: str, args: GcpTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.GCP, pool.region, Isolation.POOLED)
        super().__init__("paybill:gcp:PooledTenant", name, None, with_tags(opts, Cloud.GCP, topo.tags))
        access = tenant_access(
            self,
            name,
            project=pool.project,
            region=pool.region,
            account_id=topo.name(NameKind.IDENTITY),
            secret_id=topo.name(NameKind.SECRET),
            db_user=topo.name(NameKind.DB_USER),
            instance=pool.instance_name,
            instance_name=pool.instance_name,
            password=tenant_password(self, name).result,
            key_id=pool.key_id,
        )
        self.publish(
            TenantContract(
                tenant_id=topo.tenant,
                isolation=topo.isolation.value,
                plan=topo.plan,
                db_host=pool.db_host,
                db_port=PG_PORT,
                db_name=pool.database,
                db_user=topo.name(NameKind.DB_USER),
                db_password=access.password,
                identity=access.account.email,
                network_id=pool.network_id,
                key_id=pool.key_id,
                tags=topo.tags,
            )
        )
