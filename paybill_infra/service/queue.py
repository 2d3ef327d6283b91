"""Jobs on procrastinate (PostgreSQL): deferring operations, and the sweep that loses none of them.

Why procrastinate: the project already runs PostgreSQL, so the queue adds tables, not a broker service.
Jobs are rows (durable across restarts, inspectable with SQL); workers fetch them with
``FOR UPDATE SKIP LOCKED`` and wake on LISTEN/NOTIFY, from as many machines as reach the database; a
job's ``lock`` runs one tenant's jobs in order, one at a time, across every worker.

What "no operation lost" rests on:

- the API journals the operation (``queued``) before deferring; a row left ``queued`` without a job (the
  API died in between) is deferred again by :func:`sweep`;
- a job whose worker died stays ``doing``; once the worker's heartbeat is older than
  ``stalled_after_s``, :func:`sweep` puts it back to ``todo`` and another worker runs it again;
- running it again is safe: the handler runs the control plane under the operation's own id, so the
  control plane replays the first result, and its crash recovery has finished (or rolled back) whatever
  the dead worker left half-done.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import procrastinate
from procrastinate.schema import SchemaManager

from paybill_infra.service.models import OperationView
from paybill_infra.service.settings import ServiceSettings
from paybill_infra.service.store import Store

TASK_NAME = "paybill.run_operation"
BILLING_TASK = "paybill.enforce_billing"
QUEUE = "paybill"
FLEET_LOCK = "paybill:fleet"
ORPHAN_AGE = timedelta(seconds=30)


def make_app(settings: ServiceSettings) -> procrastinate.App:
    """The queue's app object; the API only defers (by task name), workers also register the task."""
    return procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=settings.conninfo()))


def queue_schema() -> str:
    """procrastinate's own DDL (applied once by :func:`~paybill_infra.service.migrate.migrate`)."""
    return str(SchemaManager.get_schema())


def job_lock(tenant: str | None) -> str:
    return f"paybill:tenant:{tenant}" if tenant else FLEET_LOCK


async def enqueue(app: procrastinate.App, store: Store, operation: OperationView) -> None:
    """Defer the job that runs ``operation`` (in the tenant's lock), and remember its id."""
    deferrer = app.configure_task(name=TASK_NAME, queue=QUEUE, lock=job_lock(operation.tenant))
    job_id = await deferrer.defer_async(operation_id=operation.id)
    await asyncio.to_thread(store.set_job, operation.id, job_id)


async def sweep(app: procrastinate.App, store: Store, settings: ServiceSettings) -> tuple[int, int]:
    """Requeue the jobs of dead workers and defer orphaned operations; returns how many of each."""
    stalled = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=settings.stalled_after_s))
    for job in stalled:
        await app.job_manager.retry_job(job)
    orphans = await asyncio.to_thread(store.orphans, ORPHAN_AGE)
    for operation in orphans:
        await enqueue(app, store, operation)
    return len(stalled), len(orphans)
