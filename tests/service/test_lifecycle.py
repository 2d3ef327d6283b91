"""The whole tenant lifecycle through HTTP, with SSE progress from the worker that ran it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from psycopg import sql

from paybill_infra.controlplane import OperationKind, OperationStatus, ProgressEvent, ProgressPhase
from paybill_infra.service.events import Wakeups
from tests.service.conftest import Service, read_sse

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


def sse(service: Service, operation_id: str) -> list[tuple[str, dict[str, object]]]:
    """Read ``/operations/{id}/events`` to its ``end`` event: ``(event, data)`` pairs."""
    with service.platform() as http:
        return read_sse(http, f"/operations/{operation_id}/events")


def test_lifecycle_over_http(service: Service) -> None:
    with service.platform() as http:
        created = http.post(
            "/tenants", json={"slug": "acme", "display_name": "Acme", "plan": "starter", "subscription": "active"}
        )
        assert created.status_code == 202, created.text
        onboarding = created.json()
        assert onboarding["status"] in ("queued", "running")
        assert created.headers["location"] == f"/operations/{onboarding['id']}"

        frames = sse(service, onboarding["id"])
        phases = [data["phase"] for event, data in frames if event == "progress"]
        assert "started" in phases and "finished" in phases and "resource" in phases
        assert frames[-1][0] == "end" and frames[-1][1]["status"] == "succeeded"
        done = service.wait(onboarding["id"])
        assert done["summary"]["stack"]

        tenant = http.get("/tenants/acme").json()
        assert (tenant["state"], tenant["plan"], tenant["isolation"]) == ("active", "starter", "pooled")
        assert "acme" in [t["slug"] for t in http.get("/tenants").json()]

        again = http.get(f"/operations/{onboarding['id']}/events", params={"follow": "false"})
        assert again.status_code == 200 and "event: end" in again.text

        upgrade = http.patch("/tenants/acme/plan", json={"plan": "growth"})
        assert upgrade.status_code == 202, upgrade.text
        upgraded = service.wait(upgrade.json()["id"])
        assert upgraded["status"] == "succeeded", upgraded
        assert upgraded["summary"]["migration"] is True
        assert http.get("/tenants/acme").json()["isolation"] == "bridge"
        same = http.patch("/tenants/acme/plan", json={"plan": "growth"})
        assert same.status_code == 422, same.text  # the control plane's rule, and its typed error
        assert same.json()["errors"][0]["field"] == "plan"

        suspended = service.wait(http.post("/tenants/acme/suspend", json={"reason": "test"}).json()["id"])
        assert suspended["status"] == "succeeded"
        assert http.get("/tenants/acme").json()["state"] == "suspended"
        refused = http.post("/tenants/acme/suspend")
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["errors"][0]["field"] == "state"

        resumed = service.wait(http.post("/tenants/acme/resume").json()["id"])
        assert resumed["status"] == "succeeded"
        assert http.get("/tenants/acme").json()["state"] == "active"

        offboarded = service.wait(http.delete("/tenants/acme").json()["id"])
        assert offboarded["status"] == "succeeded"
        assert offboarded["summary"]["retention"] == "export"
        assert http.get("/tenants/acme").json()["state"] == "offboarded"

        history = [(o["kind"], o["status"]) for o in http.get("/operations", params={"tenant": "acme"}).json()]
        assert sorted(history) == sorted(
            [(k, "succeeded") for k in ("onboard", "change_plan", "suspend", "resume", "offboard")]
        )


def test_bad_input_is_a_problem_naming_the_field(service: Service) -> None:
    with service.platform() as http:
        bad_slug = http.post("/tenants", json={"slug": "Not A Slug", "display_name": "x", "plan": "starter"})
        assert bad_slug.status_code == 422
        assert bad_slug.headers["content-type"] == "application/problem+json"
        assert [e["field"] for e in bad_slug.json()["errors"]] == ["body.slug"]

        unknown_plan = http.post("/tenants", json={"slug": "nowhere", "display_name": "x", "plan": "platinum"})
        assert unknown_plan.status_code == 422
        assert unknown_plan.json()["errors"][0]["field"] == "plan"

        canceled = http.post(
            "/tenants", json={"slug": "gone", "display_name": "x", "plan": "starter", "subscription": "canceled"}
        )
        assert canceled.status_code == 409 and canceled.json()["errors"][0]["field"] == "subscription"

        assert http.get("/tenants/nobody-here").status_code == 404
        assert http.get("/operations/00000000-0000-0000-0000-000000000000").status_code == 404


def test_ops_view_lists_tenants_operations_and_drift(service: Service) -> None:
    with service.platform() as http:
        drift = http.post("/ops/drift")
        assert drift.status_code == 202
        assert service.wait(drift.json()["id"])["status"] == "succeeded"
        summary = http.get("/ops/summary").json()
        assert summary["drift"] is not None and summary["last_drift"]["kind"] == "drift"
        assert summary["operations"] and "tenants" in summary["fleet"]
        page = http.get("/ops")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "<h2>Drift</h2>" in page.text


def test_event_writes_wake_listening_streams(service: Service) -> None:
    """Workers' writes reach an API process by NOTIFY at once (the re-read interval is only a fallback)."""
    operation, _ = service.store.create(OperationKind.DRIFT, None, "platform_admin:root", {"tenant": None}, None)
    event = ProgressEvent(
        at=datetime.now(UTC), operation_id=operation.id, tenant=None, stack=None, phase=ProgressPhase.STEP, message="x"
    )

    async def woken_after_write() -> float:
        wakeups = Wakeups(service.settings.conninfo())
        wakeups.start()
        try:
            async with wakeups.watch(operation.id) as woken:
                await asyncio.sleep(0.5)  # the LISTEN is in place
                started = time.monotonic()
                await asyncio.to_thread(service.store.record_event, event)
                await asyncio.wait_for(woken.wait(), timeout=5)
                return time.monotonic() - started
        finally:
            await wakeups.stop()

    assert asyncio.run(woken_after_write()) < 2
    service.store.finish(operation.id, OperationStatus.FAILED, phase="test", error="not a real drift check")


def rows_keyed_by(service: Service, value: str) -> dict[str, int]:
    """For every table of the database with a text ``id`` column, how many of its rows have ``value`` as id."""
    tables = service.query(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND column_name = 'id' AND data_type IN ('character varying', 'text', 'uuid') ORDER BY table_name"
    )
    counts = {
        name: service.query(sql.SQL("SELECT count(*) FROM {} WHERE id::text = %s").format(sql.Identifier(name)), value)
        for (name,) in tables
    }
    return {name: found[0][0] for name, found in counts.items() if found[0][0]}


def test_one_onboarding_is_one_operation_under_one_id(service: Service) -> None:
    """The id the API returns is the only operation id anywhere: exactly one row in the whole database is that
    operation (the journal's, which the API wrote as ``queued`` and the worker's control plane claimed), and
    every SSE event and audit record carries its id."""
    with service.platform() as http:
        created = http.post("/tenants", json={"slug": "oneid", "display_name": "One Id", "plan": "starter"})
        assert created.status_code == 202, created.text
        operation_id = created.json()["id"]
        frames = sse(service, operation_id)
    assert frames[-1][0] == "end" and frames[-1][1]["status"] == "succeeded", frames[-1]
    events = [data for kind, data in frames if kind == "progress"]
    assert events and {e["operation_id"] for e in events} == {operation_id}

    assert rows_keyed_by(service, operation_id) == {"operations": 1}
    assert service.query("SELECT id, status, worker IS NOT NULL FROM operations WHERE tenant = 'oneid'") == [
        (operation_id, "succeeded", True)
    ]
    audited = service.query("SELECT DISTINCT operation_id FROM audit_log WHERE tenant = 'oneid'")
    assert audited == [(operation_id,)]
