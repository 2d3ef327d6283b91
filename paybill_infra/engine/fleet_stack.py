"""Running the tenant-fleet program on a stack through the Automation API (inline, on the real CLI).

This is what ``paybill fleet …`` and the tests use. The inline program is :func:`fleet_program`, the same
one ``Pulumi.yaml`` runs, against the same project, stack config (``stacks/``) and state backend, so a
``pulumi up`` in a shell and an SDK call see the same stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from paybill_infra import lifeline
from paybill_infra.engine.diffs import ChangeLog, ResourceChange
from paybill_infra.engine.errors import map_engine_error
from paybill_infra.engine.settings import EngineSettings
from paybill_infra.errors import FieldProblem, FleetConfigError
from paybill_infra.program import fleet_program, fleet_topologies
from paybill_infra.topology.model import Topology

PROJECT = "paybill-fleet"
CONFIG_NAMESPACE = "paybill"


@dataclass(frozen=True)
class RunSummary:
    """The outcome of one engine operation: resource change counts, each changed resource with its
    changed property paths, and (secret-masked) outputs."""

    operation: str
    stack: str
    changes: dict[str, int]
    outputs: dict[str, Any] = field(default_factory=dict)
    resources: tuple[ResourceChange, ...] = ()

    @property
    def changed(self) -> int:
        return sum(n for op, n in self.changes.items() if op != "same")


class FleetStack:
    """One stack of the root project, driven in-process. With ``create=False`` a stack that does not
    exist yet is refused (:class:`~paybill_infra.errors.FleetConfigError`) instead of created."""

    def __init__(self, settings: EngineSettings, stack: str = "local", *, create: bool = True) -> None:
        self.settings = settings
        self.name = stack
        self.create = create
        self._stack: auto.Stack | None = None

    @property
    def stack(self) -> auto.Stack:
        if self._stack is None:
            root = self.settings.root
            if not self.create and not self.exists():
                raise FleetConfigError(
                    f"--stack {self.name}",
                    [FieldProblem("stack", f"no stack '{self.name}' in {self.settings.backend_url}; pass --create")],
                )
            try:
                self._stack = auto.create_or_select_stack(
                    stack_name=self.name,
                    project_name=PROJECT,
                    program=lambda: fleet_program(root),
                    opts=auto.LocalWorkspaceOptions(
                        work_dir=str(root),
                        pulumi_command=auto.PulumiCommand(root=str(self.settings.bin_dir().parent)),
                        env_vars=lifeline.marked(self.settings.env()),
                    ),
                )
            except auto.CommandError as err:
                raise map_engine_error(err, stack=self.name, operation="select") from None
        return self._stack

    def exists(self) -> bool:
        """Whether the stack exists in the state backend (nothing is created or selected)."""
        workspace = auto.LocalWorkspace(
            work_dir=str(self.settings.root),
            pulumi_command=auto.PulumiCommand(root=str(self.settings.bin_dir().parent)),
            env_vars=lifeline.marked(self.settings.env()),
        )
        try:
            return any(s.name == self.name for s in workspace.list_stacks())
        except auto.CommandError as err:
            raise map_engine_error(err, stack=self.name, operation="list") from None

    def topologies(self) -> tuple[Topology, ...]:
        """Validate the stack's config as the program will, without running the engine."""
        values: dict[str, Any] = {}
        for key, item in self.stack.get_all_config().items():
            namespace, _, name = key.partition(":")
            if namespace == CONFIG_NAMESPACE and not item.secret:
                values[name] = _decode(item.value)
        return fleet_topologies(values, self.settings.root, self.name)

    def up(self, on_output: Callable[[str], None] | None = None) -> RunSummary:
        self.topologies()
        return self._run("up", lambda log: self.stack.up(on_output=on_output, on_event=log, color="never"))

    def preview(self, on_output: Callable[[str], None] | None = None) -> RunSummary:
        self.topologies()
        return self._run("preview", lambda log: self.stack.preview(on_output=on_output, on_event=log, color="never"))

    def refresh(self, on_output: Callable[[str], None] | None = None) -> RunSummary:
        return self._run("refresh", lambda log: self.stack.refresh(on_output=on_output, on_event=log, color="never"))

    def destroy(self, on_output: Callable[[str], None] | None = None) -> RunSummary:
        return self._run("destroy", lambda log: self.stack.destroy(on_output=on_output, on_event=log, color="never"))

    def _run(self, operation: str, call: Callable[[ChangeLog], Any]) -> RunSummary:
        log = ChangeLog()
        try:
            result = call(log)
        except auto.CommandError as err:
            raise map_engine_error(err, stack=self.name, operation=operation) from None
        if isinstance(result, auto.PreviewResult):
            changes = {str(k): int(v) for k, v in result.change_summary.items()}
            return RunSummary(operation, self.name, changes, resources=log.changes)
        summary = result.summary
        changes = {str(k): int(v) for k, v in (summary.resource_changes or {}).items()}
        outputs = _masked(getattr(result, "outputs", {}) or {})
        return RunSummary(operation, self.name, changes, outputs, log.changes)


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _masked(outputs: Mapping[str, auto.OutputValue]) -> dict[str, Any]:
    return {k: ("[secret]" if v.secret else v.value) for k, v in outputs.items()}


def fleet_stack(root: Path, stack: str = "local", *, backend_url: str | None = None, create: bool = True) -> FleetStack:
    return FleetStack(EngineSettings.for_project(root, backend_url=backend_url), stack, create=create)
