"""Google Cloud building blocks shared by the pool and the tenants: a private VPC peered with Cloud SQL, a CMEK
key the Cloud SQL service agent may use, a private TLS-only instance, a tenant's database, and a tenant's service
account."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from paybill_infra.clouds.base import data_options, tenant_password
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind

PG_PORT = 5432
PG_VERSION = "POSTGRES_16"
KEY_ROTATION = "7776000s"
"""90 days."""


@dataclass(frozen=True)
class PrivateNetwork:
    network: gcp.compute.Network
    connection: gcp.servicenetworking.Connection


def private_network(
    owner: pulumi.Resource, name: str, project: pulumi.Input[str], region: str, network_name: str, cidr: str
) -> PrivateNetwork:
    """A custom-mode VPC with one private subnet and a private services connection for Cloud SQL."""
    child = pulumi.ResourceOptions(parent=owner)
    network = gcp.compute.Network(
        f"{name}-vpc", name=network_name, project=project, auto_create_subnetworks=False, opts=child
    )
    gcp.compute.Subnetwork(
        f"{name}-subnet",
        name=f"{network_name}-{region}",
        project=project,
        region=region,
        network=network.id,
        ip_cidr_range=cidr,
        private_ip_google_access=True,
        opts=child,
    )
    peering_range = gcp.compute.GlobalAddress(
        f"{name}-sql-range",
        name=f"{network_name}-sql",
        project=project,
        purpose="VPC_PEERING",
        address_type="INTERNAL",
        prefix_length=20,
        network=network.id,
        opts=child,
    )
    connection = gcp.servicenetworking.Connection(
        f"{name}-sql-peering",
        network=network.id,
        service="servicenetworking.googleapis.com",
        reserved_peering_ranges=[peering_range.name],
        opts=child,
    )
    return PrivateNetwork(network, connection)


def cmek_key(
    owner: pulumi.Resource,
    name: str,
    project: pulumi.Input[str],
    region: str,
    ring_name: str,
    opts: pulumi.ResourceOptions,
) -> gcp.kms.CryptoKey:
    """A regional key ring and rotating key, usable by the project's Cloud SQL and Secret Manager service agents
    (CMEK for the instance and for the tenants' secrets)."""
    child = pulumi.ResourceOptions(parent=owner)
    ring = gcp.kms.KeyRing(f"{name}-keyring", name=ring_name, project=project, location=region, opts=opts)
    key = gcp.kms.CryptoKey(
        f"{name}-key", name="data", key_ring=ring.id, rotation_period=KEY_ROTATION, purpose="ENCRYPT_DECRYPT", opts=opts
    )
    for agent_name, service in (("sql", "sqladmin.googleapis.com"), ("secrets", "secretmanager.googleapis.com")):
        agent = gcp.projects.ServiceIdentity(f"{name}-{agent_name}-agent", project=project, service=service, opts=child)
        gcp.kms.CryptoKeyIAMMember(
            f"{name}-{agent_name}-agent-key",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=agent.email.apply(lambda e: f"serviceAccount:{e}"),
            opts=child,
        )
    return key


ADMIN_USER = "postgres"
"""Cloud SQL's built-in administrator, whose password the instance's ``root_password`` sets."""


def private_instance(
    owner: pulumi.Resource,
    name: str,
    *,
    project: pulumi.Input[str],
    region: str,
    instance_name: str,
    tier: str,
    disk_gb: int,
    network_id: pulumi.Input[str],
    key_id: pulumi.Input[str],
    root_password: pulumi.Input[str],
    depends_on: list[pulumi.Resource],
    opts: pulumi.ResourceOptions,
) -> gcp.sql.DatabaseInstance:
    """A regional (HA) Cloud SQL for PostgreSQL instance: private IP only, TLS only, CMEK-encrypted, IAM
    authentication on, point-in-time recovery, deletion protection at both the Pulumi and the API level;
    ``root_password`` is the ``postgres`` administrator's, which the database layer connects as."""
    return gcp.sql.DatabaseInstance(
        f"{name}-sql",
        name=instance_name,
        project=project,
        region=region,
        database_version=PG_VERSION,
        encryption_key_name=key_id,
        deletion_protection=True,
        root_password=root_password,
        settings=gcp.sql.DatabaseInstanceSettingsArgs(
            tier=tier,
            edition="ENTERPRISE",
            availability_type="REGIONAL",
            disk_size=max(disk_gb, 10),
            disk_autoresize=True,
            deletion_protection_enabled=True,
            ip_configuration=gcp.sql.DatabaseInstanceSettingsIpConfigurationArgs(
                ipv4_enabled=False,
                private_network=network_id,
                ssl_mode="ENCRYPTED_ONLY",
            ),
            backup_configuration=gcp.sql.DatabaseInstanceSettingsBackupConfigurationArgs(
                enabled=True,
                point_in_time_recovery_enabled=True,
            ),
            database_flags=[
                gcp.sql.DatabaseInstanceSettingsDatabaseFlagArgs(name="cloudsql.iam_authentication", value="on")
            ],
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=depends_on)),
    )


def tenant_database(
    owner: pulumi.Resource, name: str, topology: Topology, *, instance: pulumi.Input[str], project: pulumi.Input[str]
) -> pulumi.Output[str]:
    """The tenant's own database on ``instance``, protected as its data; returns its name."""
    database = gcp.sql.Database(
        f"{name}-database",
        name=topology.name(NameKind.DATABASE),
        instance=instance,
        project=project,
        opts=data_options(owner, topology),
    )
    return database.name


@dataclass(frozen=True)
class TenantAccess:
    account: gcp.serviceaccount.Account
    password: pulumi.Output[str]


def tenant_access(
    owner: pulumi.Resource,
    name: str,
    topology: Topology,
    *,
    project: pulumi.Input[str],
    region: str,
    instance: pulumi.Input[str],
    key_id: pulumi.Input[str],
) -> TenantAccess:
    """The tenant's generated database password in Secret Manager (CMEK, one region), and a service account that
    may read that secret and connect to that instance only (IAM conditions on the resource name). The database
    user itself is created in-database by the database layer, with that password, like every other role."""
    account_id, secret_id = topology.name(NameKind.IDENTITY), topology.name(NameKind.SECRET)
    password = tenant_password(owner, name).result
    child = pulumi.ResourceOptions(parent=owner)
    account = gcp.serviceaccount.Account(
        f"{name}-sa", account_id=account_id, project=project, display_name=f"Paybill tenant {account_id}", opts=child
    )
    member = account.email.apply(lambda e: f"serviceAccount:{e}")
    secret = gcp.secretmanager.Secret(
        f"{name}-credentials",
        secret_id=secret_id,
        project=project,
        replication=gcp.secretmanager.SecretReplicationArgs(
            user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(
                replicas=[
                    gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(
                        location=region,
                        customer_managed_encryption=gcp.secretmanager.SecretReplicationUserManagedReplicaCustomerManagedEncryptionArgs(
                            kms_key_name=key_id
                        ),
                    )
                ]
            )
        ),
        opts=child,
    )
    gcp.secretmanager.SecretVersion(f"{name}-credentials", secret=secret.id, secret_data=password, opts=child)
    gcp.secretmanager.SecretIamMember(
        f"{name}-credentials-access",
        secret_id=secret.id,
        project=project,
        role="roles/secretmanager.secretAccessor",
        member=member,
        opts=child,
    )
    gcp.projects.IAMMember(
        f"{name}-sql-client",
        project=project,
        role="roles/cloudsql.client",
        member=member,
        condition=gcp.projects.IAMMemberConditionArgs(
            title=f"only {account_id}'s instance",
            expression=pulumi.Output.concat('resource.name == "projects/', project, "/instances/", instance, '"'),
        ),
        opts=child,
    )
    return TenantAccess(account, password)
