"""The local target's ComponentResources: ``paybill:local:Platform`` and ``paybill:local:Tenant``.

The local target maps the three isolation models onto one PostgreSQL server:

- silo: a dedicated database owned by the tenant's role;
- bridge: a schema owned by the tenant's role in the shared database;
- pooled: the shared tables, FORCE ROW LEVEL SECURITY, and a role mapped to the tenant.

Construction does no I/O: the server is reached (and the embedded one started) by the providers, when the
engine asks them to act.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from agent_acl import AclPolicy
from paybill_infra.contract import TenantComponent, TenantContract
from paybill_infra.datamodel.source import DataModel
from paybill_infra.local import sql as q
from paybill_infra.local.agent_access import policy_input
from paybill_infra.local.resources import (
    AclShared,
    AclTenant,
    BridgeSchema,
    LoginRole,
    PooledMembership,
    SharedPlatform,
    SiloDatabase,
)
from paybill_infra.schema.enums import DatabaseSize, Isolation
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind

CONNECTION_LIMITS = {DatabaseSize.SMALL: 20, DatabaseSize.MEDIUM: 50, DatabaseSize.LARGE: 100, DatabaseSize.XLARGE: 200}
DEFAULT_STATEMENT_TIMEOUT_MS = 30_000


def server_input(embedded_dir: str, url: pulumi.Input[str] | None) -> pulumi.Input[dict[str, Any]]:
    """The ``server`` property every local resource carries: the external URL (kept secret), or the
    absolute data directory of the embedded server."""
    if url is not None:
        return pulumi.Output.secret(pulumi.Output.from_input(url).apply(lambda u: {"url": u}))
    return {"embedded_dir": str(Path(embedded_dir).resolve())}


@dataclass(frozen=True)
class LocalPlatformArgs:
    """Where to provision: an external PostgreSQL ``url`` (a secret), else the embedded server whose data
    lives in ``embedded_dir``.

    ``database`` and ``owner`` name the shared database and its owner role. The fleet program keeps the
    defaults (one shared database); the control plane gives each pool stack its own pair, so tearing one
    pool down never touches another pool's database or owner.
    """

    embedded_dir: str = ".paybill/postgres"
    url: pulumi.Input[str] | None = None
    database: str = q.SHARED_DATABASE
    owner: str = q.OWNER_ROLE
    acl_policy: AclPolicy | None = None
    """With a policy, every tenant also gets the agent ACL's roles, grants and policies (``agent_acl``),
    generated from the policy's typed data schema."""
    data_model: DataModel | None = None
    """The version of the project's schema file the shared tables are created from (default: shipped)."""


class LocalPlatform(pulumi.ComponentResource):
    """The shared part of the local target: the shared database and its pooled tables."""

    database: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]

    def __init__(self, name: str, args: LocalPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("paybill:local:Platform", name, None, opts)
        self.server: pulumi.Input[dict[str, Any]] = server_input(args.embedded_dir, args.url)
        self.shared = SharedPlatform(
            f"{name}-shared",
            server=self.server,
            database=args.database,
            owner=args.owner,
            data_model=args.data_model,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.acl_policy = args.acl_policy
        self.acl: AclShared | None = None
        if args.acl_policy is not None:
            self.acl = AclShared(
                f"{name}-agent-acl",
                server=self.server,
                policy=policy_input(args.acl_policy),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.database = self.shared.database
        self.host = self.shared.host
        self.port = self.shared.port
        self.dependencies: list[pulumi.Resource] = [self.shared]
        self.register_outputs({"database": self.database, "host": self.host, "port": self.port})


class PlatformRef:
    """A shared database provisioned by *another* stack, seen from a tenant stack.

    Bridge and silo tenants of the control plane live in stacks of their own; declaring a second
    :class:`LocalPlatform` there would make two stacks own (and one day drop) the same database. A
    reference carries only what :class:`LocalTenant` reads: the server, the database name and the
    endpoint, and no resource to depend on (the control plane orders the stacks instead).
    """

    def __init__(
        self, *, embedded_dir: str, url: pulumi.Input[str] | None, database: str, host: str, port: int
    ) -> None:
        self.server: pulumi.Input[dict[str, Any]] = server_input(embedded_dir, url)
        self.database: pulumi.Output[str] = pulumi.Output.from_input(database)
        self.host: pulumi.Output[str] = pulumi.Output.from_input(host)
        self.port: pulumi.Output[int] = pulumi.Output.from_input(port)
        self.dependencies: list[pulumi.Resource] = []
        self.acl: AclShared | None = None
        self.acl_policy: AclPolicy | None = None


@dataclass(frozen=True)
class LocalTenantArgs:
    """``role`` overrides the topology's login-role name: the control plane gives the target of a topology
    migration a new role (source and target exist side by side until the data is moved)."""

    topology: Topology
    platform: LocalPlatform | PlatformRef
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
    suspended: bool = False
    """A suspended tenant keeps its data but its role cannot log in."""
    role: str | None = None
    password: pulumi.Input[str] | None = None
    """The login role's password when the infrastructure already generated one (a cloud's secret store);
    ``None``: the provider generates it."""
    data_model: DataModel | None = None
    """The version of the project's schema file the tenant's tables are at (default: the shipped schema)."""


class LocalTenant(TenantComponent):
    """One tenant on the local target, isolated as its resolved topology says."""

    db_schema: pulumi.Output[str]

    def __init__(self, name: str, args: LocalTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("paybill:local:Tenant", name, None, opts)
        topo, platform = args.topology, args.platform
        # The role depends on the platform too: on destroy it is dropped (with DROP OWNED in the shared
        # database) before the shared database, whose DROP ... WITH (FORCE) would cut that connection.
        child = pulumi.ResourceOptions(parent=self, depends_on=list(platform.dependencies))
        own_schema = {
            Isolation.SILO: q.SILO_SCHEMA,
            Isolation.BRIDGE: topo.name(NameKind.SCHEMA),
            Isolation.POOLED: q.POOLED_SCHEMA,
        }[topo.isolation]
        role = LoginRole(
            f"{name}-role",
            server=platform.server,
            role=args.role or topo.name(NameKind.DB_USER),
            connection_limit=CONNECTION_LIMITS[topo.sizing.database_size],
            statement_timeout_ms=args.statement_timeout_ms,
            search_path=[own_schema],
            login=not args.suspended,
            password=args.password,
            opts=child,
        )
        after_role = pulumi.ResourceOptions(parent=self, depends_on=[role, *platform.dependencies])
        database: pulumi.Input[str]
        if topo.isolation is Isolation.SILO:
            silo = SiloDatabase(
                f"{name}-database",
                server=platform.server,
                database=topo.name(NameKind.DATABASE),
                owner=role.role,
                data_model=args.data_model,
                opts=after_role,
            )
            database = silo.database
        elif topo.isolation is Isolation.BRIDGE:
            BridgeSchema(
                f"{name}-schema",
                server=platform.server,
                database=platform.database,
                schema=own_schema,
                owner=role.role,
                data_model=args.data_model,
                opts=after_role,
            )
            database = platform.database
        else:
            PooledMembership(
                f"{name}-membership",
                server=platform.server,
                database=platform.database,
                role=role.role,
                tenant=topo.tenant,
                data_model=args.data_model,
                opts=after_role,
            )
            database = platform.database
        if platform.acl is not None and platform.acl_policy is not None:
            AclTenant(
                f"{name}-agent-acl",
                server=platform.server,
                policy=policy_input(platform.acl_policy),
                isolation=topo.isolation.value,
                tenant=topo.tenant,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[platform.acl]),
            )
        self.publish(
            TenantContract(
                tenant_id=topo.tenant,
                isolation=topo.isolation.value,
                plan=topo.plan,
                db_host=platform.host,
                db_port=platform.port,
                db_name=database,
                db_user=role.role,
                db_password=role.password,
                identity=role.role,
                network_id="local",
                key_id="none",
                tags=topo.tags,
            ),
            db_schema=own_schema,
            fingerprint=topo.fingerprint,
        )
