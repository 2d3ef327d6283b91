"""``paybill:aws:Platform``: the shared pool of one region that pooled and bridge tenants live in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from paybill_infra.clouds.aws.common import MASTER_USER, PG_MAJOR, PG_PORT, kms_key, private_network
from paybill_infra.clouds.base import admin_password, pool_tags, server_admin
from paybill_infra.clouds.errors import ConflictingOptionsError
from paybill_infra.clouds.options import check_cidr
from paybill_infra.clouds.tagging import with_tags
from paybill_infra.contract import PlatformComponent, ServerAdmin
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.schema.regions import check_region
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind, names_for

MIN_BACKUP_DAYS = 7
SHARED_DATABASE = "paybill"


@dataclass(frozen=True)
class AwsPlatformArgs:
    """The pool's settings. Security settings can only be raised: fewer than 7 backup days, one zone, or a VPC
    smaller than /24 is refused with :class:`ConflictingOptionsError`."""

    name: str
    """The pool's slug; every physical name of the pool derives from it."""
    region: str
    zones: tuple[str, str] | None = None
    """Two availability zones of ``region``; defaults to ``<region>a`` and ``<region>b``."""
    vpc_cidr: str = "10.40.0.0/16"
    instance_class: str = "db.r7g.large"
    instances: int = 2
    """Aurora instances (a writer and readers spread over the zones)."""
    engine_version: str = "16.6"
    backup_retention_days: int = 14
    isolations: tuple[Isolation, ...] = tuple(Isolation)
    """The isolation models this pool accepts tenants for."""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validated(self)


@dataclass(frozen=True)
class AwsPool:
    """What tenants need from the pool: plain inputs, so a tenant can live in another program or stack."""

    name: str
    region: str
    zones: tuple[str, str]
    isolations: tuple[Isolation, ...]
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    db_subnet_group: pulumi.Input[str]
    db_security_group_id: pulumi.Input[str]
    cluster_resource_id: pulumi.Input[str]
    db_host: pulumi.Input[str]
    db_port: pulumi.Input[int]
    database: str
    key_arn: pulumi.Input[str]


@dataclass(frozen=True)
class AwsTenantArgs:
    """A tenant of ``pool``, isolated as ``topology.isolation`` says."""

    topology: Topology
    pool: AwsPool
    silo_vpc_cidr: str = "10.64.0.0/16"
    """The CIDR of a silo tenant's own VPC (never peered with the pool, so it may overlap it)."""

    def __post_init__(self) -> None:
        check_cidr("paybill:aws:Tenant", "silo_vpc_cidr", self.silo_vpc_cidr)


def _validated(args: AwsPlatformArgs) -> tuple[str, str]:
    check_region(Cloud.AWS, args.region)
    zones = args.zones or (f"{args.region}a", f"{args.region}b")
    problems: list[tuple[list[str], str]] = []
    if args.backup_retention_days < MIN_BACKUP_DAYS:
        problems.append((["backup_retention_days"], f"must be at least {MIN_BACKUP_DAYS}"))
    if len(set(zones)) != len(zones) or not all(z.startswith(args.region) for z in zones):
        problems.append((["zones", "region"], f"need two distinct zones of {args.region}, got {list(zones)}"))
    check_cidr("paybill:aws:Platform", "vpc_cidr", args.vpc_cidr)
    if args.instances < 1:
        problems.append((["instances"], "must be at least 1"))
    if problems:
        options, reason = problems[0]
        raise ConflictingOptionsError("paybill:aws:Platform", options, reason)
    return zones[0], zones[1]


class AwsPlatform(PlatformComponent):
    """A VPC with private subnets in two zones, an encrypted Aurora PostgreSQL cluster that is never public and
    accepts TLS only, and the KMS key that encrypts it. ``pool`` is what tenants are built against."""

    pool: AwsPool
    server_admin: ServerAdmin
    vpc_id: pulumi.Output[str]
    db_host: pulumi.Output[str]
    db_port: pulumi.Output[int]
    key_arn: pulumi.Output[str]
    cluster_arn: pulumi.Output[str]

    def __init__(self, name: str, args: AwsPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        zones = _validated(args)
        tags = pool_tags(args.name, args.tags)
        super().__init__("paybill:aws:Platform", name, None, with_tags(opts, Cloud.AWS, tags))
        child = pulumi.ResourceOptions(parent=self)
        names = names_for(Cloud.AWS, args.name)
        key = kms_key(self, name, names[NameKind.KEY], f"Paybill pool {args.name}: database and tenant secrets")
        network = private_network(self, name, names[NameKind.GROUP], args.vpc_cidr, zones)
        admin = admin_password(self, name, old_name=f"{name}-password")
        parameters = aws.rds.ClusterParameterGroup(
            f"{name}-tls",
            family=f"aurora-postgresql{PG_MAJOR}",
            description="Paybill: TLS required",
            parameters=[
                aws.rds.ClusterParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
                aws.rds.ClusterParameterGroupParameterArgs(name="log_connections", value="1"),
            ],
            opts=child,
        )
        cluster = aws.rds.Cluster(
            f"{name}-cluster",
            cluster_identifier=names[NameKind.SERVER],
            engine="aurora-postgresql",
            engine_version=args.engine_version,
            database_name=SHARED_DATABASE,
            master_username=MASTER_USER,
            master_password=admin.result,
            port=PG_PORT,
            storage_encrypted=True,
            kms_key_id=key.arn,
            iam_database_authentication_enabled=True,
            db_subnet_group_name=network.db_subnet_group.name,
            vpc_security_group_ids=[network.db_security_group.id],
            db_cluster_parameter_group_name=parameters.name,
            backup_retention_period=args.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=True,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{names[NameKind.SERVER]}-final",
            enabled_cloudwatch_logs_exports=["postgresql"],
            opts=pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True),
        )
        for index in range(args.instances):
            aws.rds.ClusterInstance(
                f"{name}-instance-{index}",
                cluster_identifier=cluster.id,
                engine=aws.rds.EngineType.AURORA_POSTGRESQL,
                engine_version=args.engine_version,
                instance_class=args.instance_class,
                availability_zone=zones[index % len(zones)],
                publicly_accessible=False,
                performance_insights_enabled=True,
                performance_insights_kms_key_id=key.arn,
                auto_minor_version_upgrade=True,
                opts=child,
            )
        self.pool = AwsPool(
            name=args.name,
            region=args.region,
            zones=zones,
            isolations=args.isolations,
            vpc_id=network.vpc.id,
            vpc_cidr=args.vpc_cidr,
            subnet_ids=[s.id for s in network.subnets],
            db_subnet_group=network.db_subnet_group.name,
            db_security_group_id=network.db_security_group.id,
            cluster_resource_id=cluster.cluster_resource_id,
            db_host=cluster.endpoint,
            db_port=cluster.port,
            database=SHARED_DATABASE,
            key_arn=key.arn,
        )
        self.server_admin = server_admin(cluster.endpoint, cluster.port, MASTER_USER, admin.result)
        self.vpc_id = network.vpc.id
        self.db_host = cluster.endpoint
        self.db_port = cluster.port
        self.key_arn = key.arn
        self.cluster_arn = cluster.arn
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "db_host": self.db_host,
                "db_port": self.db_port,
                "key_arn": self.key_arn,
                "cluster_arn": self.cluster_arn,
            }
        )
