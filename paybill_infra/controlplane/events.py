"""Progress events: engine events and operation milestones as one typed stream.

The engine reports per-resource steps (``resource_pre_event``, ``res_outputs_event``, ``res_op_failed_event``)
over gRPC on the thread running the stack; :func:`translate` turns each into a :class:`ProgressEvent`
carrying the operation, tenant and stack it belongs to. Debug diagnostics and the root stack resource are
dropped, so consumers see resources, not engine chatter.

Consumers either pass a callback (``ControlPlane(on_event=...)``) or iterate a :class:`Subscription`
(``with plane.events.subscribe() as events: for e in events: ...``), which is bounded: a consumer that
stops reading loses the oldest events, it never blocks provisioning.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from pulumi import automation as auto

from paybill_infra.controlplane.models import ProgressEvent, ProgressPhase
from paybill_infra.controlplane.registry import utcnow

Sink = Callable[[ProgressEvent], None]
SUBSCRIPTION_BUFFER = 10_000
_SKIPPED_TYPES = ("pulumi:pulumi:Stack", "pulumi:providers:")


class Subscription:
    """An iterator over events published after it was opened; ends when closed."""

    def __init__(self, bus: EventBus, buffer: int = SUBSCRIPTION_BUFFER) -> None:
        self._bus = bus
        self._queue: queue.Queue[ProgressEvent | None] = queue.Queue(buffer)
        self._closed = threading.Event()

    def put(self, event: ProgressEvent) -> None:
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    continue

    def get(self, timeout: float | None = None) -> ProgressEvent | None:
        """The next event, or ``None`` after ``timeout`` seconds or once closed."""
        if self._closed.is_set() and self._queue.empty():
            return None
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def __iter__(self) -> Iterator[ProgressEvent]:
        while True:
            event = self._queue.get()
            if event is None:
                return
            yield event

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._bus.unsubscribe(self)
            self.put_end()

    def put_end(self) -> None:
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            self._queue.get_nowait()
            self._queue.put_nowait(None)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class EventBus:
    """Fans events out to callbacks and subscriptions; a failing callback never fails an operation."""

    def __init__(self) -> None:
        self._sinks: list[Sink] = []
        self._subscriptions: list[Subscription] = []
        self._lock = threading.Lock()

    def add_sink(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.append(sink)

    @contextmanager
    def watching(self, sink: Sink | None, tenant: str) -> Iterator[None]:
        """Hand ``sink`` the events about ``tenant`` while the block runs (a caller's ``on_event``)."""
        if sink is None:
            yield
            return

        def only_tenant(event: ProgressEvent) -> None:
            if event.tenant == tenant:
                sink(event)

        self.add_sink(only_tenant)
        try:
            yield
        finally:
            with self._lock:
                self._sinks.remove(only_tenant)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self)
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def publish(self, event: ProgressEvent) -> None:
        with self._lock:
            sinks, subscriptions = list(self._sinks), list(self._subscriptions)
        for sink in sinks:
            try:
                sink(event)
            except Exception:  # noqa: S112 - observers must not break provisioning
                continue
        for subscription in subscriptions:
            subscription.put(event)

    def milestone(
        self, phase: ProgressPhase, message: str, *, operation_id: str | None, tenant: str | None, stack: str | None
    ) -> None:
        self.publish(
            ProgressEvent(
                at=utcnow(), operation_id=operation_id, tenant=tenant, stack=stack, phase=phase, message=message
            )
        )

    def engine_sink(
        self, *, operation_id: str | None, stack: str, members: tuple[str, ...], waiting: dict[str, str]
    ) -> Callable[[auto.EngineEvent], None]:
        """A callback for ``Stack.up(on_event=...)`` that publishes translated events, each attributed to
        the tenant its resource belongs to (resources are named ``<slug>`` and ``<slug>-<part>``) and to the
        operation that asked for it.

        One run may serve several operations (``waiting``: slug -> operation id, see
        :meth:`~paybill_infra.controlplane.reconcile.Reconciler.waiting`): an event about a waiting tenant's
        resource is that tenant's operation's, even when another operation leads the run (a tenant being
        removed from the stack is found among them, as it is no longer a member). Events about no tenant
        are the leading ``operation_id``'s; in a run that serves operations, an unchanged resource of a
        member none of them asked about is news for no operation (``operation_id`` ``None``)."""
        by_length = sorted({*members, *waiting}, key=len, reverse=True)

        def sink(event: auto.EngineEvent) -> None:
            translated = translate(event, operation_id=operation_id, tenant=None, stack=stack)
            if translated is None:
                return
            name = translated.resource_name or ""
            owner = next((m for m in by_length if name == m or name.startswith(f"{m}-")), None)
            operation = operation_id
            if owner is not None and owner in waiting:
                operation = waiting[owner]
            elif owner is not None and waiting and translated.op in (None, "same"):
                operation = None
            self.publish(translated.model_copy(update={"tenant": owner, "operation_id": operation}))

        return sink


def translate(
    event: auto.EngineEvent, *, operation_id: str | None, tenant: str | None, stack: str
) -> ProgressEvent | None:
    """One engine event as a :class:`ProgressEvent`, or ``None`` for events nobody needs to see."""
    base = {"at": utcnow(), "operation_id": operation_id, "tenant": tenant, "stack": stack}
    if event.resource_pre_event is not None:
        meta = event.resource_pre_event.metadata
        phase, message = ProgressPhase.STEP, f"{meta.op.value} {_name(meta.urn)}"
    elif event.res_outputs_event is not None:
        meta = event.res_outputs_event.metadata
        phase, message = ProgressPhase.RESOURCE, f"{meta.op.value} done {_name(meta.urn)}"
    elif event.res_op_failed_event is not None:
        meta = event.res_op_failed_event.metadata
        phase, message = ProgressPhase.FAILED, f"{meta.op.value} failed: {_name(meta.urn)}"
    else:
        return None
    if meta.type.startswith(_SKIPPED_TYPES):
        return None
    return ProgressEvent(
        **base, phase=phase, message=message, resource_type=meta.type, resource_name=_name(meta.urn), op=meta.op.value
    )


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]
