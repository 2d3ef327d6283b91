"""Progress events across processes: workers write them to ``svc_events``, the API streams them as SSE.

A worker's control plane publishes :class:`~paybill_infra.controlplane.ProgressEvent` s tagged with *its*
operation id. :class:`EventRecorder` maps them to the service operation that caused them: the job handler
sets :data:`current_operation` before calling the control plane (the context is copied into the worker
thread), so the first milestone links the two ids; engine events, which arrive on the engine's own
threads, are then found through that link (or the one stored in ``svc_operations``, after a recovery).

An event belongs to the operation whose engine run produced it, unless it is about another tenant's
resource. One engine run of a pool stack may carry several tenants' changes (the control plane batches
concurrent requests for a stack into one run, under the first operation's id): a *change* (create,
update, delete…) to another tenant's resource was that tenant's request, so it goes to that tenant's
running operation; the run's ``same`` steps for other members are news for no operation and are dropped.
A deleted member is no longer on the stack, so the engine sink cannot name its tenant; the recorder finds
it by the resource name among the tenants with a running operation (resources are named ``<slug>`` and
``<slug>-<part>``).

The API reads the table in order of its identity column, so a client can resume with ``Last-Event-ID``
and every API replica serves the same stream. The stream ends with an ``end`` event carrying the
terminal operation. Each write also sends ``NOTIFY`` (same transaction, so it arrives after the commit);
one :class:`Wakeups` connection per API process ``LISTEN`` s and wakes the streams of that operation.
A stream also re-reads every ``event_poll_s``, so a lost notification (a dropped connection) only
delays it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar

import psycopg
from psycopg import sql

from paybill_infra.controlplane import ProgressEvent, ProgressPhase
from paybill_infra.service.models import TERMINAL
from paybill_infra.service.store import EVENT_PAGE, EVENTS_CHANNEL, Store

current_operation: ContextVar[str | None] = ContextVar("paybill_service_operation", default=None)
KEEPALIVE_S = 15.0
RECONNECT_S = 1.0
log = logging.getLogger("paybill.service")


class EventRecorder:
    """A control-plane event sink that persists events for the service operation they belong to."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._links: dict[str, str] = {}
        self._tenants: dict[str, str] = {}
        self._guard = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        cp_id = event.operation_id
        if cp_id is None:
            return
        operation = current_operation.get()
        with self._guard:
            if operation is not None:
                self._links[cp_id] = operation
            operation = self._links.get(cp_id)
        if operation is None:
            operation = self.store.by_control_plane(cp_id)
            if operation is None:
                return
            with self._guard:
                self._links[cp_id] = operation
        if event.phase is ProgressPhase.STARTED:
            self.store.link(operation, cp_id)
        owner = self._owner(operation, event)
        if owner is not None:
            self.store.add_event(owner, event)

    def _owner(self, operation: str, event: ProgressEvent) -> str | None:
        """``operation`` (whose run produced ``event``), the running operation of the tenant whose requested
        change a batched run carried out, or ``None`` for another tenant's unchanged resource."""
        if event.resource_name is None:
            return operation
        unchanged = event.op in (None, "same")
        tenant = event.tenant
        if tenant is None and not unchanged:
            tenant = _member(event.resource_name, self.store.running_tenants())
        if tenant is None or tenant == self._tenant(operation):
            return operation
        if unchanged:
            return None
        return self.store.running_for(tenant) or operation

    def _tenant(self, operation: str) -> str:
        with self._guard:
            known = self._tenants.get(operation)
        if known is None:
            view = self.store.get(operation)
            known = (view.tenant if view else None) or ""
            with self._guard:
                self._tenants[operation] = known
        return known

    def forget(self, operation_id: str) -> None:
        """Drop the links of a finished operation (bounded memory in a long-lived worker)."""
        with self._guard:
            for cp_id in [k for k, v in self._links.items() if v == operation_id]:
                del self._links[cp_id]
            self._tenants.pop(operation_id, None)


def _member(resource: str, tenants: Iterable[str]) -> str | None:
    """The tenant a resource named ``<slug>`` or ``<slug>-<part>`` belongs to (the longest slug wins)."""
    matches = [t for t in tenants if resource == t or resource.startswith(f"{t}-")]
    return max(matches, key=len) if matches else None


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


async def sse_stream(
    store: Store, wakeups: Wakeups, operation_id: str, *, after: int, poll_s: float, follow: bool
) -> AsyncIterator[str]:
    """``text/event-stream`` frames: ``progress`` events after ``after``, then one ``end`` event.

    The operation's status is read *before* its events, so once it is terminal every event it produced
    (all written before the status) is in the same read: nothing is missed between the two queries. The
    wake-up is cleared before reading, so a notification that arrives during the read is not lost."""
    async with wakeups.watch(operation_id) as woken:
        async for frame in _frames(store, woken, operation_id, after=after, poll_s=poll_s, follow=follow):
            yield frame


async def _frames(
    store: Store, woken: asyncio.Event, operation_id: str, *, after: int, poll_s: float, follow: bool
) -> AsyncIterator[str]:
    last, quiet_since = after, time.monotonic()
    while True:
        woken.clear()
        operation = await asyncio.to_thread(store.get, operation_id)
        batch = await asyncio.to_thread(store.events_after, operation_id, last)
        for event_id, event in batch:
            last = event_id
            yield f"id: {event_id}\nevent: progress\ndata: {event.model_dump_json()}\n\n"
        if len(batch) == EVENT_PAGE:
            continue
        if operation is None or operation.status in TERMINAL or not follow:
            data = operation.model_dump_json() if operation is not None else "null"
            yield f"event: end\ndata: {data}\n\n"
            return
        if batch:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(woken.wait(), timeout=poll_s)
