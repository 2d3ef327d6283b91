"""Rollouts over HTTP: ``POST /rollouts``, ``GET /rollouts``, ``GET /rollouts/{id}`` and its SSE events.

``POST /rollouts`` plans the rollout at once (its units assigned to waves, recorded *queued*; a bad wave
spec or budget is a 422 problem naming the field) and defers a job that a worker runs
(:func:`register_task`): the rollout's own journal, not the service's operations, records its progress,
so ``GET /rollouts/{id}`` reads the registry. A worker that dies mid-rollout is replaced: its job is
retried and the control plane's recovery runs the rollout on from its per-unit rows.

``GET /rollouts/{id}/events`` streams the rollout's journaled steps as Server-Sent Events (``rollout``
events with ``id:`` for ``Last-Event-ID``), then one ``end`` event with the rollout once it is terminal.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import procrastinate
from fastapi import APIRouter, Header, Query, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from paybill_infra.controlplane import ControlPlane
from paybill_infra.rollouts.journal import RolloutJournal
from paybill_infra.rollouts.models import TERMINAL, RolloutRequest, RolloutView
from paybill_infra.service.auth import require, require_platform
from paybill_infra.service.errors import ServiceError
from paybill_infra.service.events import KEEPALIVE_S
from paybill_infra.service.models import Scope
from paybill_infra.service.queue import QUEUE
from paybill_infra.service.routes import PROBLEMS, Caller, IdempotencyKey, JsonBody, Runtime
from paybill_infra.service.runtime import ApiRuntime

ROLLOUT_TASK = "paybill.run_rollout"
SERVER_SIDE = ("schema_file", "to_version")
"""Request fields HTTP callers may not set: a schema rollout over HTTP rolls out the service's configured
schema file (a path in a body would let a caller make the server read any file)."""
router = APIRouter(prefix="/rollouts", tags=["rollouts"], responses=PROBLEMS)


def _visible(caller: Caller, action: str, scope: Scope) -> None:
    require(caller, scope)
    require_platform(caller, action)


@router.post("", status_code=202, dependencies=[JsonBody], summary="Plan a rollout in waves and queue it")
async def start(
    body: RolloutRequest, rt: Runtime, caller: Caller, response: Response, key: IdempotencyKey = None
) -> RolloutView:
    """Schema (``kind: schema``) or stack (``kind: infra``) rollout: ``waves`` like
    ``canary,10%,50%,100%``, ``error_budget`` unit failures tolerated, ``workers`` units at once."""
    _visible(caller, "start rollouts", Scope.OPS_WRITE)
    for field in SERVER_SIDE:
        if getattr(body, field) is not None:
            raise ServiceError(422, "Unprocessable Content", f"{field} is the server's (its configured schema)", field)
    view = await asyncio.to_thread(rt.planner.plan_rollout, body, actor=caller.actor, idempotency_key=key)
    if not view.deduplicated:
        await defer(rt, view)
    response.headers["Location"] = f"/rollouts/{view.id}"
    return view


async def defer(rt: ApiRuntime, view: RolloutView) -> None:
    """Queue the job that runs ``view`` (one rollout of a kind at a time, across workers)."""
    deferrer = rt.queue.configure_task(name=ROLLOUT_TASK, queue=QUEUE, lock=f"paybill:rollout:{view.kind.value}")
    await deferrer.defer_async(rollout_id=view.id)


@router.get("", summary="Recent rollouts")
async def recent(rt: Runtime, caller: Caller, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[RolloutView]:
    _visible(caller, "read rollouts", Scope.OPS_READ)
    return await asyncio.to_thread(rt.reader.rollouts.recent, limit)


@router.get("/{rollout_id}", summary="A rollout: its waves, units and their status")
async def show(rollout_id: uuid.UUID, rt: Runtime, caller: Caller) -> RolloutView:
    _visible(caller, "read rollouts", Scope.OPS_READ)
    return await asyncio.to_thread(rt.reader.rollouts.view, str(rollout_id))


@router.get(
    "/{rollout_id}/events",
    summary="A rollout's steps as Server-Sent Events",
    response_class=EventSourceResponse,
    responses={200: {"description": "`rollout` events, then one `end` event", "content": {"text/event-stream": {}}}},
)
async def events(
    rollout_id: uuid.UUID,
    rt: Runtime,
    caller: Caller,
    follow: bool = True,
    last_event_id: Annotated[int, Header(alias="Last-Event-ID", ge=0, le=2**62)] = 0,
) -> EventSourceResponse:
    _visible(caller, "read rollouts", Scope.OPS_READ)
    await asyncio.to_thread(rt.reader.rollouts.view, str(rollout_id))
    stream = frames(
        rt.reader.rollouts, str(rollout_id), after=last_event_id, poll_s=rt.settings.event_poll_s, follow=follow
    )
    return EventSourceResponse(stream, ping=KEEPALIVE_S, headers={"Cache-Control": "no-store"})


async def frames(
    journal: RolloutJournal, rollout_id: str, *, after: int, poll_s: float, follow: bool
) -> AsyncIterator[ServerSentEvent]:
    """The rollout's events after ``after``, then ``end``; the status is read before the events, so once it
    is terminal every event is in the same read."""
    last = after
    while True:
        view = await asyncio.to_thread(journal.view, rollout_id)
        batch = await asyncio.to_thread(journal.events, rollout_id, last)
        for event in batch:
            last = event.id
            yield ServerSentEvent(event.model_dump_json(), event="rollout", id=str(event.id))
        if batch:
            continue
        if view.status in TERMINAL or not follow:
            yield ServerSentEvent(view.model_dump_json(), event="end")
            return
        await asyncio.sleep(poll_s)


def register_task(app: procrastinate.App, plane: ControlPlane) -> None:
    """Let a worker run queued rollouts (retried like operations; a re-run continues the rollout)."""

    @app.task(name=ROLLOUT_TASK, queue=QUEUE, retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=2))
    async def run_rollout(rollout_id: str) -> None:
        await asyncio.to_thread(plane.run_rollout, rollout_id)
