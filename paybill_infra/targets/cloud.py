"""What every cloud target shares: building the cloud's platform and tenant components as infrastructure
programs whose outputs are plain data.

A cloud's subclass says only what differs: the name of its region argument and the platform arguments its
settings must carry. Components come from :func:`paybill_infra.clouds.components_for`, which imports the
cloud's SDK on first use and raises :class:`~paybill_infra.clouds.errors.CloudSdkMissingError` (naming the
pip extra) when it is missing.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

import pulumi

from paybill_infra.clouds.errors import ConflictingOptionsError
from paybill_infra.clouds.registry import CloudComponents, components_for
from paybill_infra.contract import ServerAdmin
from paybill_infra.errors import TargetError
from paybill_infra.schema.enums import Isolation
from paybill_infra.schema.regions import known_regions
from paybill_infra.targets.base import Member, Program, Target, TargetSettings

PLATFORM_RESOURCE = "platform"


class CloudTarget(Target):
    """A cloud target: the platform component per region, the tenant component per tenant."""

    region_argument: ClassVar[str] = "region"
    required_platform_settings: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: TargetSettings) -> None:
        super().__init__(settings)
        self.components: CloudComponents = components_for(self.cloud)

    def known_regions(self) -> frozenset[str]:
        return known_regions(self.cloud)

    def validate(self) -> None:
        super().validate()
        missing = [key for key in self.required_platform_settings if key not in self.settings.platform]
        if missing:
            raise TargetError(str(self.cloud), f"settings.platform needs {', '.join(missing)}")
        self.platform_args(self.default_region)

    def pool_name(self, region: str) -> str:
        """The slug of the region's pool, from which every physical name of the platform derives."""
        return f"pb-{region}"

    def platform_args(self, region: str) -> Any:
        """The platform component's args for ``region``; a wrong key or value is a :class:`TargetError`."""
        values: dict[str, object] = {
            "name": self.pool_name(region),
            self.region_argument: region,
            **self.settings.platform,
            "isolations": self.settings.isolations,
        }
        try:
            return self.components.platform_args(**values)
        except (TypeError, ValueError, ConflictingOptionsError) as err:
            raise TargetError(str(self.cloud), f"settings.platform: {err}") from None

    def platform_program(self, region: str) -> Program:
        return PlatformProgram(self, self.platform_args(region))

    def tenants_program(self, region: str, platform: Mapping[str, Any], members: tuple[Member, ...]) -> Program:
        return TenantsProgram(self, _rebuild(self._pool_class(), platform["pool"]), members)

    def _pool_class(self) -> type:
        hint = next(f.type for f in dataclasses.fields(self.components.tenant_args) if f.name == "pool")
        pool_class: type = vars(sys.modules[self.components.tenant_args.__module__])[str(hint)]
        return pool_class


@dataclass(frozen=True)
class PlatformProgram:
    """The platform's infrastructure program: plain data (picklable), so it can run in another process."""

    target: CloudTarget
    args: Any

    def __call__(self) -> None:
        platform = self.target.components.platform(PLATFORM_RESOURCE, self.args)
        admin: ServerAdmin = platform.server_admin  # type: ignore[attr-defined]
        pulumi.export("server", _server(admin))
        pulumi.export("pool", _plain(platform.pool))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class TenantsProgram:
    """The infrastructure program of tenants built against a pool (plain data, like :class:`PlatformProgram`)."""

    target: CloudTarget
    pool: Any
    members: tuple[Member, ...]

    def __call__(self) -> None:
        parts = self.target.components
        built = {
            m.slug: parts.tenant(m.slug, parts.tenant_args(topology=m.topology, pool=self.pool))
            for m in sorted(self.members, key=lambda m: m.slug)
        }
        pulumi.export(
            "tenants",
            {
                slug: {"identity": t.identity, "key_id": t.key_id, "network_id": t.network_id, "host": t.db_host}
                for slug, t in built.items()
            },
        )
        pulumi.export("passwords", pulumi.Output.secret({slug: t.db_password for slug, t in built.items()}))
        own = [t.server_admin for t in built.values() if t.server_admin is not None]
        if len(self.members) == 1 and own:
            pulumi.export("server", _server(own[0]))


def _server(admin: ServerAdmin) -> pulumi.Output[dict[str, Any]]:
    return pulumi.Output.secret(
        pulumi.Output.all(admin.host, admin.port, admin.password).apply(
            lambda v: {
                "host": v[0],
                "port": int(v[1]),
                "user": admin.user,
                "password": v[2],
                "database": admin.database,
            }
        )
    )


def _plain(value: Any) -> Any:
    """A dataclass of Outputs and enums as exportable plain data (lists for tuples, values for enums)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _rebuild(cls: type, data: Mapping[str, Any]) -> Any:
    """The dataclass ``cls`` from its :func:`_plain` form: lists become tuples, isolation names become
    :class:`Isolation` members, and fields typed with a dataclass of the same module are rebuilt."""
    scope = vars(sys.modules[cls.__module__])
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value, hint = data[f.name], str(f.type)
        nested = scope.get(hint)
        if isinstance(value, Mapping) and isinstance(nested, type) and dataclasses.is_dataclass(nested):
            value = _rebuild(nested, value)
        elif isinstance(value, list):
            value = tuple(Isolation(v) for v in value) if hint.startswith("tuple[Isolation") else tuple(value)
        values[f.name] = value
    return cls(**values)
