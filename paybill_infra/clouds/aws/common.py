"""AWS building blocks shared by the pool and the tenants: KMS keys, private networks, TLS-only parameter
groups, a tenant's own database instance, and a tenant's credentials secret and ABAC role."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from paybill_infra.clouds.base import admin_password, data_options, server_admin, tenant_password
from paybill_infra.contract import ServerAdmin
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind

PG_PORT = 5432
PG_MAJOR = "16"
MASTER_USER = "paybill_admin"
KEY_DELETION_WINDOW_DAYS = 30
SESSION_TAG = "TenantId"
"""The session tag an application sets when it assumes a tenant role; ABAC conditions compare it."""


def kms_key(
    owner: pulumi.Resource, name: str, alias: str, description: str, opts: pulumi.ResourceOptions | None = None
) -> aws.kms.Key:
    """A symmetric customer-managed key with yearly rotation, and an alias naming it."""
    key = aws.kms.Key(
        f"{name}-key",
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
        opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=owner), opts),
    )
    aws.kms.Alias(
        f"{name}-alias", name=f"alias/{alias}", target_key_id=key.key_id, opts=pulumi.ResourceOptions(parent=owner)
    )
    return key


@dataclass(frozen=True)
class PrivateNetwork:
    vpc: aws.ec2.Vpc
    subnets: list[aws.ec2.Subnet]
    db_security_group: aws.ec2.SecurityGroup
    db_subnet_group: aws.rds.SubnetGroup
    cidr: str


def private_network(
    owner: pulumi.Resource, name: str, group_name: str, cidr: str, zones: tuple[str, str]
) -> PrivateNetwork:
    """A VPC with one private subnet per zone (no internet gateway, no public IPs) and a database security
    group that admits PostgreSQL from inside the VPC only."""
    child = pulumi.ResourceOptions(parent=owner)
    network = ipaddress.ip_network(cidr)
    blocks = list(network.subnets(new_prefix=network.prefixlen + 4))
    vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=cidr, enable_dns_hostnames=True, enable_dns_support=True, opts=child)
    subnets = [
        aws.ec2.Subnet(
            f"{name}-private-{zone}",
            vpc_id=vpc.id,
            cidr_block=str(block),
            availability_zone=zone,
            map_public_ip_on_launch=False,
            opts=child,
        )
        for zone, block in zip(zones, blocks, strict=False)
    ]
    security_group = aws.ec2.SecurityGroup(
        f"{name}-db",
        vpc_id=vpc.id,
        description="PostgreSQL from inside the VPC only",
        ingress=[
            aws.ec2.SecurityGroupIngressArgs(
                protocol="tcp",
                from_port=PG_PORT,
                to_port=PG_PORT,
                cidr_blocks=[cidr],
                description="PostgreSQL (TLS) from the VPC",
            )
        ],
        egress=[],
        opts=child,
    )
    subnet_group = aws.rds.SubnetGroup(f"{name}-db", name=group_name, subnet_ids=[s.id for s in subnets], opts=child)
    return PrivateNetwork(vpc, subnets, security_group, subnet_group, cidr)


def tls_parameter_group(owner: pulumi.Resource, name: str) -> aws.rds.ParameterGroup:
    """An instance parameter group that refuses non-TLS connections and logs connections."""
    return aws.rds.ParameterGroup(
        f"{name}-tls",
        family=f"postgres{PG_MAJOR}",
        description="Paybill: TLS required",
        parameters=[
            aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
            aws.rds.ParameterGroupParameterArgs(name="log_connections", value="1"),
        ],
        opts=pulumi.ResourceOptions(parent=owner),
    )


def tenant_instance(
    owner: pulumi.Resource,
    name: str,
    topology: Topology,
    *,
    key_arn: pulumi.Input[str],
    subnet_group: pulumi.Input[str],
    security_group_id: pulumi.Input[str],
    backup_days: int,
) -> aws.rds.Instance:
    """An RDS for PostgreSQL instance of the tenant's own (silo, dedicated bridge): Multi-AZ, private, TLS-only,
    storage and Performance Insights encrypted with the tenant's key ``key_arn``, IAM database
    authentication on, API deletion protection on and a final snapshot, protected as the tenant's data; its
    PostgreSQL log goes to CloudWatch (every dedicated instance is audited the same way)."""
    server = topology.name(NameKind.SERVER)
    return aws.rds.Instance(
        f"{name}-db",
        identifier=server,
        engine="postgres",
        instance_class=topology.sizing.instance_class,
        allocated_storage=topology.sizing.storage_gb,
        storage_type="gp3",
        db_name=topology.name(NameKind.DATABASE),
        username=MASTER_USER,
        password=admin_password(owner, name).result,
        port=PG_PORT,
        storage_encrypted=True,
        kms_key_id=key_arn,
        iam_database_authentication_enabled=True,
        publicly_accessible=False,
        multi_az=True,
        db_subnet_group_name=subnet_group,
        vpc_security_group_ids=[security_group_id],
        parameter_group_name=tls_parameter_group(owner, name).name,
        backup_retention_period=backup_days,
        copy_tags_to_snapshot=True,
        deletion_protection=True,
        skip_final_snapshot=False,
        final_snapshot_identifier=f"{server}-final",
        performance_insights_enabled=True,
        performance_insights_kms_key_id=key_arn,
        enabled_cloudwatch_logs_exports=["postgresql"],
        opts=data_options(owner, topology),
    )


def instance_admin(instance: aws.rds.Instance) -> ServerAdmin:
    """The administrator login of a dedicated instance (its generated password is a Pulumi secret)."""
    return server_admin(instance.address, instance.port, MASTER_USER, instance.password.apply(lambda p: p or ""))


def account_of(arn: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.from_input(arn).apply(lambda value: value.split(":")[4])


@dataclass(frozen=True)
class TenantAccess:
    role: aws.iam.Role
    secret: aws.secretsmanager.Secret
    password: pulumi.Output[str]


def tenant_access(
    owner: pulumi.Resource,
    name: str,
    topology: Topology,
    region: str,
    key_arn: pulumi.Input[str],
    db_resource_id: pulumi.Input[str],
    db_host: pulumi.Input[str],
    db_port: pulumi.Input[int],
    db_name: pulumi.Input[str],
) -> TenantAccess:
    """The tenant's database credentials in Secrets Manager (encrypted with ``key_arn``) and its IAM role.

    The role trusts the account only for sessions tagged ``TenantId=<slug>``, and its permissions use ABAC: it
    reads only secrets tagged ``paybill:tenant`` equal to the session's ``TenantId``, decrypts with the key only
    through Secrets Manager, and connects (IAM database auth) only as the tenant's own database user.
    """
    child = pulumi.ResourceOptions(parent=owner)
    slug, db_user = topology.tenant, topology.name(NameKind.DB_USER)
    password = tenant_password(owner, name)
    secret = aws.secretsmanager.Secret(
        f"{name}-credentials",
        name=topology.name(NameKind.SECRET),
        kms_key_id=key_arn,
        recovery_window_in_days=30,
        opts=child,
    )
    aws.secretsmanager.SecretVersion(
        f"{name}-credentials",
        secret_id=secret.id,
        secret_string=pulumi.Output.json_dumps(
            {"username": db_user, "password": password.result, "host": db_host, "port": db_port, "dbname": db_name}
        ),
        opts=child,
    )
    account = account_of(key_arn)
    trust = account.apply(
        lambda acct: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
                        "Action": ["sts:AssumeRole", "sts:TagSession"],
                        "Condition": {"StringEquals": {f"aws:RequestTag/{SESSION_TAG}": slug}},
                    }
                ],
            }
        )
    )
    role = aws.iam.Role(
        f"{name}-role",
        name=topology.name(NameKind.IDENTITY),
        assume_role_policy=trust,
        max_session_duration=3600,
        tags={SESSION_TAG: slug},
        opts=child,
    )
    policy = pulumi.Output.all(account, key_arn, db_resource_id).apply(
        lambda v: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "OwnSecretOnly",
                        "Effect": "Allow",
                        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                        "Resource": "*",
                        "Condition": {
                            "StringEquals": {
                                "secretsmanager:ResourceTag/paybill:tenant": f"${{aws:PrincipalTag/{SESSION_TAG}}}",
                            }
                        },
                    },
                    {
                        "Sid": "DecryptViaSecretsManager",
                        "Effect": "Allow",
                        "Action": "kms:Decrypt",
                        "Resource": v[1],
                        "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
                    },
                    {
                        "Sid": "ConnectAsOwnDatabaseUser",
                        "Effect": "Allow",
                        "Action": "rds-db:connect",
                        "Resource": f"arn:aws:rds-db:{region}:{v[0]}:dbuser:{v[2]}/{db_user}",
                    },
                ],
            }
        )
    )
    aws.iam.RolePolicy(f"{name}-access", role=role.id, policy=policy, opts=child)
    return TenantAccess(role, secret, password.result)
