"""``paybill db …``: the tenant data schema across the fleet (typer + rich; ``--json`` on every command).

- ``paybill db plan [FILE]``: a dry run of moving the fleet to the schema file (default: the configured one):
  its expand/contract changes and the SQL per unit, grouped by topology. Nothing is recorded or applied.
- ``paybill db status``: the fleet grouped by schema version, from the units' own version markers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from paybill_infra.cli_output import emit, guard, out, table
from paybill_infra.controlplane.cli import JsonOpt, RootOpt, open_plane

db_app = typer.Typer(help="The tenant data schema: plan and status of versions.", no_args_is_help=True)

FileArg = Annotated[Path | None, typer.Argument(help="The new schema file (default: the configured one).")]
DestructiveOpt = Annotated[
    bool, typer.Option("--allow-destructive", help="Allow contract changes (drops, narrowing, NOT NULL).")
]


@db_app.command("plan")
def plan(
    file: FileArg = None,
    allow_destructive: DestructiveOpt = False,
    root: RootOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Dry run: the SQL each unit would run to reach FILE, grouped by topology."""
    with open_plane(root, as_json=as_json) as plane:
        result = guard(lambda: plane.plan_schema(file, allow_destructive=allow_destructive), as_json=as_json)
    if as_json:
        emit(result)
        return
    out.print(f"schema version {result.from_version} -> {result.to_version} ({escape(result.source)})")
    for change in result.changes:
        out.print(f"  {escape(str(change))}")
    for kind, units in sorted(result.units.items(), key=lambda item: item[0].value):
        out.print(f"\n[bold]{kind.value}[/bold] ({len(units)} unit(s))")
        for unit in units:
            out.print(f"-- {escape(unit.unit)}: {', '.join(unit.members)} (at version {unit.from_version})")
            out.print(escape(unit.sql), highlight=False)


@db_app.command("status")
def status(root: RootOpt = Path("."), as_json: JsonOpt = False) -> None:
    """The fleet grouped by the schema version its units are at."""
    with open_plane(root, as_json=as_json) as plane:
        result = guard(plane.schema_status, as_json=as_json)
    if as_json:
        emit(result)
        return
    view = table("version", "units", "tenants")
    for group in result.versions:
        marker = " (newest)" if group.version == result.newest else ""
        view.add_row(f"{group.version}{marker}", str(len(group.units)), ", ".join(group.tenants))
    out.print(view)
