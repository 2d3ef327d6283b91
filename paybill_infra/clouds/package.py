"""The component package: every cloud's pool and tenant, hosted for TypeScript, Go, .NET, Java and YAML programs.

``components/__main__.py`` serves :func:`hosted_components` with Pulumi's component-provider host, which infers
the package schema from type annotations. The Python components take Python objects (a resolved ``Topology``, a
pool dataclass); other languages can only send plain data. So each hosted component is a thin facade, generated
here from the Python component's own args dataclasses, that rebuilds those objects from plain data and builds the
Python component as its child:

- ``<Cloud>Platform(args: <Cloud>PlatformArgs)`` outputs ``pool`` (``<Cloud>Pool``);
- ``<Cloud>Tenant(args: <Cloud>TenantArgs)`` takes a ``TenantSpec`` (tenant and plan facts) and that ``pool``,
  resolves the topology with :func:`resolve_topology` exactly as Python callers do, and outputs the contract.

This module deliberately does not use ``from __future__ import annotations``: the schema analyzer reads
annotations at run time and needs real types, not strings.
"""

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any, Optional, TypedDict

import pulumi

from paybill_infra.clouds.registry import CLOUDS, components_for
from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud, DatabaseSize, Isolation
from paybill_infra.schema.plan import Plan, PlanLimits, Price
from paybill_infra.schema.tenant import Tenant
from paybill_infra.topology.resolve import CloudDefaults, resolve_topology

PACKAGE = "paybill"
CONTRACT: dict[str, Any] = inspect.get_annotations(TenantComponent, eval_str=True)
"""The tenant contract's typed outputs (the base class's own annotations, evaluated)."""


class TenantSpec(TypedDict, total=False):
    """A tenant and the facts of its plan that decide its infrastructure."""

    tenant: typing.Required[str]
    """The tenant slug (3-40 characters, ``[a-z0-9-]``)."""
    display_name: typing.Required[str]
    plan: typing.Required[str]
    tier: typing.Required[int]
    isolation: typing.Required[str]
    """``silo``, ``pooled`` or ``bridge``."""
    database_size: str
    """``small``, ``medium``, ``large`` or ``xlarge``."""
    storage_gb: int
    dedicated_server: bool
    tags: dict[str, str]


def _hints(cls: Any) -> dict[str, Any]:
    """A dataclass's field types, evaluated; the ``Output`` forward reference inside ``pulumi.Input`` is left as it
    is (:func:`_plain` drops it)."""
    return inspect.get_annotations(cls, eval_str=True)


def _plain(hint: Any) -> Any:
    """The schema type of a dataclass field: Inputs unwrapped, sequences as lists, enums as strings."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return Optional[_plain(inner[0])]  # noqa: UP045 - the schema analyzer reads typing.Optional
        plain = [
            a
            for a in inner
            if not isinstance(a, typing.ForwardRef) and typing.get_origin(a) not in (typing.Awaitable, pulumi.Output)
        ]
        return pulumi.Input[_plain(plain[0])]  # type: ignore[misc]
    if origin in (tuple, list, Sequence):
        return list[_plain(args[0])]  # type: ignore[misc]
    if origin in (dict, Mapping):
        return dict[str, _plain(args[1])]  # type: ignore[misc]
    if isinstance(hint, type) and issubclass(hint, Enum):
        return str
    if dataclasses.is_dataclass(hint):
        return _typed_dict(hint, typing.cast(type, hint).__name__)
    return hint


_TYPED_DICTS: dict[str, Any] = {}


def _typed_dict(cls: Any, name: str, skip: tuple[str, ...] = ()) -> Any:
    if name not in _TYPED_DICTS:
        hints = _hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
        required = {
            n
            for n, f in fields.items()
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        body = {n: (_plain(hints[n]) if n in required else typing.NotRequired[_plain(hints[n])]) for n in fields}
        _TYPED_DICTS[name] = _make_typed_dict(name, body, cls.__doc__)
    return _TYPED_DICTS[name]


def _make_typed_dict(name: str, body: dict[str, Any], doc: Optional[str]) -> Any:  # noqa: UP045
    typed = TypedDict(name, body)  # type: ignore[misc]
    typed.__module__ = __name__
    typed.__doc__ = doc
    return typed


def _rebuild(cls: Any, values: Mapping[str, Any]) -> Any:
    """The dataclass ``cls`` from plain ``values`` (lists back to tuples, strings back to enums)."""
    hints = _hints(cls)
    out: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name not in values or values[field.name] is None:
            continue
        value, hint = values[field.name], hints[field.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if dataclasses.is_dataclass(hint):
            value = _rebuild(hint, value)
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            item = typing.get_args(hint)[0]
            value = tuple(item(v) if isinstance(item, type) and issubclass(item, Enum) else v for v in value)
        elif args and dataclasses.is_dataclass(args[0]):
            value = _rebuild(args[0], value)
        out[field.name] = value
    return cls(**out)


def _topology(spec: Mapping[str, Any], cloud: Cloud, region: str) -> Any:
    """Resolve the tenant's topology from plain facts. Price and billing id never enter a topology, so the plan
    is given a zero price here."""
    plan = Plan(
        name=spec["plan"],
        tier=spec["tier"],
        isolation=Isolation(spec["isolation"]),
        limits=PlanLimits(
            database_size=DatabaseSize(spec.get("database_size", "small")), storage_gb=spec.get("storage_gb", 10)
        ),
        dedicated_server=spec.get("dedicated_server", False),
        price=Price(amount=Decimal(0), currency="USD"),
        billing_id="component-package",
    )
    tenant = Tenant(
        slug=spec["tenant"], display_name=spec["display_name"], plan=spec["plan"], tags=spec.get("tags", {})
    )
    return resolve_topology(plan, tenant, CloudDefaults(cloud=cloud, region=region, allowed_regions=(region,)))


def _region(pool: Any) -> str:
    return str(getattr(pool, "region", None) or pool.location)


def _hosted_platform(cloud: Cloud) -> type[pulumi.ComponentResource]:
    parts = components_for(cloud)
    prefix = parts.platform.__name__.removesuffix("Platform")
    args_type = _typed_dict(parts.platform_args, f"{prefix}PlatformArgs")
    pool_cls = _hints(parts.tenant_args)["pool"]
    pool_type = _typed_dict(pool_cls, f"{prefix}Pool")

    def construct(
        self: pulumi.ComponentResource,
        name: str,
        args: Any,
        opts: Optional[pulumi.ResourceOptions] = None,  # noqa: UP045 - the schema analyzer reads this spelling
    ) -> None:
        pulumi.ComponentResource.__init__(self, f"{PACKAGE}:index:{prefix}Platform", name, None, opts)
        platform = parts.platform(name, _rebuild(parts.platform_args, args), pulumi.ResourceOptions(parent=self))
        pool = platform.pool  # type: ignore[attr-defined]
        self.pool = pulumi.Output.from_input(  # type: ignore[attr-defined]
            {f.name: _wire(getattr(pool, f.name)) for f in dataclasses.fields(pool)}
        )
        self.register_outputs({"pool": self.pool})  # type: ignore[attr-defined]

    return _component_class(
        f"{prefix}Platform",
        construct,
        args_type,
        {"pool": typing.cast(Any, pulumi.Output)[pool_type]},
        f"The shared {cloud} pool (``{parts.platform.__name__}``), for non-Python programs.",
    )


def _wire(value: Any) -> Any:
    if isinstance(value, tuple):
        return [v.value if isinstance(v, Enum) else v for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _hosted_tenant(cloud: Cloud) -> type[pulumi.ComponentResource]:
    parts = components_for(cloud)
    prefix = parts.tenant.__name__.removesuffix("Tenant")
    pool_cls = _hints(parts.tenant_args)["pool"]
    pool_type = _typed_dict(pool_cls, f"{prefix}Pool")
    args_type = _make_typed_dict(
        f"{prefix}TenantArgs", {"spec": TenantSpec, "pool": pool_type}, "A tenant's facts and the pool it joins."
    )

    def construct(
        self: pulumi.ComponentResource,
        name: str,
        args: Any,
        opts: Optional[pulumi.ResourceOptions] = None,  # noqa: UP045 - the schema analyzer reads this spelling
    ) -> None:
        pulumi.ComponentResource.__init__(self, f"{PACKAGE}:index:{prefix}Tenant", name, None, opts)
        pool = _rebuild(pool_cls, args["pool"])
        topology = _topology(args["spec"], cloud, _region(pool))
        tenant: TenantComponent = parts.tenant(
            name, parts.tenant_args(topology=topology, pool=pool), pulumi.ResourceOptions(parent=self)
        )
        outputs = {f: getattr(tenant, f) for f in CONTRACT}
        for key, value in outputs.items():
            setattr(self, key, value)
        self.register_outputs(outputs)

    return _component_class(
        f"{prefix}Tenant",
        construct,
        args_type,
        dict(CONTRACT),
        f"One tenant on {cloud} (``{parts.tenant.__name__}``), isolated as its plan says.",
    )


def _component_class(
    name: str,
    construct: Callable[..., None],
    args_type: Any,
    outputs: dict[str, Any],
    doc: str,
) -> type[pulumi.ComponentResource]:
    """The component class ``name`` hosting ``construct``. The schema analyzer reads the constructor's
    annotations (``args_type`` is the input type) and the class annotations (``outputs``), so both are set
    explicitly on the generated class."""
    construct.__annotations__ = {
        "name": str,
        "args": args_type,
        "opts": Optional[pulumi.ResourceOptions],  # noqa: UP045
        "return": None,
    }
    return type(
        name,
        (pulumi.ComponentResource,),
        {"__init__": construct, "__module__": __name__, "__annotations__": outputs, "__doc__": doc},
    )


def hosted_components() -> list[type[pulumi.ComponentResource]]:
    """Every hosted component, platforms first; importing each cloud's SDK (all extras must be installed)."""
    return [*(_hosted_platform(c) for c in CLOUDS), *(_hosted_tenant(c) for c in CLOUDS)]
