"""``paybill:azure:SiloTenant``: a resource group of the tenant's own and everything in it: VNet, private DNS,
Key Vault and key, Flexible Server, identity. Vault, key and server are protected and retained on delete."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure

from paybill_infra.clouds.azure.common import (
    ADMIN_USER,
    PG_PORT,
    encrypted_server,
    key_vault,
    private_network,
    tenant_database,
    tenant_identity,
)
from paybill_infra.clouds.azure.platform import AzureTenantArgs
from paybill_infra.clouds.base import admin_password, check_tenant, data_options, server_admin, tenant_contract
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.naming import NameKind

BACKUP_DAYS = 35


class AzureSiloTenant(TenantComponent):
    """Silo isolation on Azure. Uses only the pool's location, subscription and Entra tenant (plain config):
    no pool resource is referenced."""

    def __init__(self, name: str, args: AzureTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        topo, pool = args.topology, args.pool
        check_tenant(topo, Cloud.AZURE, pool.location, Isolation.SILO)
        super().__init__("paybill:azure:SiloTenant", name, None, with_tags(opts, Cloud.AZURE, topo.tags))
        child = pulumi.ResourceOptions(parent=self)
        group = azure.resources.ResourceGroup(
            f"{name}-rg", resource_group_name=topo.name(NameKind.GROUP), location=pool.location, opts=child
        )
        server_name = topo.name(NameKind.SERVER)
        network = private_network(
            self,
            name,
            group.name,
            pool.location,
            topo.name(NameKind.NETWORK),
            args.silo_vnet_cidr,
            f"{server_name}.private.postgres.database.azure.com",
        )
        vault = key_vault(
            self,
            name,
            group.name,
            pool.location,
            topo.name(NameKind.KEY),
            pool.entra_tenant_id,
            data_options(self, topo),
        )
        admin = admin_password(self, name)
        server = encrypted_server(
            self,
            name,
            resource_group=group.name,
            location=pool.location,
            server_name=server_name,
            instance_class=topo.sizing.instance_class,
            storage_gb=topo.sizing.storage_gb,
            db_subnet_id=network.db_subnet_id,
            dns_zone_id=network.dns_zone.id,
            vault_id=vault.vault.id,
            key_uri=vault.key.key_uri_with_version,
            subscription_id=pool.subscription_id,
            admin_password=admin.result,
            backup_days=BACKUP_DAYS,
            opts=data_options(self, topo),
        )
        self.server_admin = server_admin(server.fully_qualified_domain_name, PG_PORT, ADMIN_USER, admin.result)
        db_name = tenant_database(self, name, topo, server_name=server.name, resource_group=group.name)
        access = tenant_identity(
            self,
            name,
            topo,
            resource_group=group.name,
            location=pool.location,
            vault=vault.vault.name,
            vault_id=vault.vault.id,
            subscription_id=pool.subscription_id,
        )
        self.publish(
            tenant_contract(
                topo,
                db_host=server.fully_qualified_domain_name,
                db_port=PG_PORT,
                db_name=db_name,
                db_password=access.password,
                identity=access.identity.client_id,
                network_id=network.vnet.id,
                key_id=vault.key.id,
            )
        )
