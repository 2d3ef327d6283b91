"""``paybill:azure:PooledTenant``: a tenant in the shared tables of the pool's Flexible Server.

No server and no database of its own: a user-assigned managed identity, the tenant's database password in the
pool's Key Vault, and a role assignment scoped to that one secret. The in-database role and row-level security
are applied by the control plane (the same SQL as the local target's pooled model).
"""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.azure.common import PG_PORT, tenant_identity
from paybill_infra.clouds.azure.platform import AzureTenantArgs
from paybill_infra.clouds.base import check_tenant, tenant_contract
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation


class AzurePooledTenant(TenantComponent):
    """Pooled isolation on Azure: everything shared but the identity and the credentials."""

    def __init__(self, name: str, args: AzureTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.AZURE, pool.location, Isolation.POOLED)
        super().__init__("paybill:azure:PooledTenant", name, None, with_tags(opts, Cloud.AZURE, topo.tags))
        access = tenant_identity(
            self,
            name,
            topo,
            resource_group=pool.resource_group,
            location=pool.location,
            vault=pool.vault_name,
            vault_id=pool.vault_id,
            subscription_id=pool.subscription_id,
        )
        self.publish(
            tenant_contract(
                topo,
                db_host=pool.db_host,
                db_port=PG_PORT,
                db_name=pool.database,
                db_password=access.password,
                identity=access.identity.client_id,
                network_id=pool.vnet_id,
                key_id=pool.key_id,
            )
        )
