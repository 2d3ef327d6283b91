"""``paybill:gcp:Platform``: the shared pool of one Google Cloud region, and the args tenants are built with."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_gcp as gcp

from paybill_infra.clouds.base import admin_password, pool_tags, server_admin
from paybill_infra.clouds.errors import ConflictingOptionsError
from paybill_infra.clouds.gcp.common import ADMIN_USER, PG_PORT, cmek_key, private_instance, private_network
from paybill_infra.clouds.options import check_at_least, check_cidr
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import PlatformComponent, ServerAdmin
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.schema.regions import check_region
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind, names_for

SHARED_DATABASE = "paybill"


@dataclass(frozen=True)
class GcpSiloProjects:
    """Where silo tenants get a project of their own: both a folder and a billing account, or neither."""

    folder_id: str | None = None
    billing_account: str | None = None

    @property
    def enabled(self) -> bool:
        return self.folder_id is not None


@dataclass(frozen=True)
class GcpPlatformArgs:
    """The pool's settings; ``silo_projects`` names the folder and billing account for per-tenant projects."""

    name: str
    project: str
    region: str
    subnet_cidr: str = "10.60.0.0/20"
    tier: str = "db-custom-4-15360"
    disk_gb: int = 100
    silo_projects: GcpSiloProjects = GcpSiloProjects()
    isolations: tuple[Isolation, ...] = tuple(Isolation)
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True)
class GcpPool:
    """What tenants need from the pool: plain inputs, so a tenant can live in another program or stack."""

    name: str
    project: str
    region: str
    silo_projects: GcpSiloProjects
    isolations: tuple[Isolation, ...]
    network_id: pulumi.Input[str]
    instance_name: pulumi.Input[str]
    db_host: pulumi.Input[str]
    key_id: pulumi.Input[str]
    database: str


@dataclass(frozen=True)
class GcpTenantArgs:
    """A tenant of ``pool``, isolated as ``topology.isolation`` says."""

    topology: Topology
    pool: GcpPool
    silo_subnet_cidr: str = "10.64.0.0/20"

    def __post_init__(self) -> None:
        check_cidr("paybill:gcp:Tenant", "silo_subnet_cidr", self.silo_subnet_cidr)


def _validate(args: GcpPlatformArgs) -> None:
    check_region(Cloud.GCP, args.region)
    check_cidr("paybill:gcp:Platform", "subnet_cidr", args.subnet_cidr)
    check_at_least("paybill:gcp:Platform", "disk_gb", args.disk_gb, 10)
    projects = args.silo_projects
    if (projects.folder_id is None) != (projects.billing_account is None):
        raise ConflictingOptionsError(
            "paybill:gcp:Platform",
            ["silo_projects.folder_id", "silo_projects.billing_account"],
            "a project per silo tenant needs both a folder and a billing account",
        )


class GcpPlatform(PlatformComponent):
    """A custom-mode VPC peered with Cloud SQL, a private CMEK-encrypted regional instance with the shared
    database, and its KMS key. ``pool`` is what tenants are built against."""

    pool: GcpPool
    server_admin: ServerAdmin
    network_id: pulumi.Output[str]
    db_host: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: GcpPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        _validate(args)
        tags = pool_tags(args.name, args.tags)
        super().__init__("paybill:gcp:Platform", name, None, with_tags(opts, Cloud.GCP, tags))
        child = pulumi.ResourceOptions(parent=self)
        protected = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        names = names_for(Cloud.GCP, args.name)
        network = private_network(self, name, args.project, args.region, names[NameKind.NETWORK], args.subnet_cidr)
        key = cmek_key(self, name, args.project, args.region, names[NameKind.KEY], protected)
        admin = admin_password(self, name)
        instance = private_instance(
            self,
            name,
            project=args.project,
            region=args.region,
            instance_name=names[NameKind.SERVER],
            tier=args.tier,
            disk_gb=args.disk_gb,
            network_id=network.network.id,
            key_id=key.id,
            root_password=admin.result,
            depends_on=[network.connection],
            opts=protected,
        )
        gcp.sql.Database(
            f"{name}-database", name=SHARED_DATABASE, instance=instance.name, project=args.project, opts=child
        )
        self.pool = GcpPool(
            name=args.name,
            project=args.project,
            region=args.region,
            silo_projects=args.silo_projects,
            isolations=args.isolations,
            network_id=network.network.id,
            instance_name=instance.name,
            db_host=instance.private_ip_address,
            key_id=key.id,
            database=SHARED_DATABASE,
        )
        self.server_admin = server_admin(instance.private_ip_address, PG_PORT, ADMIN_USER, admin.result)
        self.network_id = network.network.id
        self.db_host = instance.private_ip_address
        self.key_id = key.id
        self.register_outputs(
            {"network_id": self.network_id, "db_host": self.db_host, "key_id": self.key_id, "db_port": PG_PORT}
        )
