"""Waves: parsing ``canary,10%,50%,100%`` and assigning a fleet's units to waves, deterministically.

Spec grammar: comma-separated steps; an optional ``canary`` first, then cumulative percentages of the
fleet (integers 1..100, strictly increasing, the last one ``100%``). ``100%`` alone is one wave.

Assignment (:func:`assign`):

- units are ordered by the SHA-256 of their key, so every run over the same fleet gives the same waves,
  and the topologies mix within each percentage wave instead of running one topology after another;
- the canary wave takes one unit per group (topology, or stack kind): the first of each group in that
  order, so each kind of unit is proved once before any percentage wave;
- a percentage ``p`` means "``ceil(p * n / 100)`` units done after this wave" (``n`` counts the canary
  units too); a wave that the previous ones already cover is empty and dropped.

A pool is one unit however many tenants it holds: the waves count units, not tenants.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from paybill_infra.errors import FieldProblem, RolloutSpecError

CANARY = "canary"
MAX_BUDGET = 1_000_000
_PERCENT = re.compile(r"^(\d{1,3})%$")


@dataclass(frozen=True)
class UnitRef:
    """One thing a rollout changes: a pool database, a bridge schema, a silo database, or a stack.

    ``key`` is stable and unique within a rollout (it finds the unit again after a crash); ``group`` is
    what the canary wave samples one of (``pooled``/``bridge``/``silo``, or a stack kind)."""

    key: str
    group: str
    label: str


@dataclass(frozen=True)
class WavePlan:
    canary: bool
    percents: tuple[int, ...]

    def __str__(self) -> str:
        return ",".join([*([CANARY] if self.canary else []), *(f"{p}%" for p in self.percents)])


@dataclass(frozen=True)
class Wave:
    index: int
    label: str
    units: tuple[UnitRef, ...]


def parse_waves(spec: str, source: str = "waves") -> WavePlan:
    """The plan of ``spec``, or :class:`~paybill_infra.errors.RolloutSpecError` naming ``source`` and each
    bad step (``waves[2]: ...``)."""
    steps = [s.strip() for s in spec.split(",")]
    problems: list[FieldProblem] = []
    canary = False
    percents: list[int] = []
    for i, step in enumerate(steps):
        where = f"waves[{i}]"
        if step.lower() == CANARY:
            if i != 0:
                problems.append(FieldProblem(where, "'canary' may only be the first wave"))
            canary = True
            continue
        match = _PERCENT.match(step)
        if match is None:
            problems.append(FieldProblem(where, f"expected 'canary' or a percentage like '10%', got {step!r}"))
            continue
        value = int(match.group(1))
        if not 1 <= value <= 100:
            problems.append(FieldProblem(where, f"a percentage must be within 1%..100%, got {step!r}"))
        elif percents and value <= percents[-1]:
            problems.append(
                FieldProblem(where, f"percentages are cumulative and must grow: {step!r} after {percents[-1]}%")
            )
        percents.append(value)
    if not problems and (not percents or percents[-1] != 100):
        problems.append(FieldProblem(f"waves[{len(steps) - 1}]", "the last wave must be '100%' (every unit)"))
    if problems:
        raise RolloutSpecError(source, problems, entry=repr(spec))
    return WavePlan(canary=canary, percents=tuple(percents))


def parse_budget(value: int, source: str = "error_budget") -> int:
    """The error budget: how many units may fail before the rollout stops (0: stop at the first)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BUDGET:
        raise RolloutSpecError(source, [FieldProblem("error_budget", f"expected an integer 0..{MAX_BUDGET}")])
    return value


def _order(unit: UnitRef) -> str:
    return hashlib.sha256(unit.key.encode()).hexdigest()


def assign(units: Sequence[UnitRef], plan: WavePlan) -> list[Wave]:
    """The non-empty waves of ``units`` under ``plan`` (see the module docstring); each unit in exactly one."""
    ordered = sorted(units, key=_order)
    n = len(ordered)
    labels: list[tuple[str, list[UnitRef]]] = []
    if plan.canary:
        picked: dict[str, UnitRef] = {}
        for unit in ordered:
            picked.setdefault(unit.group, unit)
        canary = [picked[g] for g in sorted(picked)]
        labels.append((CANARY, canary))
        chosen = {u.key for u in canary}
        ordered = [u for u in ordered if u.key not in chosen]
    done = sum(len(units) for _, units in labels)
    for percent in plan.percents:
        upto = math.ceil(percent * n / 100)
        take = max(0, upto - done)
        labels.append((f"{percent}%", ordered[:take]))
        ordered, done = ordered[take:], done + take
    return [Wave(i, label, tuple(batch)) for i, (label, batch) in enumerate(lb for lb in labels if lb[1])]
