"""``paybill tenants …`` and the control-plane half of ``paybill fleet …`` (typer + rich).

Mounted by :mod:`paybill_infra.cli`. Every read command takes ``--json``; mutating commands show a rich
progress bar per tenant fed by the control plane's progress events. Exit codes: :mod:`paybill_infra.cli_output`.

``list`` and ``show`` read through :class:`~paybill_infra.controlplane.reader.RegistryReader`: a read imports
no engine and no alembic, migrates nothing and recovers nothing (the control plane is imported by the
commands that change something).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from paybill_infra.cli_output import DRIFT_EXIT, confirm, emit, emit_sorted, err, guard, out, table
from paybill_infra.controlplane.models import ProgressEvent, ProgressPhase, RetentionPolicy, TenantState
from paybill_infra.controlplane.reader import RegistryReader
from paybill_infra.controlplane.settings import ControlPlaneSettings

if TYPE_CHECKING:
    from paybill_infra.controlplane.api import ControlPlane

tenants_app = typer.Typer(
    help="Tenant lifecycle through the control plane (real engine).", no_args_is_help=True, rich_markup_mode=None
)

RootOpt = Annotated[Path, typer.Option("--root", help="Project root (holds plans.yaml and .paybill/).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who asks (recorded in the audit log).")]
KeyOpt = Annotated[str | None, typer.Option("--idempotency-key", help="Replay-safe request key.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (required without a TTY).")]


def open_plane(
    root: Path, *, workers: int = 4, progress: Progress | None = None, as_json: bool = False
) -> ControlPlane:
    from paybill_infra.controlplane.api import ControlPlane

    plane = guard(lambda: ControlPlane(ControlPlaneSettings.for_root(root.resolve(), workers=workers)), as_json=as_json)
    if progress is not None:
        plane.events.add_sink(ProgressSink(progress))
    return plane


def open_reader(root: Path, *, as_json: bool = False) -> RegistryReader:
    """A reader of the project's registry; a project without one yet gets it created first (by opening
    the control plane once, as any other command would)."""
    reader = guard(lambda: RegistryReader(ControlPlaneSettings.for_root(root.resolve())), as_json=as_json)
    if not reader.ready():
        open_plane(root, as_json=as_json).close()
    return reader


class ProgressSink:
    """One rich progress bar per tenant: a step per engine resource event, finished on the milestone."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if event.tenant is None:
            return
        task = self.tasks.get(event.tenant)
        if task is None:
            task = self.tasks[event.tenant] = self.progress.add_task(event.tenant, total=None)
        if event.phase in (ProgressPhase.STEP, ProgressPhase.RESOURCE):
            self.progress.update(task, advance=0.5, description=f"{event.tenant}: {event.message}")
        elif event.phase is ProgressPhase.FINISHED:
            self.progress.update(task, total=1, completed=1, description=f"{event.tenant}: {event.message} done")
        elif event.phase is ProgressPhase.FAILED and event.resource_type is None:
            self.progress.update(task, total=1, completed=1, description=f"{event.tenant}: failed")


def progress_bars(enabled: bool) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not enabled,
    )


def _run(root: Path, as_json: bool, call: Callable[[ControlPlane], Any], *, workers: int = 4) -> Any:
    with (
        progress_bars(not as_json) as progress,
        open_plane(root, workers=workers, progress=progress, as_json=as_json) as plane,
    ):
        return guard(lambda: call(plane), as_json=as_json)


def _report(result: Any, as_json: bool) -> None:
    if as_json:
        emit(result)
        return
    out.print(
        f"{result.kind.value} {result.tenant}: [bold]{result.status.value}[/] "
        f"(operation {result.id}{', deduplicated' if result.deduplicated else ''})"
    )


@tenants_app.command("onboard")
def onboard(
    slug: str,
    plan: Annotated[str, typer.Option("--plan", "-p")],
    name: Annotated[str | None, typer.Option("--name", help="Display name (default: the slug).")] = None,
    subscription: Annotated[str, typer.Option("--subscription")] = "trialing",
    cloud: Annotated[str | None, typer.Option("--cloud", help="Target cloud (default: the settings').")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Region (default: the target's).")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Review offline (mocks, no credentials): stacks and resources.")
    ] = False,
    root: RootOpt = Path("."),
    actor: ActorOpt = "cli",
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Onboard a tenant: subscription, placement (pool or own stack) and infrastructure on its target."""
    request: dict[str, Any] = {"slug": slug, "display_name": name or slug, "plan": plan, "subscription": subscription}
    request.update({k: v for k, v in (("cloud", cloud), ("region", region)) if v is not None})
    if dry_run:
        with open_plane(root, as_json=as_json) as plane:
            review = guard(lambda: plane.preview_onboard(request, offline=True), as_json=as_json)
        _review(review, as_json)
        return
    result = _run(root, as_json, lambda p: p.onboard(request, actor=actor, idempotency_key=key))
    _report(result, as_json)


def _review(result: Any, as_json: bool) -> None:
    if as_json:
        emit(result.model_dump(mode="json") | {"monthly_price_delta": str(result.monthly_price_delta)})
        return
    for stack in result.stacks:
        out.print(f"[bold]{escape(stack.stack)}[/]: {escape(str(stack.changes))}")
        for resource in stack.resources:
            changed = f": {', '.join(resource.properties)}" if resource.properties else ""
            out.print(f"  {resource.op:<7} {resource.type} {resource.name}{changed}", markup=False, highlight=False)
    out.print(f"migration: {result.migration}; monthly price delta: {result.monthly_price_delta} {result.currency}")


@tenants_app.command("move")
def move(
    slug: str,
    cloud: Annotated[str, typer.Option("--cloud", help="The target cloud.")],
    region: Annotated[str | None, typer.Option("--region", help="Region (default: the target's).")] = None,
    root: RootOpt = Path("."),
    actor: ActorOpt = "cli",
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move a tenant to another region or cloud (data residency): a verified migration with rollback."""
    _report(
        _run(root, as_json, lambda p: p.move(slug, cloud=cloud, region=region, actor=actor, idempotency_key=key)),
        as_json,
    )


@tenants_app.command("list")
def list_tenants(
    root: RootOpt = Path("."),
    state: Annotated[TenantState | None, typer.Option("--state")] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="Only tenants on this plan.")] = None,
    cloud: Annotated[str | None, typer.Option("--cloud", help="Only tenants on this cloud.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="A page of at most this many tenants.")] = None,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Continue after this page cursor.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List tenants with their plan, isolation, state and stack (in pages with ``--limit``/``--cursor``: the
    JSON is then ``{"tenants": [...], "next_cursor": ...}``)."""
    with open_reader(root, as_json=as_json) as reader:
        if as_json:
            found = guard(
                lambda: reader.tenant_documents(state=state, plan=plan, cloud=cloud, cursor=cursor, limit=limit),
                as_json=True,
            )
            paged = limit is not None or cursor is not None
            emit_sorted({"next_cursor": found.next_cursor, "tenants": found.tenants} if paged else found.tenants)
            return
        page = guard(lambda: reader.tenant_page(state=state, plan=plan, cloud=cloud, cursor=cursor, limit=limit))
    tenants = page.tenants
    if page.next_cursor is not None:
        err.print(f"more tenants follow: --cursor {page.next_cursor}")
    rows = table("tenant", "plan", "isolation", "cloud", "region", "state", "stack", "subscription")
    for t in tenants:
        rows.add_row(
            t.slug,
            t.plan,
            t.isolation.value,
            t.cloud.value,
            t.region,
            t.state.value,
            t.stack or "-",
            t.subscription.status if t.subscription else "-",
        )
    out.print(rows)


@tenants_app.command("show")
def show(slug: str, root: RootOpt = Path("."), as_json: JsonOpt = False) -> None:
    """One tenant, its subscription and its recent operations."""
    with open_reader(root, as_json=as_json) as reader:
        view = guard(lambda: reader.show(slug), as_json=as_json)
        ops = guard(lambda: reader.operations(slug, limit=10), as_json=as_json)
    if as_json:
        emit({"tenant": view.model_dump(mode="json"), "operations": [o.model_dump(mode="json") for o in ops]})
        return
    for key, value in view.model_dump(mode="json").items():
        out.print(f"[bold]{key}[/]: {escape(str(value))}")
    for op in ops:
        line = f"  {op.created_at:%Y-%m-%d %H:%M:%S} {op.kind.value:<12} {op.status.value:<11} {op.error or ''}"
        out.print(line, markup=False, highlight=False)


@tenants_app.command("change-plan")
def change_plan(
    slug: str,
    plan: Annotated[str, typer.Option("--plan", "-p")],
    preview: Annotated[bool, typer.Option("--preview", help="Dry run: diff and price delta only.")] = False,
    root: RootOpt = Path("."),
    actor: ActorOpt = "cli",
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move a tenant to another plan (a topology migration when the isolation changes)."""
    if preview:
        _review(_run(root, as_json, lambda p: p.preview(slug, plan)), as_json)
        return
    _report(_run(root, as_json, lambda p: p.change_plan(slug, plan, actor=actor, idempotency_key=key)), as_json)


@tenants_app.command("suspend")
def suspend(
    slug: str, root: RootOpt = Path("."), actor: ActorOpt = "cli", key: KeyOpt = None, as_json: JsonOpt = False
) -> None:
    """Suspend a tenant: data kept, its role can no longer log in."""
    _report(_run(root, as_json, lambda p: p.suspend(slug, actor=actor, idempotency_key=key)), as_json)


@tenants_app.command("resume")
def resume(
    slug: str, root: RootOpt = Path("."), actor: ActorOpt = "cli", key: KeyOpt = None, as_json: JsonOpt = False
) -> None:
    """Resume a suspended tenant."""
    _report(_run(root, as_json, lambda p: p.resume(slug, actor=actor, idempotency_key=key)), as_json)


@tenants_app.command("offboard")
def offboard(
    slug: str,
    retention: Annotated[RetentionPolicy, typer.Option("--retention")] = RetentionPolicy.EXPORT,
    root: RootOpt = Path("."),
    actor: ActorOpt = "cli",
    key: KeyOpt = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Offboard a tenant (retention export first, then every resource removed). Asks for confirmation on a
    terminal; elsewhere it needs --yes."""
    confirm(f"offboard tenant '{slug}' and remove its resources", yes=yes, as_json=as_json)
    result = _run(root, as_json, lambda p: p.offboard(slug, retention=retention, actor=actor, idempotency_key=key))
    _report(result, as_json)


def registry_up(root: Path, workers: int, as_json: bool) -> None:
    """``paybill fleet up --control-plane``: converge every registry stack."""
    changes = _run(root, as_json, lambda p: p.converge(), workers=workers)
    if as_json:
        emit(changes)
        return
    for change in changes:
        out.print(f"{change.stack}: {change.changes or 'nothing'}")


def registry_preview(root: Path, as_json: bool) -> None:
    """``paybill fleet preview --control-plane``: what converging every registry stack would change."""
    changes = _run(root, as_json, lambda p: p.preview_fleet())
    if as_json:
        emit(changes)
        return
    for change in changes:
        out.print(f"{change.stack}: {change.changes or 'nothing'}")


def registry_drift(root: Path, as_json: bool) -> None:
    """``paybill fleet drift --control-plane``: refresh every stack; exit 6 when anything drifted."""
    report = _run(root, as_json, lambda p: p.drift())
    if as_json:
        emit(report)
    else:
        for item in report.drifted:
            where = escape(f"{item.stack} {item.urn.rsplit('::', 1)[-1]}: {', '.join(item.fields)}")
            out.print(f"[yellow]drift[/] {where}")
        out.print("no drift" if report.clean else f"{len(report.drifted)} drifted resources")
    raise typer.Exit(0 if report.clean else DRIFT_EXIT)


def registry_status(root: Path, as_json: bool) -> None:
    """``paybill fleet status``: tenants per state, stacks, pools and running operations."""
    with open_plane(root, as_json=as_json) as plane:
        status = guard(plane.status, as_json=as_json)
    if as_json:
        emit(status)
        return
    out.print(f"tenants: {status.tenants}")
    rows = table("pool", "plan", "cloud", "region", "database", "members", "capacity", "shards")
    for pool in status.pools:
        rows.add_row(
            pool.stack,
            pool.plan,
            pool.cloud.value,
            pool.region,
            pool.database,
            str(pool.members),
            str(pool.capacity),
            str(len(pool.shards)),
        )
    out.print(rows)
    out.print(f"stacks: {', '.join(status.stacks) or '-'}; running operations: {len(status.running)}")
