"""``paybill:oci:Platform``: the shared pool of one OCI region, and the args tenants are built with."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_oci as oci

from paybill_infra.clouds.base import admin_password, pool_tags, server_admin
from paybill_infra.clouds.errors import ConflictingOptionsError
from paybill_infra.clouds.oci.common import ADMIN_USER, PG_PORT, db_system, endpoint, private_network, vault_key
from paybill_infra.clouds.options import check_at_least, check_cidr
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import PlatformComponent, ServerAdmin
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.schema.regions import check_region
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind, names_for


@dataclass(frozen=True)
class OciPlatformArgs:
    """The pool's settings. ``tenancy_ocid`` hosts dynamic groups and the tag namespace; the pool compartment
    and silo compartments are created under ``parent_compartment_id``."""

    name: str
    region: str
    tenancy_ocid: str
    parent_compartment_id: str
    vcn_cidr: str = "10.70.0.0/16"
    instance_class: str = "PostgreSQL.VM.Standard.E5.Flex.4.64GB"
    instances: int = 2
    isolations: tuple[Isolation, ...] = tuple(Isolation)
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True)
class OciPool:
    """What tenants need from the pool: plain inputs, so a tenant can live in another program or stack."""

    name: str
    region: str
    tenancy_ocid: str
    parent_compartment_id: str
    isolations: tuple[Isolation, ...]
    compartment_id: pulumi.Input[str]
    tag_namespace: str
    """The defined-tag namespace (plain, so a silo tenant references no pool resource)."""
    vcn_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    nsg_id: pulumi.Input[str]
    vault_id: pulumi.Input[str]
    key_id: pulumi.Input[str]
    db_host: pulumi.Input[str]
    database: str


@dataclass(frozen=True)
class OciTenantArgs:
    """A tenant of ``pool``, isolated as ``topology.isolation`` says."""

    topology: Topology
    pool: OciPool
    silo_vcn_cidr: str = "10.64.0.0/16"
    silo_instances: int = 2

    def __post_init__(self) -> None:
        check_cidr("paybill:oci:Tenant", "silo_vcn_cidr", self.silo_vcn_cidr)
        check_at_least("paybill:oci:Tenant", "silo_instances", self.silo_instances, 1)


def _validate(args: OciPlatformArgs) -> None:
    check_region(Cloud.OCI, args.region)
    check_cidr("paybill:oci:Platform", "vcn_cidr", args.vcn_cidr)
    if args.instances < 1:
        raise ConflictingOptionsError("paybill:oci:Platform", ["instances"], "must be at least 1")


class OciPlatform(PlatformComponent):
    """A compartment holding a private VCN, a PostgreSQL DB system encrypted with a Vault key, and the defined-tag
    namespace that tenants' dynamic groups match on. ``pool`` is what tenants are built against."""

    pool: OciPool
    server_admin: ServerAdmin
    compartment_id: pulumi.Output[str]
    vcn_id: pulumi.Output[str]
    db_host: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: OciPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        tags = pool_tags(args.name, args.tags)
        super().__init__("paybill:oci:Platform", name, None, with_tags(opts, Cloud.OCI, tags))
        child = pulumi.ResourceOptions(parent=self)
        protected = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        names = names_for(Cloud.OCI, args.name)
        compartment = oci.identity.Compartment(
            f"{name}-compartment",
            compartment_id=args.parent_compartment_id,
            name=names[NameKind.GROUP],
            description=f"Paybill pool {args.name}",
            enable_delete=False,
            opts=protected,
        )
        namespace = oci.identity.TagNamespace(
            f"{name}-tags",
            compartment_id=args.tenancy_ocid,
            name=names[NameKind.PREFIX],
            description="Paybill tenant attribution",
            opts=child,
        )
        oci.identity.Tag(
            f"{name}-tenant-tag",
            tag_namespace_id=namespace.id,
            name="tenant",
            description="The Paybill tenant a workload acts for",
            opts=child,
        )
        network = private_network(self, name, compartment.id, names[NameKind.NETWORK], args.vcn_cidr)
        vault, key = vault_key(self, name, compartment.id, names[NameKind.KEY], protected)
        admin = admin_password(self, name, old_name=f"{name}-password")
        system = db_system(
            self,
            name,
            compartment=compartment.id,
            display_name=names[NameKind.SERVER],
            instance_class=args.instance_class,
            subnet_id=network.subnet.id,
            nsg_id=network.nsg.id,
            key_id=key.id,
            password=admin.result,
            instances=args.instances,
            opts=protected,
        )
        self.server_admin = server_admin(endpoint(system), PG_PORT, ADMIN_USER, admin.result)
        self.pool = OciPool(
            name=args.name,
            region=args.region,
            tenancy_ocid=args.tenancy_ocid,
            parent_compartment_id=args.parent_compartment_id,
            isolations=args.isolations,
            compartment_id=compartment.id,
            tag_namespace=names[NameKind.PREFIX],
            vcn_id=network.vcn.id,
            subnet_id=network.subnet.id,
            nsg_id=network.nsg.id,
            vault_id=vault.id,
            key_id=key.id,
            db_host=endpoint(system),
            database="postgres",
        )
        self.compartment_id = compartment.id
        self.vcn_id = network.vcn.id
        self.db_host = endpoint(system)
        self.key_id = key.id
        self.register_outputs(
            {
                "compartment_id": self.compartment_id,
                "vcn_id": self.vcn_id,
                "db_host": self.db_host,
                "key_id": self.key_id,
                "db_port": PG_PORT,
            }
        )
