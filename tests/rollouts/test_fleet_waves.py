"""``paybill fleet up --waves``: the fleet's stacks updated canary first, then by percentages, on the real
engine; a failure beyond the error budget stops the rollout before the next unit starts."""

from __future__ import annotations

import json

import pytest

from paybill_infra.controlplane import ControlPlane
from paybill_infra.controlplane.registry import StackRow
from paybill_infra.rollouts.models import RolloutStatus, UnitStatus
from tests.controlplane.conftest import Env, paybill

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


def last_runs(plane: ControlPlane) -> dict[str, object]:
    with plane.registry.transaction() as session:
        return {row.name: row.last_run_at for row in session.query(StackRow)}


def test_stacks_roll_out_in_waves_and_stop_beyond_the_budget(env: Env) -> None:
    settings = env.settings.model_copy(update={"lock_timeout_s": 2.0})
    with ControlPlane(settings) as plane:
        tenants = [("ent-a", "enterprise"), ("grow-a", "growth"), ("pool-a", "starter")]
        outcomes = plane.onboard_many([{"slug": s, "display_name": s, "plan": p} for s, p in tenants])
        assert all(o.status.value == "succeeded" for o in outcomes if not isinstance(o, Exception)), outcomes

        planned = plane.plan_rollout({"kind": "infra", "waves": "20%,60%,100%", "error_budget": 0})
        assert planned.status is RolloutStatus.QUEUED
        waves: dict[int, list[str]] = {}
        for unit in planned.units:
            waves.setdefault(unit.wave, []).append(unit.key)
        assert [len(waves[w]) for w in sorted(waves)] == [1, 2, 1]  # 4 stacks: platform, pool, 2 tenant stacks
        assert {u.group for u in planned.units} == {"platform", "pool", "tenant"}

        # A stack of wave 2 is held by someone else: its unit fails (lock timeout), beyond a budget of 0.
        blocked, untouched = waves[1][0], [waves[1][1], *waves[2]]
        assert plane.runtime.locks.try_acquire(f"stack:{blocked}", "someone-else")[0]
        before = last_runs(plane)
        halted = plane.run_rollout(planned.id)
        assert halted.status is RolloutStatus.HALTED and halted.failures == 1
        status = {u.key: u.status for u in halted.units}
        assert status[waves[0][0]] is UnitStatus.SUCCEEDED
        assert status[blocked] is UnitStatus.FAILED
        assert all(status[k] is UnitStatus.PENDING for k in untouched)  # never started
        after = last_runs(plane)
        assert all(after.get(k) == before.get(k) for k in untouched)  # the engine never ran them
        assert after[waves[0][0]] != before[waves[0][0]]

        # Waves ran in order: nothing of a wave started before the previous one finished.
        events = plane.rollout_events(planned.id)
        order = [(e.kind, e.wave) for e in events if e.kind in ("wave.started", "unit.succeeded", "unit.failed")]
        assert order == [("wave.started", 0), ("unit.succeeded", 0), ("wave.started", 1), ("unit.failed", 1)]

        plane.runtime.locks.release(f"stack:{blocked}", "someone-else")
        resumed = plane.resume_rollout(planned.id)
        assert resumed.status is RolloutStatus.SUCCEEDED
        assert resumed.counts == {"succeeded": 4}
        assert [u.attempts for u in resumed.units if u.key == blocked] == [2]
        actions = [e.action for e in plane.audit_log() if e.operation_id == planned.id]
        assert {"rollout.planned", "rollout.halted", "rollout.succeeded", "rollout.unit.failed"} <= set(actions)

    bad = paybill(env, "fleet", "up", "--waves", "canary,50%", "--json")
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "--waves" in bad.stdout and "waves[1]" in bad.stdout
    done = paybill(env, "fleet", "up", "--waves", "canary,100%", "--workers", "2", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    view = json.loads(done.stdout)
    assert view["status"] == "succeeded" and view["counts"] == {"succeeded": 4}
    assert [u["wave_label"] for u in view["units"]].count("canary") == 3  # one stack per kind first
