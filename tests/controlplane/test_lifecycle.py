"""The whole tenant lifecycle on the real engine and the embedded PostgreSQL.

pooled -> bridge -> silo (rows moved, counted and compared) -> pooled again, suspend (the role cannot log
in), resume, drift made by hand and detected, offboard (a retention export, nothing left). Every check
reads PostgreSQL's own catalogs or logs in with the tenant's own credentials.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from paybill_infra.controlplane import ControlPlane, OperationStatus, ProgressEvent, ProgressPhase, TenantState
from paybill_infra.errors import IllegalTransitionError
from tests.controlplane.conftest import Env
from tests.tenant_data import login, own_rows

pytestmark = [pytest.mark.engine, pytest.mark.postgres]

SLUG = "acme"
SEEN_PASSWORDS: list[str] = []


@pytest.fixture(scope="module")
def seeded(env: Env, plane: ControlPlane) -> list[tuple[object, ...]]:
    result = plane.onboard({"slug": SLUG, "display_name": "Acme", "plan": "starter"}, actor="alice")
    assert result.status is OperationStatus.SUCCEEDED
    # A neighbour in the same pool, whose rows must never move with acme's.
    plane.onboard({"slug": "initech", "display_name": "Initech", "plan": "starter"})
    with login(plane, SLUG, seen=SEEN_PASSWORDS) as conn:
        for name in ("ann", "bob", "cid"):
            cid = conn.execute(
                "INSERT INTO pooled.customers (tenant_id, name, email) VALUES (%s, %s, %s) RETURNING id",
                (SLUG, name, f"{name}@acme.example"),
            ).fetchone()
            assert cid is not None
            for cents in (100, 250):
                conn.execute(
                    "INSERT INTO pooled.invoices (tenant_id, customer_id, amount_cents) VALUES (%s, %s, %s)",
                    (SLUG, cid[0], cents),
                )
    env.query(
        "INSERT INTO pooled.customers (tenant_id, name) VALUES ('initech', 'neighbour')", dbname="pool_starter__001"
    )
    rows = own_rows(plane, SLUG, seen=SEEN_PASSWORDS)
    assert len(rows) == 6
    return rows


def test_upgrade_pooled_to_bridge_moves_the_rows(
    env: Env, plane: ControlPlane, seeded: list[tuple[object, ...]]
) -> None:
    result = plane.change_plan(SLUG, "growth", actor="alice")
    assert result.summary["migration"] is True
    assert result.summary["rows"] == {"customers": 3, "invoices": 6}
    view = plane.show(SLUG)
    assert (view.isolation.value, view.database, view.schema_name) == ("bridge", "paybill_bridge", "s_acme")
    assert own_rows(plane, SLUG, seen=SEEN_PASSWORDS) == seeded
    # the source is gone: acme's pooled rows and old role, while the neighbour's row stays
    assert env.query("SELECT tenant_id FROM pooled.customers", dbname="pool_starter__001") == [("initech",)]
    assert env.query("SELECT 1 FROM pg_roles WHERE rolname = 'r_acme'") == []


def test_upgrade_bridge_to_silo_keeps_keys(env: Env, plane: ControlPlane, seeded: list[tuple[object, ...]]) -> None:
    before = env.query("SELECT id, name FROM s_acme.customers ORDER BY id", dbname="paybill_bridge")
    plane.change_plan(SLUG, "enterprise")
    assert plane.show(SLUG).database == "d_acme"
    assert env.query("SELECT id, name FROM app.customers ORDER BY id", dbname="d_acme") == before
    assert own_rows(plane, SLUG, seen=SEEN_PASSWORDS) == seeded
    assert env.query("SELECT 1 FROM pg_namespace WHERE nspname = 's_acme'", dbname="paybill_bridge") == []
    # new rows get fresh keys after the moved ones (identity sequence moved past them)
    with login(plane, SLUG, seen=SEEN_PASSWORDS) as conn:
        new = conn.execute("INSERT INTO app.customers (tenant_id, name) VALUES ('acme', 'dan') RETURNING id").fetchone()
        conn.execute("DELETE FROM app.customers WHERE name = 'dan'")
    assert new is not None and new[0] > max(r[0] for r in before)


def test_preview_shows_the_price_delta_without_touching_anything(env: Env, plane: ControlPlane) -> None:
    stacks_before = plane.status().stacks
    preview = plane.preview(SLUG, "team")
    assert preview.migration is True and preview.monthly_price_delta == preview.monthly_price_to - 2000
    assert preview.stacks[0].changes.get("create", 0) >= 4
    assert plane.status().stacks == stacks_before and plane.show(SLUG).plan == "enterprise"


def test_downgrade_silo_to_pooled(env: Env, plane: ControlPlane, seeded: list[tuple[object, ...]]) -> None:
    preview = plane.preview(SLUG, "team")
    source = preview.stacks[1]
    result = plane.change_plan(SLUG, "team")
    # the emptied silo stack: the preview's deletes are the ones the teardown makes
    assert source.stack == "tenant-acme-silo" and source.changes == result.summary["teardown"], result.summary
    view = plane.show(SLUG)
    assert (view.isolation.value, view.pool) == ("pooled", "pool-team-001")
    assert own_rows(plane, SLUG, seen=SEEN_PASSWORDS) == seeded
    assert env.query("SELECT 1 FROM pg_database WHERE datname = 'd_acme'") == []


def test_suspend_then_resume(env: Env, plane: ControlPlane, seeded: list[tuple[object, ...]]) -> None:
    progress: list[ProgressEvent] = []
    suspended = plane.suspend(SLUG, reason="support ticket 42", on_event=progress.append)
    assert plane.show(SLUG).state is TenantState.SUSPENDED
    assert {e.tenant for e in progress} == {SLUG}, "the callback sees only this operation's tenant"
    assert {e.operation_id for e in progress if e.operation_id} == {suspended.id}
    phases = [e.phase for e in progress]
    assert ProgressPhase.RESOURCE in phases and phases[-1] is ProgressPhase.FINISHED
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        login(plane, SLUG, seen=SEEN_PASSWORDS)
    plane.resume(SLUG)
    assert plane.show(SLUG).state is TenantState.ACTIVE
    assert own_rows(plane, SLUG, seen=SEEN_PASSWORDS) == seeded


def test_drift_made_by_hand_is_detected_and_converged(env: Env, plane: ControlPlane) -> None:
    role = plane.show(SLUG).role
    assert plane.drift(SLUG).clean
    env.query(f'ALTER ROLE "{role}" NOLOGIN CREATEDB')
    report = plane.drift(SLUG)
    assert [(d.type.rsplit(":", 1)[-1], set(d.fields)) for d in report.drifted] == [
        ("LoginRole", {"login", "createdb"})
    ]
    plane.converge(SLUG)
    assert env.query("SELECT rolcanlogin, rolcreatedb FROM pg_roles WHERE rolname = %s", role) == [(True, False)]
    assert plane.drift().clean


def test_offboard_exports_then_leaves_nothing(env: Env, plane: ControlPlane) -> None:
    role = plane.show(SLUG).role
    result = plane.offboard(SLUG, actor="alice")
    export = Path(result.summary["export"]["path"])
    document = json.loads(export.read_text())
    assert document["tables"]["customers"]["rows"] and len(document["tables"]["invoices"]["rows"]) == 6
    assert export.stat().st_mode & 0o777 == 0o600
    assert plane.show(SLUG).state is TenantState.OFFBOARDED
    assert env.query("SELECT 1 FROM pg_roles WHERE rolname LIKE 't\\_acme%%'") == []
    assert env.query("SELECT 1 FROM pg_database WHERE datname LIKE '%%acme%%'") == []
    # acme was the team pool's only member: the pool's stack and database are gone with it
    assert "pool-team-001" not in plane.status().stacks
    assert env.query("SELECT 1 FROM pg_database WHERE datname = 'pool_team__001'") == []
    assert all("acme" not in stack for stack in plane.status().stacks)
    assert role not in {r[0] for r in env.query("SELECT rolname FROM pg_roles")}
    with pytest.raises(IllegalTransitionError, match=r"cannot offboard tenant 'acme' while it is offboarded"):
        plane.offboard(SLUG)


def test_audit_log_records_every_operation_and_no_secret(env: Env, plane: ControlPlane) -> None:
    actions = [(e.action, e.actor) for e in plane.audit_log(SLUG)]
    for kind, actor in (
        ("onboard", "alice"),
        ("change_plan", "alice"),
        ("suspend", "system"),
        ("resume", "system"),
        ("offboard", "alice"),
    ):
        assert (f"{kind}.started", actor) in actions and (f"{kind}.succeeded", actor) in actions, kind
    ops = plane.operations(SLUG)
    assert {o.kind.value for o in ops} >= {"onboard", "change_plan", "suspend", "resume", "offboard"}
    assert all(o.status is OperationStatus.SUCCEEDED and o.finished_at is not None for o in ops)
    assert SEEN_PASSWORDS
    registry = (env.root / ".paybill" / "control.db").read_bytes()
    for wal in (env.root / ".paybill").glob("control.db-wal"):
        registry += wal.read_bytes()
    for password in set(SEEN_PASSWORDS):
        assert password.encode() not in registry
    with (
        closing(sqlite3.connect(env.root / ".paybill" / "control.db")) as raw,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
    ):
        raw.execute("UPDATE audit_log SET actor = 'mallory'")
