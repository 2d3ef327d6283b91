"""The target contract: what a place tenants run (the embedded server, or one of five clouds) supplies.

A target supplies **infrastructure** only: networks, keys, identities and PostgreSQL servers, built from the
cloud ComponentResources (``paybill_infra/clouds/<cloud>/``), and how to reach each server's administrator.
Everything *inside* PostgreSQL (roles, schemas, tenant tables, row-level security, the agent ACL) is the one
database layer (``paybill_infra/local/``'s dynamic providers), applied by the control plane to whatever
server the target's infrastructure exposes. So a target never writes SQL, and the database layer never
knows which cloud it runs on.

Infrastructure programs export plain data, so the next stack (the database layer, or a tenant built
against a pool) can be built from stack outputs alone:

- ``server``: the administrator login of the server the stack created (secret: it holds the password);
- ``pool``: the platform's pool description, from which tenants are built in their own stacks;
- ``tenants``: per tenant, its identity, key and network; ``passwords``: per tenant, the database
  password the infrastructure stored in the cloud's secret store (secret), which the database layer
  gives the tenant's login role so the two never disagree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from paybill_infra.errors import TargetError
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.schema.identifiers import Region
from paybill_infra.schema.regions import BUILTIN_REGIONS
from paybill_infra.topology.model import Topology
from paybill_infra.topology.resolve import CloudDefaults

if TYPE_CHECKING:
    from paybill_infra.local.server import AdminConnection

Program = Callable[[], None]

HostPort = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:/-]+:[0-9]{1,5}$", max_length=255)]


class SslMode(StrEnum):
    """libpq's ``sslmode`` values the control plane accepts for a target's database endpoint."""

    DISABLE = "disable"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


class TargetSettings(BaseModel):
    """How the control plane uses one target.

    - ``region``: where tenants go unless their request names one; ``allowed_regions``: every region a
      tenant may ask for (the default region is always allowed).
    - ``isolations``: the isolation models offered on this target (a plan needing another is refused).
    - ``sslmode``: how the database layer connects to the target's servers (``verify-full`` needs the
      cloud's CA bundle in ``PGSSLROOTCERT``).
    - ``tunnels``: where the control plane runs outside the private network, each private database host
      mapped to the ``host:port`` of a bastion or port-forward that reaches it.
    - ``platform``: extra arguments of the cloud's platform component (Azure subscription and Entra
      tenant, the GCP project, OCI tenancy and compartment, or overrides such as ``instance_class``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: Region | None = None
    allowed_regions: Annotated[tuple[Region, ...], Field(max_length=64)] = ()
    isolations: Annotated[tuple[Isolation, ...], Field(min_length=1)] = tuple(Isolation)
    sslmode: SslMode = SslMode.REQUIRE
    tunnels: dict[Annotated[str, Field(max_length=255)], HostPort] = {}
    platform: dict[Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")], str | int | bool] = {}


class StackResource(BaseModel):
    """One resource of a stack and what a run did, or would do, to it (``create``, ``update``,
    ``delete``, ``replace``, ``same``)."""

    model_config = ConfigDict(frozen=True)

    op: str
    type: str
    name: str
    properties: tuple[str, ...] = ()
    """The changed property paths of an update (from the engine's diff; values never enter)."""


@dataclass(frozen=True)
class Member:
    """A tenant as a stack holds it: its resolved topology (``db_user`` is its current login role) and
    whether its login is suspended."""

    topology: Topology
    suspended: bool

    @property
    def slug(self) -> str:
        return self.topology.tenant


def default_region(cloud: Cloud, settings: TargetSettings) -> str:
    """Where the target of ``cloud`` puts a tenant whose request names no region: the region its settings
    name, else the cloud's built-in one. A function of the settings alone, so the API process, which builds
    no target, answers as the control plane does."""
    return settings.region or BUILTIN_REGIONS[cloud]


class Target(ABC):
    """One target: its defaults and naming, and the infrastructure programs of its stacks."""

    cloud: Cloud

    def __init__(self, settings: TargetSettings) -> None:
        self.settings = settings

    @property
    def default_region(self) -> str:
        return default_region(self.cloud, self.settings)

    @abstractmethod
    def known_regions(self) -> frozenset[str]:
        """Every region this target can build in."""

    def allowed_regions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.default_region, *self.settings.allowed_regions)))

    def defaults(self) -> CloudDefaults:
        """The topology defaults of this target: a tenant's own region must be one of ``allowed_regions``
        (:func:`~paybill_infra.topology.resolve_topology` refuses any other with a typed error)."""
        return CloudDefaults(
            cloud=self.cloud,
            region=self.default_region,
            allowed_regions=self.allowed_regions(),
            isolations=self.settings.isolations,
        )

    def validate(self) -> None:
        """Refuse settings naming a region this target cannot build in (raised before any engine run)."""
        unknown = [r for r in self.allowed_regions() if r not in self.known_regions()]
        if unknown:
            raise TargetError(str(self.cloud), f"unknown region(s) {', '.join(unknown)}")

    def stack_prefix(self, region: str) -> str:
        """Stack names of this target and region start with it (empty for the local target, whose stack
        names predate multi-target fleets)."""
        return f"{self.cloud.value}-{region}-"

    @abstractmethod
    def platform_program(self, region: str) -> Program | None:
        """The infrastructure of the region's shared platform, exporting ``server`` and ``pool`` (``None``:
        the target has no infrastructure stacks)."""

    @abstractmethod
    def tenants_program(self, region: str, platform: Mapping[str, Any], members: tuple[Member, ...]) -> Program | None:
        """The infrastructure of ``members`` (one silo/bridge tenant, or the tenants of one pool) built
        against the platform whose outputs are ``platform``; exports ``tenants``, ``passwords`` and, when
        the tenant has a server of its own, ``server``."""

    def connection(self, server: Mapping[str, Any]) -> AdminConnection:
        """The administrator connection to a server an infrastructure stack exported, through a tunnel
        when the settings map its host to one."""
        from paybill_infra.local.server import AdminConnection  # psycopg: not for the readers of StackResource

        host, port = str(server["host"]), int(server["port"])
        tunnel = self.settings.tunnels.get(host)
        if tunnel is not None:
            host, _, forwarded = tunnel.rpartition(":")
            port = int(forwarded)
        return AdminConnection(
            host=host,
            port=port,
            user=str(server["user"]),
            password=str(server["password"]),
            sslmode=self.settings.sslmode.value,
        )
