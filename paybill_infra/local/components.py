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

from paybill_infra.contract import TenantComponent, TenantContract
from paybill_infra.local import sql as q
from paybill_infra.local.resources import BridgeSchema, LoginRole, PooledMembership, SharedPlatform, SiloDatabase
from paybill_infra.schema.enums import DatabaseSize, Isolation
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind

CONNECTION_LIMITS = {DatabaseSize.SMALL: 20, DatabaseSize.MEDIUM: 50, DatabaseSize.LARGE: 100, DatabaseSize.XLARGE: 200}
DEFAULT_STATEMENT_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class LocalPlatformArgs:
    """Where to provision: an external PostgreSQL ``url`` (a secret), else the embedded server whose data
    lives in ``embedded_dir``."""

    embedded_dir: str = ".paybill/postgres"
    url: pulumi.Input[str] | None = None


class LocalPlatform(pulumi.ComponentResource):
    """The shared part of the local target: the shared database and its pooled tables."""

    database: pulumi.Output[str]
    host: pulumi.Output[str]
    port: pulumi.Output[int]

    def __init__(self, name: str, args: LocalPlatformArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("paybill:local:Platform", name, None, opts)
        self.server: pulumi.Input[dict[str, Any]] = (
            pulumi.Output.secret(pulumi.Output.from_input(args.url).apply(lambda u: {"url": u}))
            if args.url is not None
            else {"embedded_dir": str(Path(args.embedded_dir).resolve())}
        )
        self.shared = SharedPlatform(
            f"{name}-shared",
            server=self.server,
            database=q.SHARED_DATABASE,
            owner=q.OWNER_ROLE,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.database = self.shared.database
        self.host = self.shared.host
        self.port = self.shared.port
        self.register_outputs({"database": self.database, "host": self.host, "port": self.port})


@dataclass(frozen=True)
class LocalTenantArgs:
    topology: Topology
    platform: LocalPlatform
    statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
    suspended: bool = False
    """A suspended tenant keeps its data but its role cannot log in."""


class LocalTenant(TenantComponent):
    """One tenant on the local target, isolated as its resolved topology says."""

    db_schema: pulumi.Output[str]

    def __init__(self, name: str, args: LocalTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("paybill:local:Tenant", name, None, opts)
        topo, platform = args.topology, args.platform
        child = pulumi.ResourceOptions(parent=self)
        role = LoginRole(
            f"{name}-role",
            server=platform.server,
            role=topo.name(NameKind.DB_USER),
            connection_limit=CONNECTION_LIMITS[topo.sizing.database_size],
            statement_timeout_ms=args.statement_timeout_ms,
            login=not args.suspended,
            opts=child,
        )
        after_role = pulumi.ResourceOptions(parent=self, depends_on=[role, platform.shared])
        database: pulumi.Input[str]
        if topo.isolation is Isolation.SILO:
            silo = SiloDatabase(
                f"{name}-database",
                server=platform.server,
                database=topo.name(NameKind.DATABASE),
                owner=role.role,
                opts=after_role,
            )
            database, schema = silo.database, q.SILO_SCHEMA
        elif topo.isolation is Isolation.BRIDGE:
            BridgeSchema(
                f"{name}-schema",
                server=platform.server,
                database=platform.database,
                schema=topo.name(NameKind.SCHEMA),
                owner=role.role,
                opts=after_role,
            )
            database, schema = platform.database, topo.name(NameKind.SCHEMA)
        else:
            PooledMembership(
                f"{name}-membership",
                server=platform.server,
                database=platform.database,
                role=role.role,
                tenant=topo.tenant,
                opts=after_role,
            )
            database, schema = platform.database, q.POOLED_SCHEMA
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
            db_schema=schema,
            fingerprint=topo.fingerprint,
        )
