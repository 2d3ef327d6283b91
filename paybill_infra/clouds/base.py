"""What every cloud's components share: pool tags, tenant checks, silo data protection, the tenant contract, the
tenant dispatch.

Imported only by the cloud packages (it needs ``pulumi_random``, which every cloud extra installs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import TypeVar

import pulumi
import pulumi_random as random

from paybill_infra.clouds.errors import IsolationNotOfferedError, TopologyMismatchError
from paybill_infra.contract import ServerAdmin, TenantComponent, TenantContract
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind
from paybill_infra.topology.resolve import MANAGED_BY

SHARED = "shared"
"""The ``paybill:tenant`` and ``paybill:plan`` value of pool resources. ``shared`` is a reserved slug, so no
tenant can ever carry it, and a policy can tell pool resources from tenant resources by tag alone."""

PASSWORD_LENGTH = 40

A = TypeVar("A")


def pool_tags(pool: str, extra: Mapping[str, str]) -> dict[str, str]:
    """Tags of every resource of the shared pool ``pool``; the platform keys override ``extra``."""
    return {
        **extra,
        "paybill:tenant": SHARED,
        "paybill:plan": SHARED,
        "paybill:isolation": SHARED,
        "paybill:pool": pool,
        "managed-by": MANAGED_BY,
    }


def check_tenant(topology: Topology, cloud: Cloud, region: str, isolation: Isolation) -> None:
    """Refuse a topology resolved for another cloud, region or isolation than the component builds."""
    if topology.cloud is not cloud or topology.region != region:
        raise TopologyMismatchError(topology.tenant, f"{cloud} {region}", f"{topology.cloud} {topology.region}")
    if topology.isolation is not isolation:
        raise TopologyMismatchError(topology.tenant, f"{isolation} isolation", f"{topology.isolation} isolation")


def data_options(owner: pulumi.Resource, topology: Topology) -> pulumi.ResourceOptions:
    """Options for a resource holding tenant data (or the key that encrypts it): protected and retained on delete
    when the topology asks for deletion protection (silo), so neither ``pulumi destroy`` nor a replacement can
    drop a customer's data."""
    keep = topology.deletion_protection
    return pulumi.ResourceOptions(parent=owner, protect=keep, retain_on_delete=keep)


def tenant_password(owner: pulumi.Resource, name: str) -> random.RandomPassword:
    """A generated database password; Pulumi keeps ``result`` secret in state and outputs.

    Alphanumeric only, so it survives connection strings and shell quoting unescaped; 40 characters of
    ``[A-Za-z0-9]`` carry about 238 bits.
    """
    return random.RandomPassword(
        f"{name}-password",
        length=PASSWORD_LENGTH,
        special=False,
        min_lower=4,
        min_upper=4,
        min_numeric=4,
        opts=pulumi.ResourceOptions(parent=owner),
    )


def admin_password(owner: pulumi.Resource, name: str, *, old_name: str | None = None) -> random.RandomPassword:
    """The administrator password of a server ``owner`` creates (``<name>-admin-password``). ``old_name`` is
    the name an earlier release gave the same password, kept as an alias so upgrading never rotates it."""
    aliases = [pulumi.Alias(name=old_name)] if old_name else None
    return random.RandomPassword(
        f"{name}-admin-password",
        length=PASSWORD_LENGTH,
        special=False,
        min_lower=4,
        min_upper=4,
        min_numeric=4,
        opts=pulumi.ResourceOptions(parent=owner, aliases=aliases),
    )


def server_admin(
    host: pulumi.Input[str], port: pulumi.Input[int], user: str, password: pulumi.Input[str], database: str = "postgres"
) -> ServerAdmin:
    """A :class:`ServerAdmin` with the password forced secret."""
    return ServerAdmin(
        host=pulumi.Output.from_input(host),
        port=pulumi.Output.from_input(port),
        user=user,
        password=pulumi.Output.secret(password),
        database=database,
    )


def tenant_contract(
    topology: Topology,
    *,
    db_host: pulumi.Input[str],
    db_port: pulumi.Input[int],
    db_name: pulumi.Input[str],
    db_password: pulumi.Input[str],
    identity: pulumi.Input[str],
    network_id: pulumi.Input[str],
    key_id: pulumi.Input[str],
) -> TenantContract:
    """The contract a tenant component publishes. Tenant id, isolation, plan, database user and tags are the
    topology's on every cloud and isolation; the rest is where the component put the tenant."""
    return TenantContract(
        tenant_id=topology.tenant,
        isolation=topology.isolation.value,
        plan=topology.plan,
        db_host=db_host,
        db_port=db_port,
        db_name=db_name,
        db_user=topology.name(NameKind.DB_USER),
        db_password=db_password,
        identity=identity,
        network_id=network_id,
        key_id=key_id,
        tags=topology.tags,
    )


def dispatch_tenant(
    owner: TenantComponent,
    name: str,
    args: A,
    topology: Topology,
    cloud: Cloud,
    builders: Mapping[Isolation, Callable[[str, A, pulumi.ResourceOptions], TenantComponent]],
    offered: Sequence[Isolation],
) -> TenantComponent:
    """Build the tenant with the component its isolation names, as a child of ``owner``, and publish its contract
    on ``owner``. Raises :class:`IsolationNotOfferedError` when the pool does not offer that isolation
    (``offered``, from the platform's args) or ``cloud`` has no component for it."""
    builder = builders.get(topology.isolation)
    if builder is None or topology.isolation not in offered:
        raise IsolationNotOfferedError(
            str(cloud), str(topology.isolation), [str(i) for i in offered if i in builders], topology.tenant
        )
    inner = builder(name, args, pulumi.ResourceOptions(parent=owner))
    owner.server_admin = inner.server_admin
    owner.publish(TenantContract(**{f.name: getattr(inner, f.name) for f in fields(TenantContract)}))
    return inner
