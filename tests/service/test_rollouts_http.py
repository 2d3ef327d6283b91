"""Rollouts over HTTP: problem documents for bad bodies, then a stack rollout queued, run by a worker, read
back and streamed as Server-Sent Events."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.service.conftest import Service, read_sse

pytestmark = [pytest.mark.engine, pytest.mark.postgres]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": "infra", "waves": "canary,50%"}, {"body.waves"}),
        ({"kind": "infra", "waves": "10%,canary,100%", "error_budget": -1}, {"body.waves", "body.error_budget"}),
        ({"kind": "everything"}, {"body.kind"}),
        ({"kind": "infra", "workers": 0, "extra": 1}, {"body.workers", "body.extra"}),
        ({"kind": "schema", "schema_file": "/etc/passwd"}, {"schema_file"}),
    ],
)
def test_bad_rollout_bodies_are_problems_naming_the_field(
    service: Service, body: dict[str, Any], fields: set[str]
) -> None:
    with service.platform() as http:
        response = http.post("/rollouts", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in response.json()["errors"]} == fields


def test_rollout_refusals(service: Service) -> None:
    with service.platform() as http:
        assert http.post("/rollouts", content=b"kind=infra", headers={"content-type": "text/plain"}).status_code == 415
        missing = http.get("/rollouts/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "id"
    with service.client(service.tenant_key("nobody")) as tenant_admin:
        assert tenant_admin.post("/rollouts", json={"kind": "infra", "waves": "100%"}).status_code == 403
        assert tenant_admin.get("/rollouts").status_code == 403


def test_a_stack_rollout_runs_on_a_worker_and_streams_its_steps(service: Service) -> None:
    with service.platform() as http:
        onboarding = http.post("/tenants", json={"slug": "rollco", "display_name": "Roll", "plan": "growth"}).json()
        assert service.wait(onboarding["id"])["status"] == "succeeded"
        started = http.post(
            "/rollouts", json={"kind": "infra", "waves": "canary,100%"}, headers={"Idempotency-Key": "roll-0001"}
        )
        assert started.status_code == 202, started.text
        rollout = started.json()
        assert rollout["status"] == "queued" and started.headers["location"] == f"/rollouts/{rollout['id']}"
        assert {u["group"] for u in rollout["units"]} >= {"platform", "tenant"}
        again = http.post(
            "/rollouts", json={"kind": "infra", "waves": "canary,100%"}, headers={"Idempotency-Key": "roll-0001"}
        )
        assert again.json()["id"] == rollout["id"] and again.json()["deduplicated"] is True

        deadline = time.monotonic() + 180
        view = rollout
        while view["status"] not in ("succeeded", "degraded", "halted") and time.monotonic() < deadline:
            time.sleep(0.5)
            view = http.get(f"/rollouts/{rollout['id']}").json()
        assert view["status"] == "succeeded", (view, service.logs_tail())
        assert view["counts"] == {"succeeded": len(rollout["units"])}

        frames = read_sse(http, f"/rollouts/{rollout['id']}/events")
        kinds = [data["kind"] for event, data in frames if event == "rollout"]
        assert kinds[0] == "rollout.queued" and kinds[-1] == "rollout.succeeded"
        assert kinds.count("unit.succeeded") == len(rollout["units"]) and kinds.count("wave.started") == len(
            {u["wave"] for u in rollout["units"]}
        )
        assert frames[-1][0] == "end" and frames[-1][1]["id"] == rollout["id"]
        assert http.get("/rollouts").json()[0]["id"] == rollout["id"]
