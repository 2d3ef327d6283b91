"""The inline Pulumi programs of the control plane, built from immutable snapshots of the registry.

A program never reads the registry itself: the control plane snapshots what a stack should hold into a
frozen spec *before* the engine runs, so a run is a pure function of its spec and concurrent registry
writes cannot change a program half-way.

- platform stack: the shared database of bridge tenants (``LocalPlatform`` on ``paybill_bridge``);
- pool stack: one ``LocalPlatform`` on the pool's own database, plus a ``LocalTenant`` per member of its
  first share;
- pool shard: a ``LocalTenant`` per member of the shard over a :class:`PlatformRef` to the pool's database;
- tenant stack: one silo or bridge ``LocalTenant`` over a :class:`PlatformRef` to the platform stack.

Every program exports one stack output, ``platform`` (database, host, port). What a tenant's stack holds for
it (isolation, plan, database, schema, user, fingerprint and the password, a secret) is the outputs of its
``paybill:local:Tenant`` component, not a stack-wide map: a targeted run of a pool stack registers only the
members it changes (see :mod:`paybill_infra.controlplane.reconcile`), and the engine replaces the stack's
outputs on every run, so a map of all members would lose every member the run did not register.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from paybill_infra.datamodel.source import DataModel
from paybill_infra.local.components import (
    LocalPlatform,
    LocalPlatformArgs,
    LocalTenant,
    LocalTenantArgs,
    PlatformRef,
)
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import BRIDGE_DATABASE

BRIDGE_OWNER = "paybill_bridge_owner"


@dataclass(frozen=True)
class ServerConfig:
    """Which PostgreSQL the local target provisions into. ``url`` is only ever handed to Pulumi as a
    secret; ``__repr__`` hides it."""

    embedded_dir: str
    url: str | None = None

    def __repr__(self) -> str:
        return f"ServerConfig(embedded_dir={self.embedded_dir!r}, url={'***' if self.url else None})"

    def as_input(self) -> dict[str, str]:
        """The plain ``server`` property, for running a provider outside the engine (crash repair)."""
        return {"url": self.url} if self.url else {"embedded_dir": self.embedded_dir}

    def url_input(self) -> pulumi.Output[str] | None:
        return pulumi.Output.secret(self.url) if self.url else None


@dataclass(frozen=True)
class MemberSpec:
    """A tenant as a stack holds it. ``password`` is the one a cloud's infrastructure stored for it (kept
    only in memory while a program is built); ``None`` lets the provider generate one."""

    topology: Topology
    role: str
    suspended: bool
    password: str | None = None

    def __repr__(self) -> str:
        return f"MemberSpec(tenant={self.topology.tenant!r}, role={self.role!r}, suspended={self.suspended})"


@dataclass(frozen=True)
class Endpoint:
    database: str
    host: str
    port: int


@dataclass(frozen=True)
class PlatformProgram:
    """The platform stack's program. Programs are plain data (picklable), so a review can run them under
    mocks in another process. ``data_model`` is the schema version the stack's tables are created from."""

    server: ServerConfig
    data_model: DataModel | None = None

    def __call__(self) -> None:
        server = self.server
        platform = LocalPlatform(
            "platform",
            LocalPlatformArgs(
                embedded_dir=server.embedded_dir,
                url=server.url_input(),
                database=BRIDGE_DATABASE,
                owner=BRIDGE_OWNER,
                data_model=self.data_model,
            ),
        )
        pulumi.export("platform", {"database": platform.database, "host": platform.host, "port": platform.port})


@dataclass(frozen=True)
class PoolProgram:
    """A pool stack's program: the pool's own database and its members."""

    server: ServerConfig
    database: str
    owner: str
    members: tuple[MemberSpec, ...]
    data_model: DataModel | None = None

    def __call__(self) -> None:
        server = self.server
        platform = LocalPlatform(
            "pool",
            LocalPlatformArgs(
                embedded_dir=server.embedded_dir,
                url=server.url_input(),
                database=self.database,
                owner=self.owner,
                data_model=self.data_model,
            ),
        )
        pulumi.export("platform", {"database": platform.database, "host": platform.host, "port": platform.port})
        _tenants(platform, self.members, self.data_model)


@dataclass(frozen=True)
class ShardProgram:
    """A pool shard's program: its members over the pool's database, which the pool's first stack holds."""

    server: ServerConfig
    pool: Endpoint
    members: tuple[MemberSpec, ...]
    data_model: DataModel | None = None

    def __call__(self) -> None:
        _tenants(_reference(self.server, self.pool), self.members, self.data_model)


@dataclass(frozen=True)
class TenantProgram:
    """A silo or bridge tenant over the platform stack's shared database, or, with ``own_platform`` (a bridge
    tenant on a server of its own), over a shared database this stack creates on that server."""

    server: ServerConfig
    platform: Endpoint
    member: MemberSpec
    own_platform: bool = False
    data_model: DataModel | None = None

    def __call__(self) -> None:
        server, platform = self.server, self.platform
        ref: LocalPlatform | PlatformRef
        if self.own_platform:
            ref = LocalPlatform(
                "platform",
                LocalPlatformArgs(
                    embedded_dir=server.embedded_dir,
                    url=server.url_input(),
                    database=platform.database,
                    owner=BRIDGE_OWNER,
                    data_model=self.data_model,
                ),
            )
            pulumi.export("platform", {"database": platform.database, "host": platform.host, "port": platform.port})
        else:
            ref = _reference(server, platform)
        _tenants(ref, (self.member,), self.data_model)


def _reference(server: ServerConfig, platform: Endpoint) -> PlatformRef:
    """A database another stack holds, and the ``platform`` output saying which one it is."""
    pulumi.export("platform", {"database": platform.database, "host": platform.host, "port": platform.port})
    return PlatformRef(
        embedded_dir=server.embedded_dir,
        url=server.url_input(),
        database=platform.database,
        host=platform.host,
        port=platform.port,
    )


def _tenants(
    platform: LocalPlatform | PlatformRef, members: tuple[MemberSpec, ...], data_model: DataModel | None
) -> None:
    for m in sorted(members, key=lambda m: m.topology.tenant):
        LocalTenant(
            m.topology.tenant,
            LocalTenantArgs(
                topology=m.topology,
                platform=platform,
                suspended=m.suspended,
                role=m.role,
                password=m.password,
                data_model=data_model,
            ),
        )
