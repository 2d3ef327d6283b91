"""The ``paybill`` command line (typer + rich). Exit codes: :mod:`paybill_infra.cli_output`."""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

import typer

from paybill_infra.catalog import SAMPLE_CATALOG, catalog_json_schema, load_catalog
from paybill_infra.cli_groups import LazyGroups
from paybill_infra.cli_output import DRIFT_EXIT, confirm, emit, err, guard, out, refuse, table

app = typer.Typer(
    cls=LazyGroups,
    help="Paybill Infra: tenants, plans and isolation on Pulumi.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
plans_app = typer.Typer(help="The plan catalog.", no_args_is_help=True, rich_markup_mode=None)
local_app = typer.Typer(
    help="The embedded PostgreSQL of the local target.", no_args_is_help=True, rich_markup_mode=None
)
fleet_app = typer.Typer(
    help="The tenant fleet of a stack, on the real Pulumi engine.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(plans_app, name="plans")
app.add_typer(local_app, name="local")
app.add_typer(fleet_app, name="fleet")


CatalogOpt = Annotated[Path, typer.Option("--catalog", "-c", help="Plan catalog file.")]
RootOpt = Annotated[Path, typer.Option("--root", help="Project root (holds Pulumi.yaml and .paybill/).")]
StackOpt = Annotated[str, typer.Option("--stack", "-s", help="Stack name (stacks/Pulumi.<stack>.yaml).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output (errors too, on stdout).")]
CreateOpt = Annotated[bool, typer.Option("--create", help="Create the stack if it does not exist yet.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (required without a TTY).")]


def _version(value: bool) -> None:
    if value:
        out.print(f"paybill {version('paybill-infra')}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    _version_flag: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Paybill Infra: tenants, plans and isolation on Pulumi."""


RegistryOpt = Annotated[
    bool,
    typer.Option(
        "--control-plane", help="Act on the control plane's stacks (the tenant registry), not the root stack."
    ),
]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, max=64, help="Parallel engine runs (--control-plane).")]


@plans_app.command("list")
def plans_list(catalog: CatalogOpt = Path("plans.yaml"), as_json: JsonOpt = False) -> None:
    """List the plans of the catalog, lowest tier first."""
    plans = guard(lambda: load_catalog(catalog), as_json=as_json)
    if as_json:
        emit([p.model_dump(mode="json") for p in plans])
        return
    rows = table("plan", "tier", "isolation", "price", "seats", "storage", "db size", "features")
    for p in plans:
        rows.add_row(
            p.name,
            str(p.tier),
            p.isolation.value,
            f"{p.price.amount} {p.price.currency}/{p.price.interval.value}",
            str(p.limits.seats or "unlimited"),
            f"{p.limits.storage_gb} GB",
            p.limits.database_size.value,
            ", ".join(p.features),
        )
    out.print(rows)


@plans_app.command("validate")
def plans_validate(catalog: CatalogOpt = Path("plans.yaml"), as_json: JsonOpt = False) -> None:
    """Validate the catalog; exit 2 with the file, entry and field of every problem."""
    plans = guard(lambda: load_catalog(catalog), as_json=as_json)
    if as_json:
        emit({"catalog": str(catalog), "valid": True, "plans": list(plans.names)})
        return
    out.print(f"{catalog}: {len(plans)} plans OK", markup=False, highlight=False)


@plans_app.command("init")
def plans_init(
    catalog: Annotated[Path, typer.Argument(help="Where to write the catalog.")] = Path("plans.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write the sample catalog shipped with paybill-infra (starter, growth, enterprise) to start from."""
    if catalog.exists() and not force:
        refuse(f"{catalog} exists; pass --force to overwrite it", "catalog")
    shutil.copyfile(SAMPLE_CATALOG, catalog)
    out.print(f"wrote {catalog} ({len(load_catalog(catalog))} plans); edit it, then `paybill plans validate`")


@plans_app.command("schema")
def plans_schema() -> None:
    """Print the JSON Schema of the catalog file."""
    emit(catalog_json_schema())


def _server(root: Path) -> Any:
    from paybill_infra.local.server import EmbeddedServer

    return EmbeddedServer(root / ".paybill" / "postgres")


@local_app.command("start")
def local_start(root: RootOpt = Path(".")) -> None:
    """Start the embedded PostgreSQL (initialising it on first use). Idempotent."""
    conn = guard(lambda: _server(root).ensure_running())
    out.print(f"PostgreSQL running: socket {conn.host} port {conn.port}")


@local_app.command("stop")
def local_stop(root: RootOpt = Path(".")) -> None:
    """Stop the embedded PostgreSQL. Its data stays under .paybill/postgres."""
    was = guard(lambda: _server(root).stop())
    out.print("stopped" if was else "not running")


@local_app.command("status")
def local_status(root: RootOpt = Path("."), as_json: JsonOpt = False) -> None:
    """Whether the embedded PostgreSQL runs. Exit 0 when running, 1 when not."""
    server = _server(root)
    running = server.is_running()
    if as_json:
        emit({"running": running, "data_dir": str(server.data_dir)})
    else:
        out.print(f"{'running' if running else 'stopped'} ({server.data_dir})")
    raise typer.Exit(0 if running else 1)


@local_app.command("env")
def local_env(root: RootOpt = Path(".")) -> None:
    """Print sourceable exports so plain `pulumi` commands work against the local backend."""
    from paybill_infra.engine.settings import DEV_PASSPHRASE, EngineSettings

    settings = guard(lambda: EngineSettings.for_project(root))
    env = settings.env({"PATH": "$PATH", "PULUMI_CONFIG_PASSPHRASE": "-"})
    lines = ["# Generated by `paybill local env`: source it to run plain `pulumi` commands here."]
    for key in (
        "PULUMI_BACKEND_URL",
        "PULUMI_HOME",
        "PULUMI_SKIP_UPDATE_CHECK",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
        "PULUMI_PYTHON_CMD",
    ):
        lines.append(f"export {key}={shlex.quote(env[key])}")
    lines.append(
        f'export PATH={shlex.quote(str(settings.bin_dir()))}:{shlex.quote(str(Path(sys.executable).parent))}:"$PATH"'
    )
    lines.append(f'export PULUMI_CONFIG_PASSPHRASE="${{PULUMI_CONFIG_PASSPHRASE:-{DEV_PASSPHRASE}}}"')
    sys.stdout.write("\n".join(lines) + "\n")


def _fleet(root: Path, stack: str, create: bool) -> Any:
    from paybill_infra.engine.fleet_stack import fleet_stack

    return fleet_stack(root.resolve(), stack, create=create)


def _report(summary: Any, as_json: bool) -> None:
    """Counts, then every changed resource with its operation and changed property paths."""
    if as_json:
        emit(
            {
                "operation": summary.operation,
                "stack": summary.stack,
                "changes": summary.changes,
                "resources": [r.model_dump(mode="json") for r in summary.resources],
                "outputs": summary.outputs,
            }
        )
        return
    for resource in summary.resources:
        out.print(f"  {resource.describe()}", markup=False, highlight=False)
    changes = ", ".join(f"{k} {v}" for k, v in sorted(summary.changes.items())) or "nothing"
    out.print(f"{summary.operation} on '{summary.stack}': {changes}", markup=False, highlight=False)


def _stream(as_json: bool) -> Callable[[str], None] | None:
    return None if as_json else (lambda line: err.print(line.rstrip(), markup=False, highlight=False))


@fleet_app.command("up")
def fleet_up(
    root: RootOpt = Path("."),
    stack: StackOpt = "local",
    create: CreateOpt = False,
    as_json: JsonOpt = False,
    control_plane: RegistryOpt = False,
    workers: WorkersOpt = 4,
    waves: Annotated[
        str | None,
        typer.Option(
            "--waves",
            help="Update the control plane's stacks in waves, e.g. 'canary,10%,50%,100%' (implies --control-plane).",
        ),
    ] = None,
    error_budget: Annotated[
        int, typer.Option("--error-budget", help="With --waves: stack failures tolerated; one more stops.")
    ] = 0,
) -> None:
    """Provision the stack's tenants (validates the whole fleet first); with --control-plane, converge
    every stack of the tenant registry; with --waves, do that canary first, then percentages of the fleet,
    stopping beyond the error budget (--workers stacks at once within a wave)."""
    if waves is not None:
        from paybill_infra.rollouts.cli import request_of, roll
        from paybill_infra.rollouts.models import RolloutKind

        request = guard(lambda: request_of(RolloutKind.INFRA, waves, error_budget, workers), as_json=as_json)
        roll(root, request, "cli", None, as_json)
        return
    if control_plane:
        from paybill_infra.controlplane.cli import registry_up

        registry_up(root, workers, as_json)
        return
    _report(guard(lambda: _fleet(root, stack, create).up(on_output=_stream(as_json)), as_json=as_json), as_json)


@fleet_app.command("preview")
def fleet_preview(
    root: RootOpt = Path("."),
    stack: StackOpt = "local",
    create: CreateOpt = False,
    as_json: JsonOpt = False,
    control_plane: RegistryOpt = False,
) -> None:
    """Show what `up` would change: each resource, the operation and the changed properties."""
    if control_plane:
        from paybill_infra.controlplane.cli import registry_preview

        registry_preview(root, as_json)
        return
    summary = guard(lambda: _fleet(root, stack, create).preview(on_output=_stream(as_json)), as_json=as_json)
    _report(summary, as_json)


@fleet_app.command("drift")
def fleet_drift(
    root: RootOpt = Path("."), stack: StackOpt = "local", as_json: JsonOpt = False, control_plane: RegistryOpt = False
) -> None:
    """Refresh the stack from the real databases; name each drifted resource and property; exit 6 when
    anything drifted."""
    if control_plane:
        from paybill_infra.controlplane.cli import registry_drift

        registry_drift(root, as_json)
        return
    summary = guard(lambda: _fleet(root, stack, False).refresh(on_output=_stream(as_json)), as_json=as_json)
    _report(summary, as_json)
    raise typer.Exit(DRIFT_EXIT if summary.changed else 0)


@fleet_app.command("destroy")
def fleet_destroy(
    root: RootOpt = Path("."), stack: StackOpt = "local", yes: YesOpt = False, as_json: JsonOpt = False
) -> None:
    """Remove every tenant, its data and the platform of the stack. Asks for confirmation on a terminal;
    elsewhere it needs --yes."""
    fleet = guard(lambda: _fleet(root, stack, False), as_json=as_json)
    guard(lambda: fleet.stack, as_json=as_json)
    confirm(f"destroy stack '{stack}' with every tenant's database and data", yes=yes, as_json=as_json)
    _report(guard(lambda: fleet.destroy(on_output=_stream(as_json)), as_json=as_json), as_json)


@fleet_app.command("status")
def fleet_status(root: RootOpt = Path("."), as_json: JsonOpt = False) -> None:
    """The control plane's fleet: tenants per state, pools and their occupancy, stacks, running operations."""
    from paybill_infra.controlplane.cli import registry_status

    registry_status(root, as_json)
