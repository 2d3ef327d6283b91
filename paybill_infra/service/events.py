"""Progress events across processes: workers write them to ``svc_events``, the API streams them as SSE.

A worker's control plane runs each operation under the service's own operation id, so every
:class:`~paybill_infra.controlplane.ProgressEvent` already names the operation it belongs to, including the
events of a batched engine run that carried several operations' changes (the control plane attributes
each resource's events to the operation of the tenant that asked for it). The worker's sink is
:meth:`Store.record_event`: nothing to map.

The API reads the table in order of its identity column, so a client can resume with ``Last-Event-ID``
and every API replica serves the same stream. The stream ends with an ``end`` event carrying the
terminal operation. Each write also sends ``NOTIFY`` (same transaction, so it arrives after the commit);
one :class:`Wakeups` connection per API process ``LISTEN`` s and wakes the streams of that operation.
A stream also re-reads every ``event_poll_s``, so a lost notification (a dropped connection) only
delays it. Framing and keep-alive comments are sse-starlette's (:func:`sse_response`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql
from sse_starlette import EventSourceResponse, ServerSentEvent

from paybill_infra.controlplane.models import TERMINAL_STATUSES
from paybill_infra.service.store import EVENT_PAGE, EVENTS_CHANNEL, Store

KEEPALIVE_S = 15.0
RECONNECT_S = 1.0
log = logging.getLogger("paybill.service")


class Wakeups:
    """One ``LISTEN`` connection per API process, fanning notifications out to the streams waiting on
    each operation (it reconnects on its own after a failure)."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="paybill-wakeups")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(EVENTS_CHANNEL)))
                    async for note in conn.notifies():
                        for waiter in self._waiters.get(note.payload, ()):
                            waiter.set()
            except psycopg.Error as err:
                log.warning("event notifications interrupted (%s); streams poll until reconnected", type(err).__name__)
                await asyncio.sleep(RECONNECT_S)

    @asynccontextmanager
    async def watch(self, operation_id: str) -> AsyncIterator[asyncio.Event]:
        """An event set whenever ``operation_id`` has news (clear it before each read)."""
        waiter = asyncio.Event()
        self._waiters.setdefault(operation_id, set()).add(waiter)
        try:
            yield waiter
        finally:
            waiters = self._waiters.get(operation_id, set())
            waiters.discard(waiter)
            if not waiters:
                self._waiters.pop(operation_id, None)


def sse_response(
    store: Store, wakeups: Wakeups, operation_id: str, *, after: int, poll_s: float, follow: bool
) -> EventSourceResponse:
    """The ``text/event-stream`` response of :func:`sse_stream`, with a keep-alive comment every
    :data:`KEEPALIVE_S` seconds so proxies keep a quiet stream open."""
    stream = sse_stream(store, wakeups, operation_id, after=after, poll_s=poll_s, follow=follow)
    return EventSourceResponse(stream, ping=KEEPALIVE_S, headers={"Cache-Control": "no-store"})


async def sse_stream(
    store: Store, wakeups: Wakeups, operation_id: str, *, after: int, poll_s: float, follow: bool
) -> AsyncIterator[ServerSentEvent]:
    """``progress`` events after ``after``, then one ``end`` event.

    The operation's status is read *before* its events, so once it is terminal every event it produced
    (all written before the status) is in the same read: nothing is missed between the two queries. The
    wake-up is cleared before reading, so a notification that arrives during the read is not lost."""
    async with wakeups.watch(operation_id) as woken:
        last = after
        while True:
            woken.clear()
            operation = await asyncio.to_thread(store.get, operation_id)
            batch = await asyncio.to_thread(store.events_after, operation_id, last)
            for event_id, event in batch:
                last = event_id
                yield ServerSentEvent(event.model_dump_json(), event="progress", id=str(event_id))
            if len(batch) == EVENT_PAGE:
                continue
            if operation is None or operation.status in TERMINAL_STATUSES or not follow:
                yield ServerSentEvent(operation.model_dump_json() if operation is not None else "null", event="end")
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout=poll_s)
