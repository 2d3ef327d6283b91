"""Typed Pulumi resources over the dynamic providers in :mod:`paybill_infra.local.provider`.

Each class declares its inputs as keyword arguments and its outputs as typed attributes, like a
generated SDK does; ``None`` placeholders in the property bag make outputs readable before creation.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import Resource

from paybill_infra.local.agent_access import AclSharedProvider, AclTenantProvider
from paybill_infra.local.provider import (
    BridgeSchemaProvider,
    LoginRoleProvider,
    PooledMembershipProvider,
    SharedPlatformProvider,
    SiloDatabaseProvider,
)

ServerInput = pulumi.Input[dict[str, Any]]
_OUTPUTS: dict[str, None] = {"drift": None, "host": None, "port": None}


class LoginRole(Resource, module="postgres", name="LoginRole"):
    """A tenant login role with a generated password (a Pulumi secret). ``search_path`` lists the role's own
    schemas: its role-level search path becomes ``pg_catalog`` and exactly those."""

    role: pulumi.Output[str]
    password: pulumi.Output[str]
    drift: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        server: ServerInput,
        role: str,
        connection_limit: int,
        statement_timeout_ms: int,
        search_path: list[str],
        login: pulumi.Input[bool] = True,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "server": server,
            "role": role,
            "connection_limit": connection_limit,
            "statement_timeout_ms": statement_timeout_ms,
            "search_path": search_path,
            "login": login,
            "password": None,
            "verifier": None,
            **_OUTPUTS,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["password", "verifier"])
        super().__init__(LoginRoleProvider(), resource_name, props, pulumi.ResourceOptions.merge(opts, secret))


class SharedPlatform(Resource, module="postgres", name="SharedPlatform"):
    """The shared database with the control schema and the RLS-protected pooled tables."""

    database: pulumi.Output[str]
    owner: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]

    def __init__(
        self,
        resource_name: str,
        *,
        server: ServerInput,
        database: str,
        owner: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"server": server, "database": database, "owner": owner, **_OUTPUTS}
        super().__init__(SharedPlatformProvider(), resource_name, props, opts)


class SiloDatabase(Resource, module="postgres", name="SiloDatabase"):
    """A silo tenant's own database, owned by its role."""

    database: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        server: ServerInput,
        database: str,
        owner: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"server": server, "database": database, "owner": owner, **_OUTPUTS}
        super().__init__(SiloDatabaseProvider(), resource_name, props, opts)


class BridgeSchema(Resource, module="postgres", name="BridgeSchema"):
    """A bridge tenant's own schema in the shared database."""

    schema: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        server: ServerInput,
        database: pulumi.Input[str],
        schema: str,
        owner: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"server": server, "database": database, "schema": schema, "owner": owner, **_OUTPUTS}
        super().__init__(BridgeSchemaProvider(), resource_name, props, opts)


class PooledMembership(Resource, module="postgres", name="PooledMembership"):
    """A pooled tenant's role ↔ tenant mapping and its grants on the shared tables."""

    tenant: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        server: ServerInput,
        database: pulumi.Input[str],
        role: pulumi.Input[str],
        tenant: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"server": server, "database": database, "role": role, "tenant": tenant, **_OUTPUTS}
        super().__init__(PooledMembershipProvider(), resource_name, props, opts)


class AclShared(Resource, module="agentacl", name="SharedDeployment"):
    """The agent ACL's cluster roles and shared database; the backend's app role gets a generated login."""

    app_role: pulumi.Output[str]
    app_password: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        server: ServerInput,
        policy: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"server": server, "policy": policy, "app_role": None, "app_password": None, **_OUTPUTS}
        secret = pulumi.ResourceOptions(additional_secret_outputs=["app_password"])
        super().__init__(AclSharedProvider(), resource_name, props, pulumi.ResourceOptions.merge(opts, secret))


class AclTenant(Resource, module="agentacl", name="TenantDeployment"):
    """One tenant's agent ACL objects: its role, one role per agent with column grants, its data."""

    def __init__(
        self,
        resource_name: str,
        *,
        server: ServerInput,
        policy: dict[str, Any],
        isolation: str,
        tenant: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"server": server, "policy": policy, "isolation": isolation, "tenant": tenant, **_OUTPUTS}
        super().__init__(AclTenantProvider(), resource_name, props, opts)
