"""The topology contract: the outputs every tenant component publishes, on every cloud.

A platform team can swap the cloud under a tenant without touching what consumes it: the same output
names, the same types, the password always a secret.

Every component (tenant and platform) documents itself the same way: ``help()`` lists its inputs (the
fields of its ``args`` dataclass) and its outputs (typed attributes), generated from the code so the text
cannot fall behind it (:class:`DocumentedComponent`).
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import pulumi

OUTPUT_DOCS = {
    "tenant_id": "the tenant's slug",
    "isolation": "silo, pooled or bridge",
    "plan": "the plan the tenant is on",
    "db_host": "where the tenant's database listens",
    "db_port": "its port",
    "db_name": "the database (silo and bridge: the tenant's own; pooled: the pool's)",
    "db_user": "the tenant's login role",
    "db_password": "its password (always a secret)",
    "identity": "the workload identity the tenant's services assume",
    "network_id": "the network the database is reachable from",
    "key_id": "the encryption key of the tenant's data",
    "tags": "the tags on every taggable resource",
}
TENANT_OUTPUTS = tuple(OUTPUT_DOCS)


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


def _inputs_doc(component: type) -> str:
    args = typing.get_type_hints(component.__dict__.get("__init__")).get("args")
    if not isinstance(args, type) or not dataclasses.is_dataclass(args):
        return ""
    lines = [f"Inputs (``{args.__name__}``):"]
    for f in dataclasses.fields(args):
        default = "" if f.default is dataclasses.MISSING else f" = {f.default!r}"
        lines.append(f"    {f.name}{default}")
    return "\n".join(lines) + "\n\n"


def _describe(hint: Any) -> str:
    """``str`` for ``Output[str]``; a dataclass by name and its docstring's first line."""
    if typing.get_origin(hint) is pulumi.Output:
        hint = typing.get_args(hint)[0]
    name = getattr(hint, "__name__", str(hint))
    if dataclasses.is_dataclass(hint) and hint.__doc__:
        summary = " ".join(inspect.cleandoc(hint.__doc__).split("\n\n")[0].split())
        return f"{name}: {summary.split('. ')[0].rstrip('.')}"
    return name


class DocumentedComponent(pulumi.ComponentResource):
    """A component whose subclasses' docstrings get their inputs (the fields of the ``args`` dataclass their
    ``__init__`` takes) and outputs (:meth:`outputs_doc`) appended, so ``help(AwsPlatform)`` documents both
    rather than Pulumi's inherited ``__init__`` text."""

    kind: ClassVar[str] = "component"
    """What ``__init__`` declares, for its generated docstring."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return
        cls.__doc__ = f"{inspect.cleandoc(cls.__doc__ or '')}\n\n{_inputs_doc(cls)}{cls.outputs_doc()}"
        init = cls.__dict__.get("__init__")
        if init is not None and init.__doc__ is None:
            init.__doc__ = f"Declare the {cls.kind} ``name`` from ``args`` (inputs and outputs: see the class)."

    @classmethod
    def outputs_doc(cls) -> str:
        """The class's own typed attributes, each with its type (and a dataclass's summary line)."""
        lines = ["Outputs (typed attributes):"]
        hints = inspect.get_annotations(cls, eval_str=True)
        lines += [f"    {name}: {_describe(hint)}" for name, hint in hints.items()]
        return "\n".join(lines) + "\n"


class PlatformComponent(DocumentedComponent):
    """Base of every platform component (a cloud's shared pool of one region, the local platform)."""

    kind = "platform"


class TenantComponent(DocumentedComponent):
    """Base of every cloud's tenant component; the typed attributes below are the contract.

    ``server_admin`` is set when the tenant's database lives on a server of its own (silo, or a bridge plan
    with a dedicated server) and is ``None`` when it lives on its pool's server."""

    kind = "tenant"

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

    @classmethod
    def outputs_doc(cls) -> str:
        """The contract's outputs, described, the same on every cloud."""
        lines = ["Outputs (typed attributes, the same on every cloud):"]
        lines += [f"    {name}: {text}" for name, text in OUTPUT_DOCS.items()]
        return "\n".join(lines) + "\n"

    def publish(self, contract: TenantContract, **extra: pulumi.Input[Any]) -> None:
        """Set the contract attributes (password forced secret) and register them as outputs."""
        values: dict[str, pulumi.Input[Any]] = {f.name: getattr(contract, f.name) for f in fields(contract)}
        values.update(extra)
        values["db_password"] = pulumi.Output.secret(contract.db_password)
        for key, value in values.items():
            setattr(self, key, pulumi.Output.from_input(value))
        self.register_outputs(values)
