"""IBM Cloud building blocks shared by the pool and the tenants: a private VPC, Key Protect with a root key the
database service may read, a private-endpoint-only Databases for PostgreSQL deployment, and a tenant's IAM
access group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from paybill_infra.clouds.base import admin_password, data_options, server_admin, tenant_password
from paybill_infra.clouds.ibm import bindings as ibm
from paybill_infra.contract import ServerAdmin
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind

PG_PORT = 5432
PG_VERSION = "16"
PG_SERVICE = "databases-for-postgresql"


@dataclass(frozen=True)
class PrivateNetwork:
    vpc: ibm.IsVpc
    subnet: ibm.IsSubnet


def private_network(
    owner: pulumi.Resource, name: str, resource_group: pulumi.Input[str], vpc_name: str, zone: str
) -> PrivateNetwork:
    """A VPC and one subnet with no public gateway, and a security group admitting PostgreSQL from the VPC."""
    child = pulumi.ResourceOptions(parent=owner)
    vpc = ibm.IsVpc(f"{name}-vpc", name=vpc_name, resource_group=resource_group, opts=child)
    subnet = ibm.IsSubnet(
        f"{name}-subnet", name=f"{vpc_name}-{zone}", vpc=vpc.id, zone=zone, resource_group=resource_group, opts=child
    )
    group = ibm.IsSecurityGroup(
        f"{name}-db-sg", name=f"{vpc_name}-db", vpc=vpc.id, resource_group=resource_group, opts=child
    )
    ibm.IsSecurityGroupRule(f"{name}-db-ingress", group=group.id, remote="10.0.0.0/8", port=PG_PORT, opts=child)
    return PrivateNetwork(vpc, subnet)


def key_protect(
    owner: pulumi.Resource,
    name: str,
    resource_group: pulumi.Input[str],
    region: str,
    instance_name: str,
    opts: pulumi.ResourceOptions,
) -> tuple[ibm.ResourceInstance, ibm.KmsKey]:
    """A Key Protect instance (private endpoint only) with a root key, readable by the PostgreSQL service."""
    instance = ibm.ResourceInstance(
        f"{name}-kms",
        name=instance_name,
        service="kms",
        plan="tiered-pricing",
        location=region,
        resource_group_id=resource_group,
        parameters={"allowed_network": "private-only"},
        opts=opts,
    )
    key = ibm.KmsKey(f"{name}-key", instance_id=instance.guid, key_name=f"{instance_name}-data", opts=opts)
    ibm.IamAuthorizationPolicy(
        f"{name}-db-reads-key",
        source_service_name=PG_SERVICE,
        target_service_name="kms",
        target_resource_instance_id=instance.guid,
        roles=["Reader"],
        opts=pulumi.ResourceOptions(parent=owner),
    )
    return instance, key


ADMIN_USER = "admin"
"""The administrator every Databases for PostgreSQL deployment has; ``adminpassword`` sets its password."""


def deployment(
    owner: pulumi.Resource,
    name: str,
    *,
    resource_group: pulumi.Input[str],
    region: str,
    deployment_name: str,
    host_flavor: str,
    storage_gb: int,
    key_crn: pulumi.Input[str],
    admin_password: pulumi.Input[str],
    vpc: pulumi.Input[str],
    subnet: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> ibm.Database:
    """A Databases for PostgreSQL deployment on private endpoints only (TLS is mandatory on the service), its
    disks and backups encrypted with ``key_crn``, reached from the VPC through a virtual endpoint gateway."""
    database = ibm.Database(
        f"{name}-db",
        name=deployment_name,
        plan="standard",
        location=region,
        resource_group_id=resource_group,
        version=PG_VERSION,
        adminpassword=admin_password,
        key_protect_key=key_crn,
        backup_encryption_key_crn=key_crn,
        host_flavor=host_flavor,
        members=2,
        disk_mb=max(storage_gb, 5) * 1024,
        opts=opts,
    )
    ibm.IsVirtualEndpointGateway(
        f"{name}-db-endpoint",
        name=f"{deployment_name}-vpe",
        vpc=vpc,
        subnet=subnet,
        target_crn=database.crn,
        resource_group=resource_group,
        opts=pulumi.ResourceOptions(parent=owner),
    )
    return database


@dataclass(frozen=True)
class TenantDeployment:
    database: ibm.Database
    password: pulumi.Output[str]
    admin: ServerAdmin


def tenant_deployment(
    owner: pulumi.Resource,
    name: str,
    topology: Topology,
    *,
    resource_group: pulumi.Input[str],
    region: str,
    key_crn: pulumi.Input[str],
    vpc: pulumi.Input[str],
    subnet: pulumi.Input[str],
) -> TenantDeployment:
    """A deployment of the tenant's own (silo, and bridge, which on IBM always has its own): sized by the
    topology, protected as its data, and the tenant's generated password (its database user is created
    in-database by the database layer, like every other role). Silo and bridge differ only in whose resource
    group, key and VPC it uses."""
    password = tenant_password(owner, name).result
    admin = admin_password(owner, name)
    database = deployment(
        owner,
        name,
        resource_group=resource_group,
        region=region,
        deployment_name=topology.name(NameKind.SERVER),
        host_flavor=topology.sizing.instance_class,
        storage_gb=topology.sizing.storage_gb,
        key_crn=key_crn,
        admin_password=admin.result,
        vpc=vpc,
        subnet=subnet,
        opts=data_options(owner, topology),
    )
    return TenantDeployment(database, password, server_admin(host_of(database), PG_PORT, ADMIN_USER, admin.result))


def host_of(database: ibm.Database) -> pulumi.Output[str]:
    return database.connectionstrings.apply(lambda c: _first_host(c or []))


def _first_host(strings: list[dict[str, Any]]) -> str:
    hosts = strings[0].get("hosts") or [{}] if strings else [{}]
    return str(hosts[0].get("hostname", ""))


def tenant_access_group(
    owner: pulumi.Resource, name: str, topology: Topology, database_guid: pulumi.Input[str]
) -> ibm.IamAccessGroup:
    """An access group for the tenant's service IDs, allowed to read the connection details of one deployment."""
    group = ibm.IamAccessGroup(
        f"{name}-access-group",
        name=topology.name(NameKind.IDENTITY),
        description=f"Paybill tenant {topology.tenant}",
        opts=pulumi.ResourceOptions(parent=owner),
    )
    ibm.IamAccessGroupPolicy(
        f"{name}-access-policy",
        access_group_id=group.id,
        roles=["Viewer"],
        service=PG_SERVICE,
        resource_instance_id=database_guid,
        opts=pulumi.ResourceOptions(parent=owner),
    )
    return group
