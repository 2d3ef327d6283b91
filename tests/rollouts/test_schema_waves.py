"""Schema rollouts in waves on real PostgreSQL, over a fleet provisioned by the real engine (a pool, a
bridge tenant and two silo tenants, with the user's schema file):

- a failure injected in wave 2 halts the rollout; every unit is fully old or fully new, in
  ``information_schema``, in its version marker and in the registry; resuming finishes it;
- ``kill -9`` of the rollout's process mid-wave, then recovery at the next start: every unit migrated
  exactly once (the per-unit audit trail), and a tenant onboarded in between is born at the new version.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psycopg
import pytest
import yaml

from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings
from paybill_infra.controlplane.registry import TenantRow
from paybill_infra.controlplane.stacks import pid_alive
from paybill_infra.datamodel.units import Unit
from paybill_infra.rollouts.models import RolloutStatus, UnitStatus
from tests.controlplane.conftest import Env, paybill
from tests.process_tree import survivors

pytestmark = [pytest.mark.engine, pytest.mark.postgres]
SCHEMAS = Path(__file__).resolve().parents[1] / "datamodel" / "schemas"
TENANTS = [
    ("pool-a", "starter"),
    ("pool-b", "starter"),
    ("grow-a", "growth"),
    ("ent-a", "enterprise"),
    ("ent-b", "enterprise"),
]


@pytest.fixture(scope="module")
def fleet(env: Env) -> Env:
    shutil.copy(SCHEMAS / "v1.yaml", env.root / "schema.yaml")
    (env.root / "paybill.yaml").write_text(
        yaml.safe_dump({"control_plane": {"data_schema": "schema.yaml", "lease_ttl_s": 10, "workers": 4}})
    )
    with open_plane(env) as plane:
        assert plane.schema.newest() == 1  # the user's file is the baseline version
        outcomes = plane.onboard_many([{"slug": s, "display_name": s, "plan": p} for s, p in TENANTS])
        assert all(getattr(o, "status", None) is not None and o.status.value == "succeeded" for o in outcomes), outcomes
    return env


def open_plane(env: Env, **kwargs: object) -> ControlPlane:
    return ControlPlane(ControlPlaneSettings.for_root(env.root), **kwargs)  # type: ignore[arg-type]


def shape(unit: Unit) -> tuple[bool, bool, int]:
    """(``accounts.phone`` exists, table ``notes`` exists, marker version) of one unit, from PostgreSQL."""
    with psycopg.connect(unit.server.conninfo(unit.database), autocommit=True) as conn:
        phone = conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = %s AND table_name = 'accounts'"
            " AND column_name = 'phone'",
            (unit.schema_name,),
        ).fetchone()
        notes = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = 'notes'",
            (unit.schema_name,),
        ).fetchone()
    assert phone is not None and notes is not None
    return phone[0] == 1, notes[0] == 1, unit.version


def registry_versions(plane: ControlPlane) -> dict[str, int]:
    with plane.registry.transaction() as session:
        return {row.slug: row.schema_version for row in session.query(TenantRow)}


def test_a_failure_in_wave_2_leaves_every_unit_fully_old_or_fully_new(fleet: Env) -> None:
    with open_plane(fleet) as plane:
        planned = plane.plan_rollout(
            {"kind": "schema", "schema_file": str(SCHEMAS / "v2.yaml"), "waves": "25%,50%,100%"}
        )
        assert planned.status is RolloutStatus.QUEUED
        waves = [sorted(u.key for u in planned.units if u.wave == w) for w in range(3)]
        assert [len(w) for w in waves] == [1, 1, 2]  # 4 units: the pool once, a bridge schema, two silo databases
        units = {u.key: u for u in plane.schema.units()}
        blocked = units[waves[1][0]]
        # Someone holds the unit's table: its DDL times out (lock_timeout) and its transaction rolls back.
        with psycopg.connect(blocked.server.conninfo(blocked.database)) as holder:
            holder.execute(f'LOCK TABLE "{blocked.schema_name}".accounts IN ACCESS EXCLUSIVE MODE')
            halted = plane.run_rollout(planned.id)
        assert halted.status is RolloutStatus.HALTED
        assert {u.key: u.status for u in halted.units} == {
            waves[0][0]: UnitStatus.SUCCEEDED,
            waves[1][0]: UnitStatus.FAILED,
            **{k: UnitStatus.PENDING for k in waves[2]},
        }
        after = {u.key: u for u in plane.schema.units()}
        versions = registry_versions(plane)
        for key, unit in after.items():
            assert shape(unit) in ((False, False, 1), (True, True, 2)), key
            assert shape(unit)[2] == (2 if key == waves[0][0] else 1), key
            assert all(versions[t] == unit.version for t in unit.members), (key, versions)

        done = plane.resume_rollout(planned.id)
        assert done.status is RolloutStatus.SUCCEEDED and done.counts == {"succeeded": 4}
        assert all(shape(u) == (True, True, 2) for u in plane.schema.units())
        assert set(registry_versions(plane).values()) == {2}


def test_kill_9_mid_wave_then_recovery_migrates_each_unit_exactly_once(fleet: Env) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.rollouts.crash_rollout", str(fleet.root), str(SCHEMAS / "v3.yaml"), "50%,100%"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert worker.stdout is not None
        for line in worker.stdout:
            if line.startswith("UNIT ") and line.split()[2] == "resource":  # the first unit is migrated
                os.kill(worker.pid, signal.SIGKILL)
                break
        else:
            pytest.fail("the rollout finished before it could be killed")
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        assert survivors(worker.pid, within=15) == []  # nothing of the killed run is left running

        with open_plane(fleet, recover=False) as plane:
            interrupted = plane.rollouts(1)[0]
            assert interrupted.status is RolloutStatus.RUNNING and interrupted.counts.get("pending", 0) >= 1
            # A tenant onboarded while the rollout is interrupted is born at the version being rolled out.
            assert (
                plane.onboard({"slug": "late-co", "display_name": "Late", "plan": "enterprise"}).status.value
                == "succeeded"
            )
            late = next(u for u in plane.schema.units() if "late-co" in u.members)
            assert late.version == 3 and registry_versions(plane)["late-co"] == 3

        with open_plane(fleet) as plane:  # recovery at start runs the rollout on
            done = plane.rollout_view(interrupted.id)
            assert done.status is RolloutStatus.SUCCEEDED, done
            assert {u.key for u in done.units} == {u.key for u in interrupted.units}  # late-co is no unit of it
            assert all(u.version == 3 for u in plane.schema.units())
            migrated = Counter(
                e.detail["unit"]
                for e in plane.audit_log()
                if e.action == "schema.migrate_unit"
                and e.detail.get("to_version") == 3
                and e.detail.get("outcome") == "migrated"
            )
            assert migrated == {u.key: 1 for u in done.units}
            assert any(e.action == "rollout.recovering" and e.operation_id == done.id for e in plane.audit_log())
    finally:
        if worker.poll() is None or pid_alive(worker.pid):
            os.killpg(worker.pid, signal.SIGKILL)


def test_db_migrate_and_resume_from_the_shell(fleet: Env) -> None:
    done = paybill(fleet, "db", "migrate", str(SCHEMAS / "v3.yaml"), "--waves", "canary,100%", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["status"] == "succeeded"  # the fleet is at v3 already: nothing to migrate
    resumed = paybill(fleet, "db", "resume", "--json")
    assert resumed.returncode == 0 and json.loads(resumed.stdout)["id"] == json.loads(done.stdout)["id"]
