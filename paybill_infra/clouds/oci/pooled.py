"""``paybill:oci:PooledTenant``: a tenant in the shared tables of the pool's DB system.

No DB system of its own: a dynamic group of the tenant's workloads, a policy scoped to the tenant's credentials
secret, and the secret itself in the pool's vault.
"""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.base import check_tenant, tenant_contract
from paybill_infra.clouds.oci.common import PG_PORT, tenant_access
from paybill_infra.clouds.oci.platform import OciTenantArgs
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation


class OciPooledTenant(TenantComponent):
    """Pooled isolation on Oracle Cloud."""

    def __init__(self, name: str, args: OciTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.OCI, pool.region, Isolation.POOLED)
        super().__init__("paybill:oci:PooledTenant", name, None, with_tags(opts, Cloud.OCI, topo.tags))
        access = tenant_access(
            self,
            name,
            topo,
            tenancy=pool.tenancy_ocid,
            compartment=pool.compartment_id,
            tag_namespace=pool.tag_namespace,
            vault_id=pool.vault_id,
            key_id=pool.key_id,
        )
        self.publish(
            tenant_contract(
                topo,
                db_host=pool.db_host,
                db_port=PG_PORT,
                db_name=pool.database,
                db_password=access.password,
                identity=access.group.id,
                network_id=pool.vcn_id,
                key_id=pool.key_id,
            )
        )
