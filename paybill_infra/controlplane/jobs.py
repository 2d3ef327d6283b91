"""Durable operations: the journal, idempotency keys, cross-process locks, leases and stack batching.

- **Journal.** An operation row is written before any stack is touched and finished after; it records
  kind, tenant, actor, status, phase, timings, an engine summary and the error. A caller that queued the
  operation first (the product backend) has a ``queued`` row already: starting *claims* that row (same id,
  ``queued`` -> ``running``) instead of writing a second one.
- **Idempotency.** A key (within its scope, see :class:`OperationRow`) maps to one operation forever: the
  same key with the same request returns that operation's result (waiting while it runs); with a
  different request it is refused.
- **Locks** (``tenant:<slug>``, ``stack:<name>``) are rows in the registry, so they hold across processes
  and hosts. A holder proves it is alive by a heartbeat; a lock whose owner process is gone (same host) or
  whose heartbeat is older than the lease TTL is stale and may be taken over. One tenant therefore never
  has two operations at once, while different tenants proceed in parallel.
- **Batching.** Pool stacks are shared: when several tenants need the same stack updated, one ``up``
  (the "leader") applies everyone's registered intent; the others wait for it (group commit). A stack is
  thus never run twice at once by this process, and N pooled onboardings cost far fewer than N ``up``s.
- **Crash detection.** An operation is owned by ``host:pid:token``; :meth:`Journal.stale` finds running
  operations whose owner is gone, for the control plane to recover.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paybill_infra.controlplane.models import (
    TERMINAL_STATUSES,
    UNSUCCESSFUL_STATUSES,
    OperationKind,
    OperationResult,
    OperationStatus,
)
from paybill_infra.controlplane.registry import LockRow, OperationRow, Registry, utcnow
from paybill_infra.controlplane.stacks import pid_alive
from paybill_infra.errors import ControlPlaneError, IdempotencyConflictError, LockTimeoutError

T = TypeVar("T")
POLL_S = 0.1


def new_owner() -> str:
    """This control-plane instance's identity: host, process and a per-instance token."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def owner_gone(owner: str, heartbeat_age: timedelta, ttl: timedelta) -> bool:
    """Whether ``owner`` can no longer be working: its process is gone (same host), or it has not
    heartbeated within ``ttl`` (any host)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit() and not pid_alive(int(pid_text)):
        return True
    return heartbeat_age > ttl


def request_hash(kind: OperationKind, tenant: str, request: dict[str, Any]) -> str:
    canonical = json.dumps({"kind": kind.value, "tenant": tenant, "request": request}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def result_of(row: OperationRow, *, deduplicated: bool = False) -> OperationResult:
    result = OperationResult.model_validate(row)
    return result.model_copy(update={"deduplicated": True}) if deduplicated else result


class Locks:
    """Registry-backed locks with leases; see the module docstring."""

    def __init__(self, registry: Registry, owner: str, ttl: timedelta) -> None:
        self.registry = registry
        self.owner = owner
        self.ttl = ttl

    def try_acquire(self, name: str, holder: str) -> tuple[bool, str]:
        """Take ``name`` for ``holder`` if free, re-entrant for the same holder, or stale. Returns
        ``(acquired, current holder)``."""
        now = utcnow()
        with self.registry.transaction() as session:
            row = session.get(LockRow, name)
            if row is not None and row.holder != holder:
                if not owner_gone(row.owner, now - row.heartbeat_at, self.ttl):
                    return False, row.holder
                session.delete(row)
                session.flush()
                self.registry.audit(
                    session,
                    actor="control-plane",
                    action="lock.taken_over",
                    operation_id=holder,
                    detail={"lock": name, "stale_holder": row.holder, "stale_owner": row.owner},
                )
                row = None
            if row is None:
                session.add(LockRow(name=name, holder=holder, owner=self.owner, acquired_at=now, heartbeat_at=now))
            return True, holder

    def acquire(self, name: str, holder: str, timeout_s: float) -> None:
        # A poll for a condition with a deadline, not a retry of failures: tenacity would only rename the loop.
        started = time.monotonic()
        while True:
            try:
                acquired, current = self.try_acquire(name, holder)
            except IntegrityError:
                acquired, current = False, "?"
            if acquired:
                return
            waited = time.monotonic() - started
            if waited >= timeout_s:
                raise LockTimeoutError(name, current, waited)
            time.sleep(POLL_S)

    def release(self, name: str, holder: str) -> None:
        with self.registry.transaction() as session:
            session.execute(delete(LockRow).where(LockRow.name == name, LockRow.holder == holder))

    def release_all(self, holder: str) -> None:
        with self.registry.transaction() as session:
            session.execute(delete(LockRow).where(LockRow.holder == holder))

    @contextmanager
    def hold(self, name: str, holder: str, timeout_s: float) -> Iterator[None]:
        self.acquire(name, holder, timeout_s)
        try:
            yield
        finally:
            self.release(name, holder)

    def heartbeat(self) -> None:
        now = utcnow()
        with self.registry.transaction() as session:
            session.execute(update(LockRow).where(LockRow.owner == self.owner).values(heartbeat_at=now))
            session.execute(
                update(OperationRow)
                .where(OperationRow.owner == self.owner, OperationRow.status == OperationStatus.RUNNING.value)
                .values(heartbeat_at=now)
            )


class Journal:
    """The ``operations`` table: start, advance, finish, find by idempotency key, wait, and find stale."""

    def __init__(self, registry: Registry, owner: str, ttl: timedelta) -> None:
        self.registry = registry
        self.owner = owner
        self.ttl = ttl

    def by_key(self, key: str) -> OperationRow | None:
        """The operation of a control-plane caller's ``key`` (the product backend's keys have scopes of their own)."""
        with self.registry.transaction() as session:
            return session.scalars(
                select(OperationRow).where(OperationRow.idempotency_scope == "", OperationRow.idempotency_key == key)
            ).one_or_none()

    def get(self, operation_id: str) -> OperationRow | None:
        with self.registry.transaction() as session:
            return session.get(OperationRow, operation_id)

    def unsuccessful(self, tenant: str, kind: OperationKind, actor: str) -> int:
        """How many of ``actor``'s ``kind`` operations on ``tenant`` failed or were rolled back."""
        with self.registry.transaction() as session:
            count = session.scalar(
                select(func.count())
                .select_from(OperationRow)
                .where(
                    OperationRow.tenant == tenant,
                    OperationRow.kind == kind,
                    OperationRow.actor == actor,
                    OperationRow.status.in_(UNSUCCESSFUL_STATUSES),
                )
            )
            return int(count or 0)

    def latest(self, tenant: str, kinds: tuple[OperationKind, ...]) -> OperationResult | None:
        """The newest operation of one of ``kinds`` on ``tenant``, whatever its status."""
        with self.registry.transaction() as session:
            row = session.scalars(
                select(OperationRow)
                .where(OperationRow.tenant == tenant, OperationRow.kind.in_(kinds))
                .order_by(OperationRow.created_at.desc())
                .limit(1)
            ).first()
            return result_of(row) if row is not None else None

    def running_for(self, tenants: tuple[str, ...]) -> dict[str, str]:
        """The running operation of each of ``tenants`` that has one (the tenant lock allows at most one)."""
        if not tenants:
            return {}
        with self.registry.transaction() as session:
            rows = session.execute(
                select(OperationRow.tenant, OperationRow.id).where(
                    OperationRow.status == OperationStatus.RUNNING,
                    OperationRow.owner.is_not(None),
                    OperationRow.tenant.in_(tenants),
                )
            )
            return {tenant: operation for tenant, operation in rows if tenant is not None}

    def dedupe(
        self, digest: str, timeout_s: float, *, key: str | None = None, operation_id: str | None = None
    ) -> OperationResult | None:
        """The result of the operation that already owns ``key``, or that already has the caller's
        ``operation_id`` (a rerun of a request the caller named), waiting for it; ``None`` if there is none,
        or if it is only ``queued`` (the caller is about to claim it)."""
        row = self.by_key(key) if key is not None else None
        if row is None and operation_id is not None:
            row = self.get(operation_id)
        if row is None or row.status is OperationStatus.QUEUED:
            return None
        if row.request_hash != digest:
            raise IdempotencyConflictError(key or row.id, row.id)
        return self.wait(row.id, timeout_s, deduplicated=True)

    def start(
        self,
        session: Session,
        operation_id: str,
        kind: OperationKind,
        tenant: str,
        actor: str,
        request: dict[str, Any],
        key: str | None,
    ) -> None:
        """Record a running operation in the caller's transaction, the one that also records the intent
        it acts on: a crash can never leave intent without its journal entry, or the reverse.

        A ``queued`` row of the same id, kind and tenant is claimed (one more journal row would be a second
        record of one request). Otherwise a row is inserted; if another caller claimed or wrote that id
        first, the insert fails with :class:`~sqlalchemy.exc.IntegrityError` when the transaction commits,
        and the caller replays that operation instead."""
        now = utcnow()
        digest = request_hash(kind, tenant, request)
        claimed = session.execute(
            update(OperationRow)
            .where(
                OperationRow.id == operation_id,
                OperationRow.status == OperationStatus.QUEUED,
                OperationRow.kind == kind,
                OperationRow.tenant == tenant,
            )
            .values(
                status=OperationStatus.RUNNING,
                phase="started",
                request_hash=digest,
                attempts=case((OperationRow.attempts < 1, 1), else_=OperationRow.attempts),
                owner=self.owner,
                heartbeat_at=now,
                started_at=now,
                updated_at=now,
            )
            .returning(OperationRow.id)
            .execution_options(synchronize_session=False)
        ).first()
        if claimed is not None:
            return
        session.add(
            OperationRow(
                id=operation_id,
                kind=kind,
                tenant=tenant,
                actor=actor,
                status=OperationStatus.RUNNING,
                phase="started",
                idempotency_key=key,
                request_hash=digest,
                request=request,
                attempts=1,
                owner=self.owner,
                heartbeat_at=now,
                created_at=now,
                updated_at=now,
                started_at=now,
                summary={},
            )
        )

    def phase(self, operation_id: str, phase: str, **summary: Any) -> None:
        with self.registry.transaction() as session:
            row = session.get(OperationRow, operation_id)
            if row is not None:
                row.phase = phase
                row.summary = {**(row.summary or {}), **summary}

    def finish(
        self, operation_id: str, status: OperationStatus, *, error: str | None = None, **summary: Any
    ) -> OperationResult:
        with self.registry.transaction() as session:
            return self.close(session, operation_id, status, error=error, **summary)

    def close(
        self, session: Session, operation_id: str, status: OperationStatus, *, error: str | None = None, **summary: Any
    ) -> OperationResult:
        """Record the terminal ``status`` in the caller's transaction (the one that also audits it)."""
        row = session.get(OperationRow, operation_id)
        if row is None:
            raise ControlPlaneError(f"operation {operation_id} is not journaled")
        row.status = status
        row.finished_at = utcnow()
        row.error = error
        row.phase = "done" if status is OperationStatus.SUCCEEDED else row.phase
        row.summary = {**(row.summary or {}), **summary}
        return result_of(row)

    def wait(self, operation_id: str, timeout_s: float, *, deduplicated: bool = False) -> OperationResult:
        # A poll for a condition with a deadline, as in Locks.acquire (no failure to retry).
        started = time.monotonic()
        while True:
            row = self.get(operation_id)
            if row is None:
                raise ControlPlaneError(f"operation {operation_id} is not journaled")
            if OperationStatus(row.status) in TERMINAL_STATUSES:
                return result_of(row, deduplicated=deduplicated)
            if time.monotonic() - started >= timeout_s:
                raise LockTimeoutError(f"operation:{operation_id}", row.owner or "", time.monotonic() - started)
            time.sleep(POLL_S * 2)

    def stale(self) -> list[OperationRow]:
        """Running operations whose owner is gone (a crash, ``kill -9``, a lost host). A running row with no
        owner is the product backend's drift check, which its worker reruns itself."""
        now = utcnow()
        with self.registry.transaction() as session:
            rows = session.scalars(
                select(OperationRow)
                .where(OperationRow.status == OperationStatus.RUNNING.value)
                .order_by(OperationRow.created_at)
            ).all()
        return [
            r
            for r in rows
            if r.owner is not None and r.owner != self.owner and owner_gone(r.owner, now - r.heartbeat_at, self.ttl)
        ]

    def adopt(self, operation_id: str) -> OperationRow:
        """Take a stale operation over for recovery (one more attempt, owned by this instance)."""
        with self.registry.transaction() as session:
            row = session.get(OperationRow, operation_id)
            if row is None:
                raise ControlPlaneError(f"operation {operation_id} is not journaled")
            row.owner = self.owner
            row.attempts += 1
            row.heartbeat_at = utcnow()
            return row


@dataclass
class _Batch(Generic[T]):
    low: int
    high: int
    value: T | None
    error: BaseException | None
    uncollected: int


@dataclass
class Gathering:
    """One batch of requests held at a :class:`Gate`: how many, and how many arrived or finished."""

    size: int
    arrived: int = 0
    finished: int = 0
    released: bool = False


class Gate:
    """Holds the stack runs of a batch of requests until every request has recorded its intent.

    A worker thread :meth:`enlist` s in a :class:`Gathering`; on its way to its first stack run it
    :meth:`pass_` es the gate: counted as arrived, it waits (having taken its stack's :class:`Batcher` ticket
    already) until :meth:`gather` releases the batch, which happens once every request has arrived or
    finished. Each affected stack's first run then serves every ticket taken: one run per stack. Threads
    outside a gathering pass freely.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._local = threading.local()

    @contextmanager
    def gather(self, size: int) -> Iterator[Gathering]:
        """A gathering of ``size`` requests, released when the caller's block has started them all and
        each has arrived or finished (or when the block raises)."""
        gathering = Gathering(size)
        try:
            yield gathering
            with self._cond:
                self._cond.wait_for(lambda: gathering.arrived + gathering.finished >= gathering.size)
        finally:
            with self._cond:
                gathering.released = True
                self._cond.notify_all()

    @contextmanager
    def enlist(self, gathering: Gathering) -> Iterator[None]:
        """Run the calling thread's request as a member of ``gathering``."""
        self._local.gathering = gathering
        try:
            yield
        finally:
            self._local.gathering = None
            with self._cond:
                gathering.finished += 1
                self._cond.notify_all()

    def pass_(self) -> None:
        gathering: Gathering | None = getattr(self._local, "gathering", None)
        if gathering is None:
            return
        with self._cond:
            if gathering.released:
                return
            gathering.arrived += 1
            self._cond.notify_all()
            self._cond.wait_for(lambda: gathering.released)


class Batcher(Generic[T]):
    """Group commit for one stack: callers that arrive while a run is pending or in flight are served by
    the next run, which sees all of their (already committed) intent. Each caller gets the outcome of the
    first run that started after it took its :meth:`ticket`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._running = False
        self._batches: list[_Batch[T]] = []

    def ticket(self) -> int:
        """Join the next run (before waiting elsewhere, e.g. at a :class:`Gate`)."""
        with self._cond:
            self._requested += 1
            return self._requested

    def run(self, job: Callable[[], T], ticket: int | None = None) -> T:
        """The outcome of the run that serves ``ticket`` (a fresh one by default), running ``job`` if no run
        has started since the ticket was taken."""
        if ticket is None:
            ticket = self.ticket()
        with self._cond:
            while True:
                batch = next((b for b in self._batches if b.low < ticket <= b.high), None)
                if batch is not None:
                    return self._collect(batch)
                if not self._running:
                    self._running = True
                    low, high = self._done, self._requested
                    break
                self._cond.wait()
        value: T | None = None
        error: BaseException | None = None
        try:
            value = job()
        except BaseException as exc:  # handed to every caller of this batch
            error = exc
        with self._cond:
            batch = _Batch(low, high, value, error, high - low)
            self._batches.append(batch)
            self._done = high
            self._running = False
            self._cond.notify_all()
            return self._collect(batch)

    def _collect(self, batch: _Batch[T]) -> T:
        """Hand ``batch``'s outcome to one caller; forget the batch once every caller has it."""
        batch.uncollected -= 1
        if batch.uncollected == 0:
            self._batches.remove(batch)
        if batch.error is not None:
            raise batch.error
        return batch.value  # type: ignore[return-value]  # job() returned normally
