"""The worker process: runs queued operations on the control plane (the only place the engine runs).

Start one or many (``python -m paybill_infra.service worker``), on any machine that reaches the database
and the state backend. At start a worker recovers the control-plane operations of dead workers (crash
recovery) and then, every ``sweep_interval_s``, requeues stalled jobs and orphaned operations
(:func:`~paybill_infra.service.queue.sweep`) and recovers again (owners on other hosts are declared dead
by lease expiry, which takes time).

Billing is enforced on a schedule: ``billing_cron`` defers :data:`~paybill_infra.service.queue.BILLING_TASK`
(procrastinate's periodic deferrer runs in every worker and records each tick once, so N workers make one job
per tick), and the job runs :meth:`~paybill_infra.controlplane.ControlPlane.enforce_billing` at the tick's
time, which is idempotent should two runs overlap anyway.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import procrastinate

from paybill_infra.controlplane import (
    ControlPlane,
    OnboardRequest,
    OperationKind,
    OperationResult,
    OperationStatus,
    RetentionPolicy,
)
from paybill_infra.errors import MigrationError, OperationFailedError, PaybillError
from paybill_infra.service.migrate import migrate
from paybill_infra.service.models import OperationView
from paybill_infra.service.queue import BILLING_TASK, QUEUE, TASK_NAME, make_app, sweep
from paybill_infra.service.rollouts import register_task as register_rollout_task
from paybill_infra.service.settings import ServiceSettings
from paybill_infra.service.store import Store

log = logging.getLogger("paybill.worker")
MAX_ATTEMPTS = 5
RETRY = procrastinate.RetryStrategy(max_attempts=MAX_ATTEMPTS, exponential_wait=2)


class Worker:
    """One worker process: the queue app with the task registered, and the embedded control plane."""

    def __init__(self, settings: ServiceSettings, *, name: str = "paybill-worker") -> None:
        self.settings = settings
        self.name = name
        self.identity = f"{name}@{socket.gethostname()}:{os.getpid()}"
        self.store = Store.connect(settings.sqlalchemy_url())
        migrate(settings)
        self.app = make_app(settings)
        self.app.task(name=TASK_NAME, queue=QUEUE, retry=RETRY, pass_context=True)(self.run_operation)
        billing = self.app.task(name=BILLING_TASK, queue=QUEUE)(self.enforce_billing)
        self.app.periodic(cron=settings.billing_cron, periodic_id="billing")(billing)
        self.plane = ControlPlane(settings.control_plane(), on_event=self.store.record_event, recover=False)
        register_rollout_task(self.app, self.plane)
        self.plane.recover()

    def close(self) -> None:
        self.plane.close()
        self.store.close()

    async def run_operation(self, context: procrastinate.JobContext, operation_id: str) -> None:
        """The task: run one service operation to its terminal status (a no-op once it has one).

        Refusals and failures of the control plane are outcomes, recorded as such. Anything else (the
        database unreachable, say) is retried with backoff; after the last attempt the operation is
        recorded as failed, so no operation stays ``running`` forever."""
        operation = await asyncio.to_thread(self.store.start, operation_id, self.identity)
        if operation is None:
            return
        try:
            await asyncio.to_thread(self.execute, operation)
        except Exception as err:
            if context.job.attempts >= MAX_ATTEMPTS:
                error = f"gave up after {context.job.attempts + 1} attempts ({type(err).__name__})"
                await asyncio.to_thread(
                    self.store.finish, operation_id, OperationStatus.FAILED, phase="gave-up", error=error
                )
            raise

    async def enforce_billing(self, timestamp: int) -> None:
        """The periodic billing job. ``timestamp`` is the tick's time (procrastinate passes it), and it is the
        clock enforcement reads: a job deferred with a later timestamp enforces as of then."""
        now = datetime.fromtimestamp(timestamp, UTC)
        results = await asyncio.to_thread(self.plane.enforce_billing, now)
        for result in results:
            log.info("billing: %s of %s %s", result.kind.value, result.tenant, result.status.value)

    def execute(self, operation: OperationView) -> OperationView:
        request = self.store.request_of(operation.id)
        finish = self.store.finish
        try:
            if operation.kind is OperationKind.DRIFT:
                report = self.plane.drift(operation.tenant)
                return finish(
                    operation.id, OperationStatus.SUCCEEDED, phase="checked", summary=report.model_dump(mode="json")
                )
            result = self.dispatch(operation, request)
        except OperationFailedError as err:
            return finish(operation.id, OperationStatus.FAILED, phase="failed", error=str(err))
        except MigrationError as err:
            status = OperationStatus.ROLLED_BACK if err.rolled_back else OperationStatus.FAILED
            return finish(operation.id, status, phase=err.phase, error=str(err))
        except PaybillError as err:
            return finish(operation.id, OperationStatus.FAILED, phase="refused", error=str(err))
        # The control plane finished this very row; only a replay of an earlier operation (an onboarding
        # that already happened) left it queued, and it then ends as that operation did.
        return finish(
            operation.id,
            result.status,
            phase=result.phase,
            summary=result.summary,
            error=result.error if result.status is not OperationStatus.SUCCEEDED else None,
        )

    def dispatch(self, operation: OperationView, request: dict[str, Any]) -> OperationResult:
        """Run ``operation`` on the control plane under its own id: the control plane claims its ``queued``
        journal row, the events and the audit records carry the id, and a rerun (a retried job) replays the
        first run's result."""
        plane, slug, kind = self.plane, operation.tenant or "", operation.kind
        named: dict[str, Any] = {"actor": operation.actor, "operation_id": operation.id}
        if kind is OperationKind.ONBOARD:
            return plane.onboard(OnboardRequest.model_validate(request), **named)
        if kind is OperationKind.CHANGE_PLAN:
            return plane.change_plan(slug, str(request["plan"]), **named)
        if kind is OperationKind.MOVE:
            return plane.move(slug, cloud=str(request["cloud"]), region=request.get("region"), **named)
        if kind is OperationKind.SUSPEND:
            return plane.suspend(slug, reason=str(request.get("reason", "")), **named)
        if kind is OperationKind.RESUME:
            return plane.resume(slug, reason=str(request.get("reason", "")), **named)
        retention = RetentionPolicy(request.get("retention", RetentionPolicy.EXPORT.value))
        return plane.offboard(slug, retention=retention, **named)

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.sweep_interval_s)
            try:
                await sweep(self.app, self.store, self.settings)
                await asyncio.to_thread(self.plane.recover)
            except Exception:
                log.exception("sweep failed; retrying at the next interval")

    async def serve(self) -> None:
        """Run until SIGINT/SIGTERM (a graceful stop lets running operations finish)."""
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(self.settings.worker_concurrency + 4, "paybill-job"))
        async with self.app.open_async():
            await sweep(self.app, self.store, self.settings)
            sweeper = asyncio.create_task(self.sweep_forever())
            try:
                await self.app.run_worker_async(
                    queues=[QUEUE],
                    concurrency=self.settings.worker_concurrency,
                    name=self.name,
                    update_heartbeat_interval=self.settings.heartbeat_s,
                    stalled_worker_timeout=self.settings.stalled_after_s,
                )
            finally:
                sweeper.cancel()


def run(settings: ServiceSettings, *, name: str = "paybill-worker") -> None:
    """Build a worker and serve until stopped (the ``worker`` command)."""
    worker = Worker(settings, name=name)
    try:
        asyncio.run(worker.serve())
    finally:
        worker.close()
