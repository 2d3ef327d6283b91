"""``paybill:azure:Platform``: the shared pool of one Azure region, and the args tenants are built with."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native as azure

from paybill_infra.clouds.azure.common import ADMIN_USER, PG_PORT, encrypted_server, key_vault, private_network
from paybill_infra.clouds.base import admin_password, pool_tags, server_admin
from paybill_infra.clouds.errors import ConflictingOptionsError
from paybill_infra.clouds.options import check_at_least, check_cidr
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import PlatformComponent, ServerAdmin
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.schema.regions import check_region
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind, names_for

MIN_BACKUP_DAYS = 7
SHARED_DATABASE = "paybill"


@dataclass(frozen=True)
class AzurePlatformArgs:
    """The pool's settings. ``subscription_id`` and ``entra_tenant_id`` are plain config (no lookup while
    constructing). Fewer than 7 backup days or a VNet smaller than /24 is refused."""

    name: str
    location: str
    subscription_id: str
    entra_tenant_id: str
    vnet_cidr: str = "10.50.0.0/16"
    instance_class: str = "Standard_D4ds_v5"
    storage_gb: int = 128
    backup_retention_days: int = 14
    isolations: tuple[Isolation, ...] = tuple(Isolation)
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True)
class AzurePool:
    """What tenants need from the pool: plain inputs, so a tenant can live in another program or stack."""

    name: str
    location: str
    subscription_id: str
    entra_tenant_id: str
    isolations: tuple[Isolation, ...]
    resource_group: pulumi.Input[str]
    vnet_id: pulumi.Input[str]
    db_subnet_id: pulumi.Input[str]
    dns_zone_id: pulumi.Input[str]
    vault_name: pulumi.Input[str]
    vault_id: pulumi.Input[str]
    key_id: pulumi.Input[str]
    key_uri: pulumi.Input[str]
    server_name: pulumi.Input[str]
    db_host: pulumi.Input[str]
    database: str


@dataclass(frozen=True)
class AzureTenantArgs:
    """A tenant of ``pool``, isolated as ``topology.isolation`` says."""

    topology: Topology
    pool: AzurePool
    silo_vnet_cidr: str = "10.64.0.0/16"

    def __post_init__(self) -> None:
        check_cidr("paybill:azure:Tenant", "silo_vnet_cidr", self.silo_vnet_cidr)


def _validate(args: AzurePlatformArgs) -> None:
    check_region(Cloud.AZURE, args.location)
    if args.backup_retention_days < MIN_BACKUP_DAYS:
        raise ConflictingOptionsError(
            "paybill:azure:Platform", ["backup_retention_days"], f"must be at least {MIN_BACKUP_DAYS}"
        )
    check_cidr("paybill:azure:Platform", "vnet_cidr", args.vnet_cidr)
    check_at_least("paybill:azure:Platform", "storage_gb", args.storage_gb, 32)


class AzurePlatform(PlatformComponent):
    """A resource group with a VNet, a Flexible Server reachable only through its delegated subnet, and a Key
    Vault whose key encrypts the server. ``pool`` is what tenants are built against."""

    pool: AzurePool
    server_admin: ServerAdmin
    resource_group: pulumi.Output[str]
    vnet_id: pulumi.Output[str]
    db_host: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: AzurePlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        tags = pool_tags(args.name, args.tags)
        super().__init__("paybill:azure:Platform", name, None, with_tags(opts, Cloud.AZURE, tags))
        child = pulumi.ResourceOptions(parent=self)
        names = names_for(Cloud.AZURE, args.name)
        group = azure.resources.ResourceGroup(
            f"{name}-rg", resource_group_name=names[NameKind.GROUP], location=args.location, opts=child
        )
        server_name = names[NameKind.SERVER]
        network = private_network(
            self,
            name,
            group.name,
            args.location,
            names[NameKind.NETWORK],
            args.vnet_cidr,
            f"{server_name}.private.postgres.database.azure.com",
        )
        protected = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        vault = key_vault(self, name, group.name, args.location, names[NameKind.KEY], args.entra_tenant_id, protected)
        admin = admin_password(self, name, old_name=f"{name}-password")
        server = encrypted_server(
            self,
            name,
            resource_group=group.name,
            location=args.location,
            server_name=server_name,
            instance_class=args.instance_class,
            storage_gb=args.storage_gb,
            db_subnet_id=network.db_subnet_id,
            dns_zone_id=network.dns_zone.id,
            vault_id=vault.vault.id,
            key_uri=vault.key.key_uri_with_version,
            subscription_id=args.subscription_id,
            admin_password=admin.result,
            backup_days=args.backup_retention_days,
            opts=protected,
        )
        azure.dbforpostgresql.Database(
            f"{name}-database",
            database_name=SHARED_DATABASE,
            server_name=server.name,
            resource_group_name=group.name,
            charset="UTF8",
            opts=child,
        )
        self.pool = AzurePool(
            name=args.name,
            location=args.location,
            subscription_id=args.subscription_id,
            entra_tenant_id=args.entra_tenant_id,
            isolations=args.isolations,
            resource_group=group.name,
            vnet_id=network.vnet.id,
            db_subnet_id=network.db_subnet_id,
            dns_zone_id=network.dns_zone.id,
            vault_name=vault.vault.name,
            vault_id=vault.vault.id,
            key_id=vault.key.id,
            key_uri=vault.key.key_uri_with_version,
            server_name=server.name,
            db_host=server.fully_qualified_domain_name,
            database=SHARED_DATABASE,
        )
        self.server_admin = server_admin(server.fully_qualified_domain_name, PG_PORT, ADMIN_USER, admin.result)
        self.resource_group = group.name
        self.vnet_id = network.vnet.id
        self.db_host = server.fully_qualified_domain_name
        self.key_id = vault.key.id
        self.register_outputs(
            {
                "resource_group": self.resource_group,
                "vnet_id": self.vnet_id,
                "db_host": self.db_host,
                "key_id": self.key_id,
                "db_port": PG_PORT,
            }
        )
