"""Structured changes, as ``pulumi preview --diff`` shows them: each resource the engine would change (or
changed, or found drifted on refresh), the operation, and the property paths that differ.

:class:`ChangeLog` is an ``on_event`` sink for Automation API runs. Property paths come from the step's
own diff when the provider reports one (``detailed_diff``, ``diffs``), else from comparing the old and
new inputs (a preview or update) or outputs (a refresh), so they are named for every provider, dynamic
ones included. Secret values never enter: only paths are kept.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from pulumi import automation as auto
from pydantic import BaseModel, ConfigDict

_SKIPPED_TYPES = ("pulumi:pulumi:Stack", "pulumi:providers:")
_QUIET_OPS = frozenset({auto.OpType.SAME, auto.OpType.READ, auto.OpType.REFRESH})


class ResourceChange(BaseModel):
    """One changed resource: its URN, type and name, the operation and the changed property paths."""

    model_config = ConfigDict(frozen=True)

    urn: str
    type: str
    name: str
    op: str
    properties: tuple[str, ...] = ()

    def describe(self) -> str:
        """``update acme-role (pulumi-python:dynamic/postgres:LoginRole): bypassrls, drift``"""
        changed = f": {', '.join(self.properties)}" if self.properties else ""
        return f"{self.op} {self.name} ({self.type}){changed}"


def property_paths(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths (``[i]`` for list items) where ``old`` and ``new`` differ; internal keys are skipped."""
    paths: list[str] = []
    for key in sorted(set(old) | set(new)):
        if key.startswith("__"):
            continue
        path = f"{prefix}.{key}" if prefix else key
        before, after = old.get(key), new.get(key)
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            paths += property_paths(before, after, path)
        elif before != after:
            paths.append(path)
    return paths


def _paths(meta: auto.StepEventMetadata) -> list[str]:
    if meta.detailed_diff:
        return sorted(meta.detailed_diff)
    if meta.diffs:
        return sorted(meta.diffs)
    if meta.old is None or meta.new is None:
        return []
    by_inputs = property_paths(meta.old.inputs or {}, meta.new.inputs or {})
    return by_inputs or property_paths(meta.old.outputs or {}, meta.new.outputs or {})


class ChangeLog:
    """Records, per resource, what an engine run changes (``same``, ``read`` and plain refresh steps are
    not changes; a refresh that finds drift reports the resource as ``update``)."""

    def __init__(self) -> None:
        self._changes: dict[str, ResourceChange] = {}
        self._guard = threading.Lock()

    def __call__(self, event: auto.EngineEvent) -> None:
        for step in (event.resource_pre_event, event.res_outputs_event):
            if step is None:
                continue
            meta = step.metadata
            if meta.op in _QUIET_OPS or meta.type.startswith(_SKIPPED_TYPES):
                continue
            with self._guard:
                known = self._changes.get(meta.urn)
                paths = sorted({*(known.properties if known else ()), *_paths(meta)})
                self._changes[meta.urn] = ResourceChange(
                    urn=meta.urn,
                    type=meta.type,
                    name=meta.urn.rsplit("::", 1)[-1],
                    op=meta.op.value,
                    properties=tuple(paths),
                )

    @property
    def changes(self) -> tuple[ResourceChange, ...]:
        with self._guard:
            return tuple(sorted(self._changes.values(), key=lambda c: c.urn))
