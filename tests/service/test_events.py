"""Progress events reach the stream of the operation that caused them, even when operations run at once on
one worker and the control plane batches their changes into shared engine runs of a pool: every event of a
stream carries that operation's one id, no stream carries another tenant's resources, and an onboarding
served by another onboarding's run of the same pool still sees its own resources created."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.service.conftest import Service
from tests.service.test_lifecycle import sse

pytestmark = [pytest.mark.engine, pytest.mark.postgres]
SLUGS = ("ev-acme", "ev-newco", "ev-third")


def _owner(resource: str) -> str | None:
    return next((s for s in SLUGS if resource == s or resource.startswith(f"{s}-")), None)


def test_concurrent_operations_on_one_worker_each_stream_only_their_own_events(lone_service: Service) -> None:
    with lone_service.platform() as http:
        first = http.post("/tenants", json={"slug": "ev-acme", "display_name": "Acme", "plan": "starter"})
        assert lone_service.wait(first.json()["id"])["status"] == "succeeded"
        change = http.patch("/tenants/ev-acme/plan", json={"plan": "team"}).json()
        onboard = http.post("/tenants", json={"slug": "ev-newco", "display_name": "NewCo", "plan": "starter"}).json()
        third = http.post("/tenants", json={"slug": "ev-third", "display_name": "Third", "plan": "starter"}).json()
    operations = (change, onboard, third)
    with ThreadPoolExecutor(3) as pool:
        streams = dict(zip(SLUGS, pool.map(lambda o: sse(lone_service, o["id"]), operations), strict=True))
    runs = {tenant: lone_service.wait(op["id"]) for tenant, op in zip(SLUGS, operations, strict=True)}
    for tenant, frames in streams.items():
        run = runs[tenant]
        assert run["status"] == "succeeded" and frames[-1] == ("end", run)
        events = [data for kind, data in frames if kind == "progress"]
        phases = [e["phase"] for e in events]
        assert phases.count("started") == 1 and phases.count("finished") == 1, phases
        assert {e["operation_id"] for e in events} == {run["id"]}
        foreign = [
            f"{e['operation_id'][:8]} {e['message']}"
            for e in events
            if e["resource_name"] is not None and _owner(e["resource_name"]) not in (tenant, None)
        ]
        assert foreign == [], f"{tenant}'s stream carries another operation's events: {foreign}"
        assert any(_owner(str(e["resource_name"])) == tenant and e["op"] == "create" for e in events), events
