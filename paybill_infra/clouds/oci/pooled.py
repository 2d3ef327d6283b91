"""``paybill:oci:PooledTenant``: a tenant in the shared tables of the pool's DB system.

No DB system of its own: a dynamic group of the tenant's workloads, a policy scoped to the tenant's credentials
secret, and the secret itself in the pool's vault.
"""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import check_tenant, tenant_password
from paybill_infra.clouds.oci.common import PG_PORT, tenant_access
from paybill_infra.clouds.oci.platform import OciTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent, TenantContract
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind


class OciPooledTenant(TenantComponent):
    """Pooled isolation on Oracle Cloud."""

    def __init__(self, name: str, args: OciTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.OCI, pool.region, Isolation.POOLED)
        super().__init__("paybill:oci:PooledTenant", name, None, with_tags(opts, Cloud.OCI, topo.tags))
        password = tenant_password(self, name).result
        access = tenant_access(
            self,
            name,
            tenancy=pool.tenancy_ocid,
            compartment=pool.compartment_id,
            tag_namespace=pool.tag_namespace,
            tenant=topo.tenant,
            group_name=topo.name(NameKind.IDENTITY),
            secret_name=topo.name(NameKind.SECRET),
            vault_id=pool.vault_id,
            key_id=pool.key_id,
            password=password,
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
                db_password=password,
                identity=access.group.id,
                network_id=pool.vcn_id,
                key_id=pool.key_id,
                tags=topo.tags,
            )
        )
