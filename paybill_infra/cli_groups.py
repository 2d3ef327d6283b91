"""Command groups of ``paybill`` whose modules load only when one of their commands runs.

``paybill tenants`` pulls in the control plane (SQLAlchemy, alembic, the Automation API) and ``paybill acl``
pulls in ``agent_acl``: seconds of imports that ``paybill --help`` or ``paybill plans list`` must not pay.
The root group lists them by name and one-line help; resolving a command (to run it, or to complete it)
imports the group's module and mounts its typer app in their place.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import typer
from typer.core import TyperGroup


@dataclass(frozen=True)
class LazyGroup:
    """Where a group's typer app lives (``module:attribute``) and its one-line help."""

    target: str
    help: str


LAZY_GROUPS: dict[str, LazyGroup] = {
    "tenants": LazyGroup(
        "paybill_infra.controlplane.cli:tenants_app", "Tenant lifecycle through the control plane (real engine)."
    ),
    "acl": LazyGroup("agent_acl.cli:app", "Agent ACL: access matrix, generated SQL, tenant-closure check."),
    "db": LazyGroup(
        "paybill_infra.rollouts.cli:db_app", "The tenant data schema: plan, status, and migrations in waves."
    ),
    "service": LazyGroup("paybill_infra.cli_service:service_app", "The product backend's API keys."),
}


class LazyGroups(TyperGroup):
    """The root group: the eager commands plus the :data:`LAZY_GROUPS`, loaded on resolution."""

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        return [*super().list_commands(ctx), *(name for name in LAZY_GROUPS if name not in self.commands)]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> typer.core.TyperCommand | TyperGroup | None:  # type: ignore[override]
        found = super().get_command(ctx, cmd_name)
        lazy = LAZY_GROUPS.get(cmd_name)
        if found is not None or lazy is None:
            return found  # type: ignore[return-value]
        return TyperGroup(name=cmd_name, help=lazy.help)  # listed in help; never run

    def resolve_command(self, ctx: typer.Context, args: list[str]) -> tuple[str | None, object, list[str]]:  # type: ignore[override]
        if args and args[0] in LAZY_GROUPS and args[0] not in self.commands:
            self.add_command(load(args[0]), args[0])
        return super().resolve_command(ctx, args)


def load(name: str) -> TyperGroup:
    """Import the group ``name`` and build its command group."""
    lazy = LAZY_GROUPS[name]
    module, attribute = lazy.target.split(":")
    group = typer.main.get_group(getattr(importlib.import_module(module), attribute))
    group.name, group.help = name, lazy.help
    return group
