"""Billing enforced on a schedule, end to end: a past-due webhook, then time passes, then the periodic job
suspends the tenant; a payment webhook resumes it.

Both workers of the shared deployment run procrastinate's periodic deferrer every second
(``PAYBILL_SERVICE_BILLING_CRON``): each tick must become exactly one job. The clock is the tick's
timestamp, which the job reads as "now"; the test moves it past the grace period by deferring the billing
job itself for a tick eight days ahead, twice at once: one suspend must result. A second test makes two
worker processes enforce at the same instant, so the race is certain rather than likely.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest

from paybill_infra.controlplane import ControlPlane, OperationKind, OperationStatus
from paybill_infra.service.queue import BILLING_TASK, QUEUE, make_app
from tests.service.conftest import REPO, Service
from tests.service.test_auth_and_billing import event, webhook

pytestmark = [pytest.mark.engine, pytest.mark.postgres]
SLUG = "delta"


def state(service: Service) -> str:
    with service.platform() as http:
        return str(http.get(f"/tenants/{SLUG}").json()["state"])


def billing_jobs(service: Service, since: int) -> list[tuple[int, int, str]]:
    """``(tick, jobs, statuses)`` of the billing jobs for ticks from ``since`` on."""
    rows = service.query(
        "SELECT (args->>'timestamp')::bigint AS tick, count(*), string_agg(status::text, ',') FROM procrastinate_jobs"
        " WHERE task_name = %s AND (args->>'timestamp')::bigint >= %s GROUP BY tick ORDER BY tick",
        BILLING_TASK,
        since,
    )
    return [(int(tick), int(count), str(statuses)) for tick, count, statuses in rows]


async def defer_at(service: Service, tick: int, copies: int) -> None:
    app = make_app(service.settings)
    async with app.open_async():
        deferrer = app.configure_task(name=BILLING_TASK, queue=QUEUE)
        await asyncio.gather(*(deferrer.defer_async(timestamp=tick) for _ in range(copies)))


def test_past_due_is_suspended_after_the_grace_period_and_payment_resumes(service: Service) -> None:
    with service.platform() as http:
        onboarding = http.post("/tenants", json={"slug": SLUG, "display_name": "Delta", "plan": "starter"})
    assert service.wait(onboarding.json()["id"])["status"] == "succeeded"
    started = int(time.time())
    assert webhook(service, event("evt-delta-pd", SLUG, "past_due")).status_code == 200

    # the schedule runs (two workers, one job per tick), and within the grace period nothing happens
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum("succeeded" in s for *_, s in billing_jobs(service, started)) < 3:
        time.sleep(0.3)
    ticks = billing_jobs(service, started)
    assert sum("succeeded" in s for *_, s in ticks) >= 3, ticks
    assert all(count == 1 for _, count, _ in ticks), ticks
    assert state(service) == "active"

    # eight days later (grace: seven), two overlapping runs of the job
    later = int((datetime.now(UTC) + timedelta(days=8)).timestamp())
    asyncio.run(defer_at(service, later, copies=2))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and [s for t, _, s in billing_jobs(service, later) if t == later] != [
        "succeeded,succeeded"
    ]:
        time.sleep(0.3)
    assert [(c, s) for t, c, s in billing_jobs(service, later) if t == later] == [(2, "succeeded,succeeded")]
    assert state(service) == "suspended"

    with ControlPlane(service.settings.control_plane(), recover=False) as plane:
        suspends = [op for op in plane.operations(SLUG) if op.kind is OperationKind.SUSPEND]
        assert [(op.actor, op.status) for op in suspends] == [("billing", OperationStatus.SUCCEEDED)]
        assert plane.subscription(SLUG).status.value == "suspended"  # type: ignore[union-attr]

    resumed = webhook(service, event("evt-delta-paid", SLUG, "active")).json()
    assert resumed["operation"]["kind"] == "resume"
    assert service.wait(resumed["operation"]["id"])["status"] == "succeeded"
    assert state(service) == "active"


def test_two_workers_enforcing_at_once_suspend_a_tenant_once(service: Service) -> None:
    """Two processes (each a worker's control plane) run ``enforce_billing`` at the same instant: the
    journal holds one new suspend, and whatever each racer reports is that one."""
    assert state(service) == "active"  # resumed by the test above
    assert webhook(service, event("evt-delta-pd-2", SLUG, "past_due")).status_code == 200
    later = str(int((datetime.now(UTC) + timedelta(days=8)).timestamp()))
    racers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.service.enforce_once", later],
            env=service.env,
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for racer in racers:
        assert racer.stdout is not None and racer.stdout.readline().strip() == "READY"
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write("go\n")
        racer.stdin.flush()
    outputs = [racer.communicate(timeout=180)[0] for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], outputs
    reported = [[json.loads(line) for line in out.splitlines()] for out in outputs]
    mine = [[r for r in results if r["tenant"] == SLUG] for results in reported]
    # a racer that saw the tenant still active joined the winner's operation (replayed, ``deduplicated``); one
    # that looked after the suspend finished started nothing; neither failed nor started a second one
    assert all(len(results) <= 1 for results in mine), reported
    started = {r["id"] for results in mine for r in results}
    assert len(started) == 1 and {r["kind"] for results in mine for r in results} == {"suspend"}
    assert sorted(r["deduplicated"] for results in mine for r in results) in ([False], [False, True])
    assert state(service) == "suspended"
    with ControlPlane(service.settings.control_plane(), recover=False) as plane:
        suspends = [op.id for op in plane.operations(SLUG) if op.kind is OperationKind.SUSPEND]
        assert len(suspends) == 2 and started <= set(suspends)  # the first test's and this one
