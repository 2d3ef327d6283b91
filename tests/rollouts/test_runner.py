"""The rollout core on a real registry (SQLite) with a unit source of its own: the error budget, the bound
on units in flight, the order of waves, resuming a halted rollout, and idempotency keys.

The source is the injected part of the core (:class:`~paybill_infra.rollouts.units.UnitSource`); the real
sources (stacks on the engine, schema units on PostgreSQL) have their own tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings
from paybill_infra.errors import ControlPlaneError, IdempotencyConflictError
from paybill_infra.rollouts.journal import RolloutJournal
from paybill_infra.rollouts.models import Applied, RolloutKind, RolloutRequest, RolloutStatus, UnitStatus
from paybill_infra.rollouts.runner import RolloutRunner
from paybill_infra.rollouts.waves import UnitRef
from tests.controlplane.conftest import CATALOG


class Fleet:
    """Units that remember how often they changed, fail on demand, and count how many run at once."""

    def __init__(self, n: int) -> None:
        self.refs = [UnitRef(key=f"u{i:03d}", group=("pool", "bridge", "silo")[i % 3], label=f"u{i}") for i in range(n)]
        self.version = {r.key: 1 for r in self.refs}
        self.failing: set[str] = set()
        self.in_flight = self.most = 0
        self.order: list[str] = []
        self.lock = threading.Lock()

    def units(self) -> list[UnitRef]:
        return self.refs

    def apply(self, key: str) -> Applied:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.order.append(key)
        try:
            if key in self.failing:
                raise ControlPlaneError(f"{key} refuses")
            changed = self.version[key] == 1
            self.version[key] = 2
            return Applied(changed=changed)
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[ControlPlane]:
    (tmp_path / "plans.yaml").write_text(yaml.safe_dump(CATALOG))
    with ControlPlane(ControlPlaneSettings(root=tmp_path), recover=False) as control_plane:
        yield control_plane


def runner(plane: ControlPlane, fleet: Fleet) -> RolloutRunner:
    return RolloutRunner(
        plane.runtime, RolloutJournal(plane.registry), {RolloutKind.SCHEMA: lambda _request, _id: fleet}, plane._audit
    )


def test_failures_beyond_the_budget_halt_before_the_next_unit(plane: ControlPlane) -> None:
    fleet = Fleet(30)
    rollouts = runner(plane, fleet)
    planned = rollouts.plan(RolloutRequest(kind=RolloutKind.SCHEMA, waves="canary,10%,50%,100%", workers=3), "t", None)
    wave_of = {u.key: u.wave for u in planned.units}
    second = sorted(k for k, w in wave_of.items() if w == 1)
    fleet.failing = {second[0]}
    halted = rollouts.run(planned.id)
    assert halted.status is RolloutStatus.HALTED and halted.failures == 1
    assert fleet.most <= 3
    assert all(wave_of[k] <= 1 for k in fleet.order)  # no unit of a later wave started
    assert [wave_of[k] for k in fleet.order] == sorted(wave_of[k] for k in fleet.order)  # waves in order
    untouched = [u for u in halted.units if u.status is UnitStatus.PENDING]
    assert untouched and all(fleet.version[u.key] == 1 for u in untouched)
    assert all(fleet.version[u.key] == 2 for u in halted.units if u.status is UnitStatus.SUCCEEDED)

    fleet.failing.clear()
    done = rollouts.run(planned.id)
    assert done.status is RolloutStatus.SUCCEEDED and done.counts == {"succeeded": 30}
    assert all(u.applications == 1 for u in done.units)
    assert {u.key: u.attempts for u in done.units}[second[0]] == 2
    assert rollouts.run(planned.id) == done  # a succeeded rollout is left alone


def test_failures_within_the_budget_degrade_and_every_wave_runs(plane: ControlPlane) -> None:
    fleet = Fleet(12)
    fleet.failing = {"u001", "u007"}
    rollouts = runner(plane, fleet)
    view = rollouts.plan(RolloutRequest(kind=RolloutKind.SCHEMA, waves="50%,100%", error_budget=2), "t", None)
    done = rollouts.run(view.id)
    assert done.status is RolloutStatus.DEGRADED and done.counts == {"succeeded": 10, "failed": 2}
    assert sorted(fleet.order) == sorted(fleet.version)


def test_idempotency_keys_replay_the_plan(plane: ControlPlane) -> None:
    rollouts = runner(plane, Fleet(5))
    request = RolloutRequest(kind=RolloutKind.SCHEMA, waves="100%")
    first = rollouts.plan(request, "t", "rollout-key-1")
    again = rollouts.plan(request, "t", "rollout-key-1")
    assert again.id == first.id and again.deduplicated
    with pytest.raises(IdempotencyConflictError):
        rollouts.plan(request.model_copy(update={"error_budget": 3}), "t", "rollout-key-1")
