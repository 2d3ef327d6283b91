"""Oracle Cloud building blocks shared by the pool and the tenants: a private VCN, a Vault key the PostgreSQL
service may use, an encrypted DB system, and a tenant's dynamic group, policy and credentials secret."""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass

import pulumi
import pulumi_oci as oci

from paybill_infra.clouds.base import tenant_password
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind

PG_PORT = 5432
PG_VERSION = "16"
BACKUP_DAYS = 14
_FLEX = re.compile(r"^(?P<shape>.+\.Flex)\.(?P<ocpu>\d+)\.(?P<memory>\d+)GB$")


def dns_label(name: str) -> str:
    """VCN and subnet DNS labels: letters and digits, at most 15, starting with a letter."""
    return re.sub(r"[^a-z0-9]", "", name.lower())[:15]


@dataclass(frozen=True)
class PrivateNetwork:
    vcn: oci.core.Vcn
    subnet: oci.core.Subnet
    nsg: oci.core.NetworkSecurityGroup


def private_network(
    owner: pulumi.Resource, name: str, compartment: pulumi.Input[str], display_name: str, cidr: str
) -> PrivateNetwork:
    """A VCN with one private subnet (no public IPs, no internet ingress) and a network security group that
    admits PostgreSQL from inside the VCN only."""
    child = pulumi.ResourceOptions(parent=owner)
    network = ipaddress.ip_network(cidr)
    block = next(network.subnets(new_prefix=network.prefixlen + 4))
    vcn = oci.core.Vcn(
        f"{name}-vcn",
        compartment_id=compartment,
        cidr_blocks=[cidr],
        display_name=display_name,
        dns_label=dns_label(display_name),
        opts=child,
    )
    subnet = oci.core.Subnet(
        f"{name}-db-subnet",
        compartment_id=compartment,
        vcn_id=vcn.id,
        cidr_block=str(block),
        display_name=f"{display_name}-db",
        dns_label="db",
        prohibit_public_ip_on_vnic=True,
        prohibit_internet_ingress=True,
        opts=child,
    )
    nsg = oci.core.NetworkSecurityGroup(
        f"{name}-db-nsg", compartment_id=compartment, vcn_id=vcn.id, display_name=f"{display_name}-db", opts=child
    )
    oci.core.NetworkSecurityGroupSecurityRule(
        f"{name}-db-ingress",
        network_security_group_id=nsg.id,
        direction="INGRESS",
        protocol="6",
        source=cidr,
        source_type="CIDR_BLOCK",
        description="PostgreSQL (TLS) from the VCN",
        tcp_options=oci.core.NetworkSecurityGroupSecurityRuleTcpOptionsArgs(
            destination_port_range=oci.core.NetworkSecurityGroupSecurityRuleTcpOptionsDestinationPortRangeArgs(
                min=PG_PORT, max=PG_PORT
            )
        ),
        opts=child,
    )
    return PrivateNetwork(vcn, subnet, nsg)


def vault_key(
    owner: pulumi.Resource, name: str, compartment: pulumi.Input[str], display_name: str, opts: pulumi.ResourceOptions
) -> tuple[oci.kms.Vault, oci.kms.Key]:
    """A vault and an HSM-protected AES-256 key, and the policy that lets PostgreSQL DB systems use it."""
    vault = oci.kms.Vault(
        f"{name}-vault", compartment_id=compartment, display_name=display_name, vault_type="DEFAULT", opts=opts
    )
    key = oci.kms.Key(
        f"{name}-key",
        compartment_id=compartment,
        display_name=f"{display_name}-data",
        management_endpoint=vault.management_endpoint,
        protection_mode="HSM",
        key_shape=oci.kms.KeyKeyShapeArgs(algorithm="AES", length=32),
        opts=opts,
    )
    oci.identity.Policy(
        f"{name}-key-policy",
        compartment_id=compartment,
        name=f"{display_name}-psql-key",
        description="PostgreSQL DB systems may use the data key",
        statements=[
            pulumi.Output.concat(
                "Allow any-user to use keys in compartment id ",
                compartment,
                " where ALL {request.principal.type = 'postgresqldbsystem', target.key.id = '",
                key.id,
                "'}",
            )
        ],
        opts=pulumi.ResourceOptions(parent=owner),
    )
    return vault, key


ADMIN_USER = "paybill_admin"


def db_system(
    owner: pulumi.Resource,
    name: str,
    *,
    compartment: pulumi.Input[str],
    display_name: str,
    instance_class: str,
    subnet_id: pulumi.Input[str],
    nsg_id: pulumi.Input[str],
    key_id: pulumi.Input[str],
    password: pulumi.Input[str],
    instances: int,
    opts: pulumi.ResourceOptions,
) -> oci.psql.DbSystem:
    """A PostgreSQL DB system in a private subnet, storage encrypted with ``key_id``, regionally durable, daily
    backups. OCI Database with PostgreSQL accepts TLS connections only."""
    flex = _FLEX.match(instance_class)
    return oci.psql.DbSystem(
        f"{name}-db",
        compartment_id=compartment,
        display_name=display_name,
        db_version=PG_VERSION,
        shape=flex["shape"] if flex else instance_class,
        instance_ocpu_count=int(flex["ocpu"]) if flex else None,
        instance_memory_size_in_gbs=int(flex["memory"]) if flex else None,
        instance_count=instances,
        network_details=oci.psql.DbSystemNetworkDetailsArgs(subnet_id=subnet_id, nsg_ids=[nsg_id]),
        storage_details=oci.psql.DbSystemStorageDetailsArgs(
            system_type="OCI_OPTIMIZED_STORAGE", is_regionally_durable=True, kms_key_id=key_id
        ),
        credentials=oci.psql.DbSystemCredentialsArgs(
            username=ADMIN_USER,
            password_details=oci.psql.DbSystemCredentialsPasswordDetailsArgs(
                password_type="PLAIN_TEXT",  # noqa: S106
                password=password,
            ),
        ),
        management_policy=oci.psql.DbSystemManagementPolicyArgs(
            backup_policy=oci.psql.DbSystemManagementPolicyBackupPolicyArgs(kind="DAILY", retention_days=BACKUP_DAYS)
        ),
        opts=opts,
    )


def endpoint(system: oci.psql.DbSystem) -> pulumi.Output[str]:
    return system.network_details.apply(lambda n: n.primary_db_endpoint_private_ip or "")


@dataclass(frozen=True)
class TenantAccess:
    group: oci.identity.DynamicGroup
    secret: oci.vault.Secret
    password: pulumi.Output[str]


def tenant_access(
    owner: pulumi.Resource,
    name: str,
    topology: Topology,
    *,
    tenancy: str,
    compartment: pulumi.Input[str],
    tag_namespace: str,
    vault_id: pulumi.Input[str],
    key_id: pulumi.Input[str],
) -> TenantAccess:
    """The tenant's generated database password as a Vault secret, a dynamic group of the tenant's workloads
    (matched by the defined tag ``<namespace>.tenant``), and a policy that lets that group read this one secret
    only. Every isolation builds it the same way; only where the secret lives differs."""
    tenant, group_name = topology.tenant, topology.name(NameKind.IDENTITY)
    password = tenant_password(owner, name).result
    child = pulumi.ResourceOptions(parent=owner)
    secret = oci.vault.Secret(
        f"{name}-credentials",
        compartment_id=compartment,
        vault_id=vault_id,
        key_id=key_id,
        secret_name=topology.name(NameKind.SECRET),
        secret_content=oci.vault.SecretSecretContentArgs(
            content_type="BASE64", content=password.apply(lambda p: base64.b64encode(p.encode()).decode())
        ),
        opts=child,
    )
    group = oci.identity.DynamicGroup(
        f"{name}-workloads",
        compartment_id=tenancy,
        name=group_name,
        description=f"Paybill tenant {tenant}: its workloads",
        matching_rule=pulumi.Output.concat(
            "ALL {resource.compartment.id = '", compartment, "', tag.", tag_namespace, ".tenant.value = '", tenant, "'}"
        ),
        opts=child,
    )
    oci.identity.Policy(
        f"{name}-access",
        compartment_id=compartment,
        name=group_name,
        description=f"Paybill tenant {tenant}: its credentials secret only",
        statements=[
            pulumi.Output.concat(
                "Allow dynamic-group ",
                group.name,
                " to read secret-bundles in compartment id ",
                compartment,
                " where target.secret.id = '",
                secret.id,
                "'",
            )
        ],
        opts=child,
    )
    return TenantAccess(group, secret, password)
