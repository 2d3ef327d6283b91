"""The topology contract: the outputs every tenant component publishes, on every cloud.

A platform team can swap the cloud under a tenant without touching what consumes it: the same output
names, the same types, the password always a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pulumi

TENANT_OUTPUTS = (
    "tenant_id",
    "isolation",
    "plan",
    "db_host",
    "db_port",
    "db_name",
    "db_user",
    "db_password",
    "identity",
    "network_id",
    "key_id",
    "tags",
)


@dataclass(frozen=True)
class TenantContract:
    """What a tenant component hands to :meth:`TenantComponent.publish`; ``db_password`` must be secret."""

    tenant_id: pulumi.Input[str]
    isolation: pulumi.Input[str]
    plan: pulumi.Input[str]
    db_host: pulumi.Input[str]
    db_port: pulumi.Input[int]
    db_name: pulumi.Input[str]
    db_user: pulumi.Input[str]
    db_password: pulumi.Input[str]
    identity: pulumi.Input[str]
    network_id: pulumi.Input[str]
    key_id: pulumi.Input[str]
    tags: pulumi.Input[dict[str, str]]


@dataclass(frozen=True)
class ServerAdmin:
    """The administrator login of a PostgreSQL server a component created (a pool's shared server, a silo
    tenant's own one). It is what the database layer connects as to create roles, schemas, tables and
    row-level security there; ``password`` is always a secret Output. ``database`` is the maintenance
    database that exists on a fresh server."""

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    user: str
    password: pulumi.Output[str]
    database: str = "postgres"


class TenantComponent(pulumi.ComponentResource):
    """Base of every cloud's tenant component; the typed attributes below are the contract.

    ``server_admin`` is set when the tenant's database lives on a server of its own (silo, or a bridge plan
    with a dedicated server) and is ``None`` when it lives on its pool's server."""

    def __init__(self, t: str, name: str, props: Any = None, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(t, name, props, opts)
        self.server_admin: ServerAdmin | None = None

    tenant_id: pulumi.Output[str]
    isolation: pulumi.Output[str]
    plan: pulumi.Output[str]
    db_host: pulumi.Output[str]
    db_port: pulumi.Output[int]
    db_name: pulumi.Output[str]
    db_user: pulumi.Output[str]
    db_password: pulumi.Output[str]
    identity: pulumi.Output[str]
    network_id: pulumi.Output[str]
    key_id: pulumi.Output[str]
    tags: pulumi.Output[dict[str, str]]

    def publish(self, contract: TenantContract, **extra: pulumi.Input[Any]) -> None:
        """Set the contract attributes (password forced secret) and register them as outputs."""
        values: dict[str, pulumi.Input[Any]] = {f.name: getattr(contract, f.name) for f in fields(contract)}
        values.update(extra)
        values["db_password"] = pulumi.Output.secret(contract.db_password)
        for key, value in values.items():
            setattr(self, key, pulumi.Output.from_input(value))
        self.register_outputs(values)
