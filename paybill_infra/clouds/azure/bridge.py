"""``paybill:azure:BridgeTenant``: the pool's VNet, the tenant's own database.

A database of its own on the pool's server, or, when the plan asks for a dedicated server, a Flexible Server of
its own in the pool's delegated subnet (encrypted with the pool's vault key through its own identity).
"""

from __future__ import annotations

import pulumi

from paybill_infra.clouds.azure.common import ADMIN_USER, PG_PORT, encrypted_server, tenant_database, tenant_identity
from paybill_infra.clouds.azure.platform import AzureTenantArgs
from paybill_infra.clouds.base import admin_password, check_tenant, data_options, server_admin, tenant_contract
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind

BACKUP_DAYS = 14


class AzureBridgeTenant(TenantComponent):
    """Bridge isolation on Azure: shares the network, never the database."""

    def __init__(self, name: str, args: AzureTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.AZURE, pool.location, Isolation.BRIDGE)
        super().__init__("paybill:azure:BridgeTenant", name, None, with_tags(opts, Cloud.AZURE, topo.tags))
        db_host: pulumi.Input[str] = pool.db_host
        server_name: pulumi.Input[str] = pool.server_name
        if topo.sizing.dedicated_server:
            admin = admin_password(self, name)
            server = encrypted_server(
                self,
                name,
                resource_group=pool.resource_group,
                location=pool.location,
                server_name=topo.name(NameKind.SERVER),
                instance_class=topo.sizing.instance_class,
                storage_gb=topo.sizing.storage_gb,
                db_subnet_id=pool.db_subnet_id,
                dns_zone_id=pool.dns_zone_id,
                vault_id=pool.vault_id,
                key_uri=pool.key_uri,
                subscription_id=pool.subscription_id,
                admin_password=admin.result,
                backup_days=BACKUP_DAYS,
                opts=data_options(self, topo),
            )
            db_host, server_name = server.fully_qualified_domain_name, server.name
            self.server_admin = server_admin(db_host, PG_PORT, ADMIN_USER, admin.result)
        db_name = tenant_database(self, name, topo, server_name=server_name, resource_group=pool.resource_group)
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
                db_host=db_host,
                db_port=PG_PORT,
                db_name=db_name,
                db_password=access.password,
                identity=access.identity.client_id,
                network_id=pool.vnet_id,
                key_id=pool.key_id,
            )
        )
