"""Running a target's infrastructure programs: on the real engine, or under Pulumi's mocks.

:class:`EngineInfraRunner` is what production uses: the Automation API, the cloud's provider plugin and
credentials, the same stack manager (state backend, secrets provider, retries) as the database layer.

:class:`MockInfraRunner` runs the same programs under :class:`~paybill_infra.testing.CloudMocks` (in a worker process):
no credentials, no plugin, no cloud. It serves the offline review of a change (``--dry-run``), and the test
suite, where a real PostgreSQL stands in for every managed database server so the database layer runs on
the real engine against it. It keeps, per stack, the list of resources (type and name, never a value) so
successive runs report creates, deletes and unchanged resources as the engine would.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pulumi import automation as auto

from paybill_infra.schema.enums import Cloud
from paybill_infra.targets.base import Program, StackResource
from paybill_infra.targets.isolated import run_isolated
from paybill_infra.testing.mocks import DatabaseStandIn

if TYPE_CHECKING:
    from paybill_infra.controlplane.stacks import StackManager

StandIns = Callable[[Cloud, str, str], DatabaseStandIn]
"""(cloud, region, owner of the server: ``platform`` or a tenant's slug) -> the real server standing in."""


@dataclass
class InfraOutcome:
    """What one run did: counts per operation, the resources, and the stack's outputs (secrets included:
    the caller masks them before storing anything)."""

    changes: dict[str, int]
    resources: tuple[StackResource, ...] = ()
    outputs: dict[str, Any] = field(default_factory=dict)


class InfraRunner(Protocol):
    """Runs infrastructure stacks. ``cloud``/``region`` say whose program it is (the mock runner stands a
    server in per region)."""

    def up(self, stack: str, cloud: Cloud, region: str, program: Program) -> InfraOutcome: ...

    def preview(self, stack: str, cloud: Cloud, region: str, program: Program) -> InfraOutcome: ...

    def outputs(self, stack: str, cloud: Cloud, region: str, program: Program) -> dict[str, Any]: ...

    def destroy(self, stack: str, cloud: Cloud, region: str) -> InfraOutcome: ...

    def exists(self, stack: str) -> bool: ...

    def resources(self, stack: str) -> list[tuple[str, str]]: ...


def _no_program() -> None:
    """Reading outputs or destroying never runs a program."""


class EngineInfraRunner:
    """Infrastructure stacks on the real engine (needs the cloud's plugin and credentials)."""

    def __init__(self, stacks: StackManager) -> None:
        self.stacks = stacks

    def up(self, stack: str, cloud: Cloud, region: str, program: Program) -> InfraOutcome:
        outcome = self.stacks.run(stack, "up", program, reveal=True)
        return InfraOutcome(outcome.change.changes, (), outcome.outputs)

    def preview(self, stack: str, cloud: Cloud, region: str, program: Program) -> InfraOutcome:
        seen: list[StackResource] = []
        lock = threading.Lock()

        def record(event: auto.EngineEvent) -> None:
            pre = event.resource_pre_event
            if pre is None or pre.metadata is None:
                return
            meta = pre.metadata
            with lock:
                seen.append(StackResource(op=str(meta.op.value), type=meta.type, name=meta.urn.rsplit("::", 1)[-1]))

        existed = self.stacks.exists(stack)
        try:
            outcome = self.stacks.run(stack, "preview", program, on_event=record)
        finally:
            if not existed and self.stacks.exists(stack):
                self.stacks.select(stack, _no_program).workspace.remove_stack(stack)
        return InfraOutcome(outcome.change.changes, tuple(seen))

    def outputs(self, stack: str, cloud: Cloud, region: str, program: Program) -> dict[str, Any]:
        return self.stacks.outputs(stack, _no_program)

    def destroy(self, stack: str, cloud: Cloud, region: str) -> InfraOutcome:
        """Destroy the stack. Tenant data is ``protect``-ed *and* ``retain_on_delete``: lifting the protection
        here lets the stack go while the cloud keeps the retained database, key and bucket (the silo
        offboarding contract: the export is taken first, the data is never deleted by the engine)."""
        self.stacks.unprotect_all(stack)
        outcome = self.stacks.run(stack, "destroy", _no_program)
        return InfraOutcome(outcome.change.changes)

    def exists(self, stack: str) -> bool:
        return self.stacks.exists(stack)

    def resources(self, stack: str) -> list[tuple[str, str]]:
        return sorted(
            (str(r["type"]), str(r["urn"]).rsplit("::", 1)[-1])
            for r in self.stacks.resources(stack, _no_program)
            if r.get("custom")
        )


class MockInfraRunner:
    """Infrastructure stacks under Pulumi's mocks (run in a worker process: see
    :mod:`~paybill_infra.targets.isolated`); ``stand_ins`` gives the real server that answers for each managed
    database server, or ``None`` for a review that never reaches a database. It is serialised to the worker,
    so it must be picklable."""

    def __init__(self, state_dir: Path, stand_ins: StandIns | None = None) -> None:
        self.state_dir = state_dir
        self.stand_ins = stand_ins
        self._guard = threading.Lock()

    def _run(
        self, stack: str, cloud: Cloud, region: str, program: Program
    ) -> tuple[dict[str, Any], list[StackResource]]:
        database = functools.partial(self.stand_ins, cloud, region) if self.stand_ins is not None else None
        outputs, resources = run_isolated(program, database, stack)
        return outputs, [StackResource(op="same", type=t, name=n) for t, n in resources]

    def _state(self, stack: str) -> Path:
        return self.state_dir / f"{stack}.json"

    def _load(self, stack: str) -> set[tuple[str, str]]:
        path = self._state(stack)
        if not path.exists():
            return set()
        return {(r["type"], r["name"]) for r in json.loads(path.read_text())}

    def _diff(self, stack: str, now: list[StackResource]) -> tuple[dict[str, int], tuple[StackResource, ...]]:
        before = self._load(stack)
        current = {(r.type, r.name) for r in now}
        resources = [
            StackResource(op="same" if (r.type, r.name) in before else "create", type=r.type, name=r.name) for r in now
        ]
        resources += [StackResource(op="delete", type=t, name=n) for t, n in sorted(before - current)]
        counts: dict[str, int] = {}
        for r in resources:
            counts[r.op] = counts.get(r.op, 0) + 1
        return counts, tuple(resources)

    def up(self, stack: str, cloud: Cloud, region: str, program: Program) -> InfraOutcome:
        outputs, now = self._run(stack, cloud, region, program)
        with self._guard:
            counts, resources = self._diff(stack, now)
            self.state_dir.mkdir(parents=True, exist_ok=True)
            self._state(stack).write_text(json.dumps([{"type": r.type, "name": r.name} for r in now], indent=1))
        return InfraOutcome(counts, resources, outputs)

    def preview(self, stack: str, cloud: Cloud, region: str, program: Program) -> InfraOutcome:
        _outputs, now = self._run(stack, cloud, region, program)
        counts, resources = self._diff(stack, now)
        return InfraOutcome(counts, resources)

    def outputs(self, stack: str, cloud: Cloud, region: str, program: Program) -> dict[str, Any]:
        return self._run(stack, cloud, region, program)[0]

    def destroy(self, stack: str, cloud: Cloud, region: str) -> InfraOutcome:
        with self._guard:
            gone = sorted(self._load(stack))
            self._state(stack).unlink(missing_ok=True)
        return InfraOutcome(
            {"delete": len(gone)} if gone else {}, tuple(StackResource(op="delete", type=t, name=n) for t, n in gone)
        )

    def exists(self, stack: str) -> bool:
        return self._state(stack).exists()

    def resources(self, stack: str) -> list[tuple[str, str]]:
        """The (type, name) of every resource the stack holds now (for assertions and reviews)."""
        return sorted(self._load(stack))
