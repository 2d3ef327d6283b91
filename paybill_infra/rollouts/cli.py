"""``paybill db migrate --waves …``, ``paybill db resume`` and ``paybill fleet up --waves …`` (typer + rich).

Each prints the waves as they run (one line per wave and per failed unit, on stderr) and the rollout at
the end (``--json``: the :class:`~paybill_infra.rollouts.models.RolloutView`). A rollout that did not
succeed exits 3 (the units and their errors are in the output and in the registry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paybill_infra.cli_output import emit, err, guard, out
from paybill_infra.controlplane.models import ProgressEvent, ProgressPhase
from paybill_infra.datamodel.cli import DestructiveOpt, FileArg, db_app
from paybill_infra.errors import FieldProblem, RolloutSpecError
from paybill_infra.rollouts.models import MAX_WORKERS, RolloutKind, RolloutRequest, RolloutStatus, RolloutView
from paybill_infra.rollouts.waves import parse_budget, parse_waves

FAILED_EXIT = 3

# ``paybill db``: the data model's ``plan`` and ``status``, plus ``migrate`` and ``resume`` from here.

RootOpt = Annotated[Path, typer.Option("--root", help="Project root (holds plans.yaml and .paybill/).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who asks (recorded in the audit log).")]
KeyOpt = Annotated[str | None, typer.Option("--idempotency-key", help="Replay-safe request key.")]
WavesOpt = Annotated[
    str, typer.Option("--waves", help="Waves: an optional 'canary', then cumulative percentages ending at 100%.")
]
BudgetOpt = Annotated[int, typer.Option("--error-budget", help="Unit failures tolerated; one more stops the rollout.")]
WorkersOpt = Annotated[int, typer.Option("--workers", help=f"Units applied at once within a wave (1..{MAX_WORKERS}).")]


def request_of(kind: RolloutKind, waves: str, budget: int, workers: int, **schema: object) -> RolloutRequest:
    """The request, with each bad argument named by its option (``--waves``, ``--error-budget``, ``--workers``)."""
    plan = parse_waves(waves, "--waves")
    parse_budget(budget, "--error-budget")
    if not 1 <= workers <= MAX_WORKERS:
        raise RolloutSpecError("--workers", [FieldProblem("workers", f"expected 1..{MAX_WORKERS}, got {workers}")])
    return RolloutRequest.model_validate(
        {"kind": kind, "waves": str(plan), "error_budget": budget, "workers": workers, **schema}
    )


class WaveLog:
    """Prints wave starts and unit failures of the rollout as they happen."""

    def __call__(self, event: ProgressEvent) -> None:
        if event.phase is ProgressPhase.STEP and event.stack is None:
            err.print(event.message, markup=False, highlight=False)
        elif event.phase is ProgressPhase.FAILED and event.stack is not None:
            err.print(f"  {event.stack} failed: {event.message}", markup=False, highlight=False)


def report(view: RolloutView, as_json: bool) -> None:
    if as_json:
        emit(view)
    else:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(view.counts.items()))
        out.print(f"rollout {view.id} ({view.kind.value}, {view.waves}): {view.status.value} [{counts}]", markup=False)
        if view.error:
            out.print(view.error, markup=False, highlight=False)
    if view.status is not RolloutStatus.SUCCEEDED:
        raise typer.Exit(FAILED_EXIT)


def roll(root: Path, request: RolloutRequest, actor: str, key: str | None, as_json: bool) -> None:
    """Plan and run ``request`` on the control plane at ``root``; report the rollout."""
    from paybill_infra.controlplane.cli import open_plane

    with open_plane(root, as_json=as_json) as plane:
        if not as_json:
            plane.events.add_sink(WaveLog())
        view = guard(lambda: plane.rollout(request, actor=actor, idempotency_key=key), as_json=as_json)
    report(view, as_json)


@db_app.command("migrate")
def migrate(
    file: FileArg = None,
    allow_destructive: DestructiveOpt = False,
    waves: WavesOpt = "canary,10%,50%,100%",
    error_budget: BudgetOpt = 0,
    workers: WorkersOpt = 1,
    root: RootOpt = Path("."),
    actor: ActorOpt = "cli",
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record the schema file as the next version and bring every pool database, bridge schema and silo
    database to it, in waves."""
    extra = {"schema_file": str(file.resolve()) if file else None, "allow_destructive": allow_destructive}
    request = guard(lambda: request_of(RolloutKind.SCHEMA, waves, error_budget, workers, **extra), as_json=as_json)
    roll(root, request, actor, key, as_json)


@db_app.command("resume")
def resume(
    rollout: Annotated[str | None, typer.Argument(help="The rollout id (default: the newest unfinished one).")] = None,
    root: RootOpt = Path("."),
    as_json: JsonOpt = False,
) -> None:
    """Run on a rollout that halted, or whose process died: failed units are retried, the rest continue."""
    from paybill_infra.controlplane.cli import open_plane

    with open_plane(root, as_json=as_json) as plane:
        if not as_json:
            plane.events.add_sink(WaveLog())
        view = guard(lambda: plane.resume_rollout(rollout, kind=RolloutKind.SCHEMA), as_json=as_json)
    report(view, as_json)
