"""``paybill:ibm:Platform``: the shared pool of one IBM Cloud region, and the args tenants are built with."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from paybill_infra.clouds.base import admin_password, pool_tags, server_admin
from paybill_infra.clouds.errors import ConflictingOptionsError
from paybill_infra.clouds.ibm import bindings as ibm
from paybill_infra.clouds.ibm.common import ADMIN_USER, PG_PORT, deployment, host_of, key_protect, private_network
from paybill_infra.clouds.options import check_at_least
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import PlatformComponent, ServerAdmin
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.schema.regions import check_region
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind, names_for


@dataclass(frozen=True)
class IbmPlatformArgs:
    """The pool's settings; ``zone`` is the VPC zone of the pool's subnet (defaults to ``<region>-1``)."""

    name: str
    region: str
    zone: str | None = None
    host_flavor: str = "b3c.8x32.encrypted"
    storage_gb: int = 100
    isolations: tuple[Isolation, ...] = tuple(Isolation)
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _zone(self)
        check_at_least("paybill:ibm:Platform", "storage_gb", self.storage_gb, 5)


@dataclass(frozen=True)
class IbmPool:
    """What tenants need from the pool: plain inputs, so a tenant can live in another program or stack."""

    name: str
    region: str
    zone: str
    isolations: tuple[Isolation, ...]
    resource_group: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    key_crn: pulumi.Input[str]
    database_guid: pulumi.Input[str]
    db_host: pulumi.Input[str]
    database: str


@dataclass(frozen=True)
class IbmTenantArgs:
    """A tenant of ``pool``, isolated as ``topology.isolation`` says."""

    topology: Topology
    pool: IbmPool


def _zone(args: IbmPlatformArgs) -> str:
    check_region(Cloud.IBM, args.region)
    zone = args.zone or f"{args.region}-1"
    if not zone.startswith(f"{args.region}-"):
        raise ConflictingOptionsError("paybill:ibm:Platform", ["zone", "region"], f"{zone} is not in {args.region}")
    return zone


class IbmPlatform(PlatformComponent):
    """A resource group with a VPC, a Key Protect root key, and a Databases for PostgreSQL deployment on private
    endpoints encrypted with it. ``pool`` is what tenants are built against."""

    pool: IbmPool
    server_admin: ServerAdmin
    resource_group: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    db_host: pulumi.Output[str]
    key_crn: pulumi.Output[str]

    def __init__(self, name: str, args: IbmPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        zone = _zone(args)
        tags = pool_tags(args.name, args.tags)
        super().__init__("paybill:ibm:Platform", name, None, with_tags(opts, Cloud.IBM, tags))
        child = pulumi.ResourceOptions(parent=self)
        protected = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        names = names_for(Cloud.IBM, args.name)
        group = ibm.ResourceGroup(f"{name}-rg", name=names[NameKind.GROUP], opts=child)
        network = private_network(self, name, group.id, names[NameKind.NETWORK], zone)
        _, key = key_protect(self, name, group.id, args.region, names[NameKind.KEY], protected)
        admin = admin_password(self, name, old_name=f"{name}-password")
        database = deployment(
            self,
            name,
            resource_group=group.id,
            region=args.region,
            deployment_name=names[NameKind.SERVER],
            host_flavor=args.host_flavor,
            storage_gb=args.storage_gb,
            key_crn=key.crn,
            admin_password=admin.result,
            vpc=network.vpc.id,
            subnet=network.subnet.id,
            opts=protected,
        )
        self.pool = IbmPool(
            name=args.name,
            region=args.region,
            zone=zone,
            isolations=args.isolations,
            resource_group=group.id,
            vpc_id=network.vpc.id,
            subnet_id=network.subnet.id,
            key_crn=key.crn,
            database_guid=database.guid,
            db_host=host_of(database),
            database="ibmclouddb",
        )
        self.server_admin = server_admin(host_of(database), PG_PORT, ADMIN_USER, admin.result)
        self.resource_group = group.id
        self.vpc_id = network.vpc.id
        self.db_host = host_of(database)
        self.key_crn = key.crn
        self.register_outputs(
            {
                "resource_group": self.resource_group,
                "vpc_id": self.vpc_id,
                "db_host": self.db_host,
                "key_crn": self.key_crn,
                "db_port": PG_PORT,
            }
        )
