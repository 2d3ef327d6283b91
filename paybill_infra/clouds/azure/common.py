"""Azure building blocks shared by the pool and the tenants: private networking, Key Vault with a customer-managed
key, an encrypted Flexible Server, a tenant's database, and a tenant's managed identity with access to its own
secret only."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from paybill_infra.clouds.base import data_options, tenant_password
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind

PG_PORT = 5432
PG_VERSION = "16"
SOFT_DELETE_DAYS = 90
KEY_SIZE = 3072
CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
_DB_SUBNET = "db"


def role_definition(subscription_id: str, role: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"


def assignment_name(*parts: str) -> str:
    """Role assignments are named by GUID; derive it from logical names so reruns never duplicate them."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "paybill/" + "/".join(parts)))


def sku_tier(instance_class: str) -> str:
    if instance_class.startswith("Standard_B"):
        return "Burstable"
    if instance_class.startswith("Standard_E"):
        return "MemoryOptimized"
    return "GeneralPurpose"


@dataclass(frozen=True)
class PrivateNetwork:
    vnet: azure.network.VirtualNetwork
    db_subnet_id: pulumi.Output[str]
    dns_zone: azure.privatedns.PrivateZone


def private_network(
    owner: pulumi.Resource,
    name: str,
    resource_group: pulumi.Input[str],
    location: str,
    vnet_name: str,
    cidr: str,
    zone_name: str,
) -> PrivateNetwork:
    """A VNet with a subnet delegated to Flexible Server and one for workloads, and the private DNS zone the
    servers resolve in. No public IPs, no internet-facing subnet."""
    child = pulumi.ResourceOptions(parent=owner)
    network = ipaddress.ip_network(cidr)
    db_block, apps_block = list(network.subnets(new_prefix=network.prefixlen + 4))[:2]
    vnet = azure.network.VirtualNetwork(
        f"{name}-vnet",
        virtual_network_name=vnet_name,
        resource_group_name=resource_group,
        location=location,
        address_space=azure.network.AddressSpaceArgs(address_prefixes=[cidr]),
        subnets=[
            azure.network.SubnetArgs(
                name=_DB_SUBNET,
                address_prefix=str(db_block),
                delegations=[
                    azure.network.DelegationArgs(
                        name="flexible-server", service_name="Microsoft.DBforPostgreSQL/flexibleServers"
                    )
                ],
            ),
            azure.network.SubnetArgs(name="apps", address_prefix=str(apps_block)),
        ],
        opts=child,
    )
    zone = azure.privatedns.PrivateZone(
        f"{name}-dns", private_zone_name=zone_name, resource_group_name=resource_group, location="global", opts=child
    )
    azure.privatedns.VirtualNetworkLink(
        f"{name}-dns-link",
        private_zone_name=zone.name,
        resource_group_name=resource_group,
        location="global",
        registration_enabled=False,
        virtual_network=azure.privatedns.SubResourceArgs(id=vnet.id),
        opts=child,
    )
    return PrivateNetwork(vnet, vnet.id.apply(lambda i: f"{i}/subnets/{_DB_SUBNET}"), zone)


@dataclass(frozen=True)
class KeyVault:
    vault: azure.keyvault.Vault
    key: azure.keyvault.Key


def key_vault(
    owner: pulumi.Resource,
    name: str,
    resource_group: pulumi.Input[str],
    location: str,
    vault_name: str,
    entra_tenant_id: str,
    opts: pulumi.ResourceOptions,
) -> KeyVault:
    """An RBAC-authorised Key Vault, purge-protected and closed to public networks, with an RSA key."""
    vault = azure.keyvault.Vault(
        f"{name}-vault",
        vault_name=vault_name,
        resource_group_name=resource_group,
        location=location,
        properties=azure.keyvault.VaultPropertiesArgs(
            tenant_id=entra_tenant_id,
            sku=azure.keyvault.SkuArgs(family="A", name=azure.keyvault.SkuName.PREMIUM),
            enable_rbac_authorization=True,
            enable_purge_protection=True,
            enable_soft_delete=True,
            soft_delete_retention_in_days=SOFT_DELETE_DAYS,
            public_network_access="Disabled",
            network_acls=azure.keyvault.NetworkRuleSetArgs(default_action="Deny", bypass="AzureServices"),
        ),
        opts=opts,
    )
    key = azure.keyvault.Key(
        f"{name}-key",
        key_name="data",
        resource_group_name=resource_group,
        vault_name=vault.name,
        properties=azure.keyvault.KeyPropertiesArgs(kty="RSA", key_size=KEY_SIZE, key_ops=["wrapKey", "unwrapKey"]),
        opts=opts,
    )
    return KeyVault(vault, key)


ADMIN_USER = "paybill_admin"


def encrypted_server(
    owner: pulumi.Resource,
    name: str,
    *,
    resource_group: pulumi.Input[str],
    location: str,
    server_name: str,
    instance_class: str,
    storage_gb: int,
    db_subnet_id: pulumi.Input[str],
    dns_zone_id: pulumi.Input[str],
    vault_id: pulumi.Input[str],
    key_uri: pulumi.Input[str],
    subscription_id: str,
    admin_password: pulumi.Input[str],
    backup_days: int,
    opts: pulumi.ResourceOptions,
) -> azure.dbforpostgresql.Server:
    """A Flexible Server with private access only, data encrypted with the vault key ``key_uri`` through its own
    user-assigned identity, zone-redundant HA where the tier allows it, and TLS 1.2+ required."""
    child = pulumi.ResourceOptions(parent=owner)
    identity = azure.managedidentity.UserAssignedIdentity(
        f"{name}-server-identity",
        resource_name_=f"{server_name}-server",
        resource_group_name=resource_group,
        location=location,
        opts=child,
    )
    grant = azure.authorization.RoleAssignment(
        f"{name}-server-key-access",
        role_assignment_name=assignment_name(server_name, "server-key"),
        principal_id=identity.principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=role_definition(subscription_id, CRYPTO_SERVICE_ENCRYPTION_USER),
        scope=vault_id,
        opts=child,
    )
    tier = sku_tier(instance_class)
    server = azure.dbforpostgresql.Server(
        f"{name}-server",
        server_name=server_name,
        resource_group_name=resource_group,
        location=location,
        version=PG_VERSION,
        sku=azure.dbforpostgresql.SkuArgs(name=instance_class, tier=tier),
        storage=azure.dbforpostgresql.StorageArgs(storage_size_gb=max(storage_gb, 32), auto_grow="Enabled"),
        administrator_login=ADMIN_USER,
        administrator_login_password=admin_password,
        auth_config=azure.dbforpostgresql.AuthConfigArgs(active_directory_auth="Enabled", password_auth="Enabled"),  # noqa: S106
        network=azure.dbforpostgresql.NetworkArgs(
            delegated_subnet_resource_id=db_subnet_id,
            private_dns_zone_arm_resource_id=dns_zone_id,
            public_network_access="Disabled",
        ),
        identity=azure.dbforpostgresql.UserAssignedIdentityArgs(
            type="UserAssigned",
            # Keys of this map are resource ids, known only once the identity exists: build the map in an apply.
            user_assigned_identities=identity.id.apply(lambda i: {i: azure.dbforpostgresql.UserIdentityArgs()}),
        ),
        data_encryption=azure.dbforpostgresql.DataEncryptionArgs(
            type="AzureKeyVault",
            primary_key_uri=key_uri,
            primary_user_assigned_identity_id=identity.id,
        ),
        backup=azure.dbforpostgresql.BackupArgs(backup_retention_days=backup_days, geo_redundant_backup="Disabled"),
        high_availability=azure.dbforpostgresql.HighAvailabilityArgs(
            mode="Disabled" if tier == "Burstable" else "ZoneRedundant"
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[grant])),
    )
    for setting, value in (("require_secure_transport", "ON"), ("ssl_min_protocol_version", "TLSv1.2")):
        azure.dbforpostgresql.Configuration(
            f"{name}-{setting.replace('_', '-')}",
            configuration_name=setting,
            server_name=server.name,
            resource_group_name=resource_group,
            source="user-override",
            value=value,
            opts=child,
        )
    return server


def tenant_database(
    owner: pulumi.Resource,
    name: str,
    topology: Topology,
    *,
    server_name: pulumi.Input[str],
    resource_group: pulumi.Input[str],
) -> pulumi.Output[str]:
    """The tenant's own database on ``server_name``, protected as its data; returns its name once it exists, so
    a consumer of the contract never sees a database that is not there yet."""
    db_name = topology.name(NameKind.DATABASE)
    database = azure.dbforpostgresql.Database(
        f"{name}-database",
        database_name=db_name,
        server_name=server_name,
        resource_group_name=resource_group,
        charset="UTF8",
        opts=data_options(owner, topology),
    )
    return database.id.apply(lambda _: db_name)


@dataclass(frozen=True)
class TenantIdentity:
    identity: azure.managedidentity.UserAssignedIdentity
    secret: azure.keyvault.Secret
    password: pulumi.Output[str]


def tenant_identity(
    owner: pulumi.Resource,
    name: str,
    topology: Topology,
    *,
    resource_group: pulumi.Input[str],
    location: str,
    vault: pulumi.Input[str],
    vault_id: pulumi.Input[str],
    subscription_id: str,
) -> TenantIdentity:
    """The tenant's user-assigned identity, its generated database password as a Key Vault secret, and a role
    assignment that lets the identity read that one secret and nothing else in the vault."""
    identity_name, secret_name = topology.name(NameKind.IDENTITY), topology.name(NameKind.SECRET)
    password = tenant_password(owner, name).result
    child = pulumi.ResourceOptions(parent=owner)
    identity = azure.managedidentity.UserAssignedIdentity(
        f"{name}-identity",
        resource_name_=identity_name,
        resource_group_name=resource_group,
        location=location,
        opts=child,
    )
    secret = azure.keyvault.Secret(
        f"{name}-credentials",
        secret_name=secret_name,
        resource_group_name=resource_group,
        vault_name=vault,
        properties=azure.keyvault.SecretPropertiesArgs(value=password, content_type="postgresql-password"),
        opts=child,
    )
    azure.authorization.RoleAssignment(
        f"{name}-secret-access",
        role_assignment_name=assignment_name(identity_name, secret_name),
        principal_id=identity.principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=role_definition(subscription_id, SECRETS_USER),
        scope=pulumi.Output.concat(vault_id, "/secrets/", secret_name),
        opts=child,
    )
    return TenantIdentity(identity, secret, password)
