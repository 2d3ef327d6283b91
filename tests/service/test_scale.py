"""50 concurrent onboarding requests over HTTP, and a worker killed in the middle of an operation."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from paybill_infra.controlplane import ControlPlane, OperationKind, OperationStatus
from tests.process_tree import survivors
from tests.service.conftest import Service

pytestmark = [pytest.mark.engine, pytest.mark.postgres]
N = 50


async def _onboard_all(service: Service, slugs: list[str]) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {service.platform_key}"}
    async with httpx.AsyncClient(base_url=service.url, headers=headers, timeout=60) as http:
        requests = [
            http.post(
                "/tenants",
                json={"slug": slug, "display_name": f"Tenant {slug}", "plan": "team"},
                headers={"Idempotency-Key": f"onboard-{slug}"},
            )
            for slug in slugs
        ]
        # the first five again, with the same keys: a client retrying after a timeout
        requests += [
            http.post(
                "/tenants",
                json={"slug": slug, "display_name": f"Tenant {slug}", "plan": "team"},
                headers={"Idempotency-Key": f"onboard-{slug}"},
            )
            for slug in slugs[:5]
        ]
        return list(await asyncio.gather(*requests))


def test_50_concurrent_onboardings_nothing_lost_nothing_duplicated(service: Service) -> None:
    slugs = [f"fleet-{i:02d}" for i in range(N)]
    started = time.monotonic()
    responses = asyncio.run(_onboard_all(service, slugs))
    assert [r.status_code for r in responses] == [202] * (N + 5), [r.text for r in responses if r.status_code != 202]
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids[:N])) == N
    assert ids[N:] == ids[:5]  # retried requests got the first operation back

    finished = [service.wait(operation_id, timeout=280 - (time.monotonic() - started)) for operation_id in ids[:N]]
    assert Counter(op["status"] for op in finished) == {"succeeded": N}

    with service.platform() as http:
        tenants = {t["slug"]: t for t in http.get("/tenants", params={"state": "active"}).json()}
        assert set(slugs) <= set(tenants)
        assert all(tenants[s]["pool"] for s in slugs)
        summary = http.get("/ops/summary").json()
    pools = [p for p in summary["fleet"]["pools"] if p["plan"] == "team"]
    members = sum(p["members"] for p in pools)
    assert members >= N
    assert all(p["members"] <= p["capacity"] for p in pools), pools
    assert len(pools) == -(-members // pools[0]["capacity"]), f"concurrent placements opened extra pools: {pools}"
    rows = service.query(
        "SELECT tenant, count(*) FROM operations WHERE kind = 'onboard' AND tenant LIKE 'fleet-%%' GROUP BY tenant"
    )
    assert dict(rows) == dict.fromkeys(slugs, 1)
    with ControlPlane(service.settings.control_plane(), recover=False) as plane:
        journal = Counter(op.tenant for op in plane.operations(limit=1000) if op.kind.value == "onboard")
        assert all(journal[s] == 1 for s in slugs)
    # each operation's stream has its own tenant's resource events, and no other tenant's
    attributed = service.query(
        "SELECT o.tenant, count(*) FILTER (WHERE e.payload->>'tenant' = o.tenant),"
        " count(*) FILTER (WHERE e.payload->>'tenant' <> o.tenant)"
        " FROM operations o JOIN svc_events e ON e.operation_id = o.id"
        " WHERE o.id = ANY(%s) AND e.payload->>'phase' = 'resource' GROUP BY o.tenant",
        ids[:N],
    )
    assert len(attributed) == N and all(own > 0 and other == 0 for _slug, own, other in attributed), attributed
    jobs = service.query(
        "SELECT j.status, count(*) FROM procrastinate_jobs j WHERE j.args->>'operation_id' = ANY(%s) GROUP BY j.status",
        ids[:N],
    )
    assert jobs == [("succeeded", N)]  # one job per operation, each run to completion


def test_worker_killed_mid_operation_ends_in_exactly_one_terminal_state(service: Service) -> None:
    with service.platform() as http:
        created = http.post("/tenants", json={"slug": "wayne", "display_name": "Wayne", "plan": "enterprise"})
        assert created.status_code == 202
        operation_id = created.json()["id"]

    deadline = time.monotonic() + 120
    victim = None
    while time.monotonic() < deadline and victim is None:
        resources = service.query(
            "SELECT count(*) FROM svc_events WHERE operation_id = %s AND payload->>'phase' = 'resource'"
            " AND payload->>'tenant' = 'wayne'",
            operation_id,
        )
        if resources[0][0] > 0:
            victim = service.query("SELECT split_part(worker, '@', 1) FROM operations WHERE id = %s", operation_id)
        time.sleep(0.05)
    assert victim, f"the operation never reached the engine\n{service.logs_tail()}"
    name = victim[0][0]
    process = service.workers[name]
    os.kill(process.pid, signal.SIGKILL)  # the worker only: its engine child is left to die on its own
    process.wait(timeout=30)
    assert survivors(process.pid, within=15) == []  # its own session: the CLI and the provider host are gone
    assert service.query("SELECT status FROM operations WHERE id = %s", operation_id) == [("running",)]

    service.start_worker(name)  # the restarted worker (and the surviving one) pick the operation up
    done = service.wait(operation_id, timeout=240)
    assert done["status"] == "succeeded", done
    assert done["attempts"] >= 2

    with ControlPlane(service.settings.control_plane(), recover=False) as plane:
        journal = [op for op in plane.operations("wayne") if op.kind.value == "onboard"]
        assert len(journal) == 1 and journal[0].status is OperationStatus.SUCCEEDED
        assert journal[0].id == done["id"] == operation_id
        assert plane.show("wayne").state.value == "active"
    # The control plane finishes the journal row inside the job, so the job itself is marked a moment later.
    deadline = time.monotonic() + 30
    jobs: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline and jobs != [("succeeded",)]:
        jobs = service.query(
            "SELECT j.status FROM procrastinate_jobs j JOIN operations o ON o.job_id = j.id WHERE o.id = %s",
            operation_id,
        )
        time.sleep(0.2)
    assert jobs == [("succeeded",)]


def test_api_restart_and_an_operation_orphaned_before_its_job_are_not_lost(service: Service) -> None:
    assert service.api is not None
    os.killpg(service.api.pid, signal.SIGKILL)
    service.api.wait(timeout=30)
    # the API died between recording an operation and deferring its job: the row exists, the job does not
    orphan, created = service.store.create(
        OperationKind.ONBOARD,
        "orphan",
        "platform_admin:root",
        {"slug": "orphan", "display_name": "Orphan", "plan": "starter"},
        None,
    )
    assert created
    service.query("UPDATE operations SET created_at = now() - interval '5 minutes' WHERE id = %s", orphan.id)
    service.start_api()
    done = service.wait(orphan.id, timeout=120)
    assert done["status"] == "succeeded", done
    with service.platform() as http:
        assert http.get("/tenants/orphan").json()["state"] == "active"
