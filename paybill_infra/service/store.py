"""The service's own tables, beside the control plane's registry in the same PostgreSQL database (created
and changed by Alembic migrations: :mod:`paybill_infra.service.migrations`), and its access to the one
operation journal.

- ``operations`` (the control plane's journal, :class:`~paybill_infra.controlplane.registry.OperationRow`):
  every accepted request is a row of it from the moment the API answers 202 (``queued``) to its terminal
  status, under the id the API returned. It is written *before* the job is deferred, so a request the API
  accepted is never lost: a sweep re-defers any ``queued`` row without a job (an API that died between
  the two writes). A worker's control plane claims that row when it runs the operation.
- ``svc_events``: progress events written by workers, read by the API's SSE stream (how events cross
  processes and machines); every write, and every terminal status, also sends ``NOTIFY`` on
  :data:`EVENTS_CHANNEL` with the operation id.
- ``svc_webhook_events``: billing event ids already applied (replays are rejected).
- ``svc_api_keys``: API keys, stored as SHA-256 digests only.

Only PostgreSQL: the journal is the registry's, whose SQLite flavour the service does not use.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    ForeignKey,
    Identity,
    String,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from paybill_infra.controlplane.models import TERMINAL_STATUSES, OperationKind, OperationStatus, ProgressEvent
from paybill_infra.controlplane.registry import OperationRow, utcnow
from paybill_infra.service.models import ApiKeyView, OperationView, Role, Scope

EVENT_PAGE = 500
EVENTS_CHANNEL = "paybill_service_events"
SUMMARY_KEYS = ("stack", "changes", "migration", "from", "to", "rows", "retention", "export", "teardown", "recovered")
"""What of a control-plane summary the API shows: counts, stacks and paths, never outputs."""


class Base(DeclarativeBase):
    pass


class EventRow(Base):
    __tablename__ = "svc_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    operation_id: Mapped[str] = mapped_column(ForeignKey(OperationRow.id, ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)


class WebhookEventRow(Base):
    __tablename__ = "svc_webhook_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKeyRow(Base):
    __tablename__ = "svc_api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    tenant: Mapped[str | None] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


def view(row: OperationRow, *, deduplicated: bool = False) -> OperationView:
    """The API's view of a journal row: a drift check's summary is its report; any other operation's
    summary is cut to :data:`SUMMARY_KEYS`."""
    found = OperationView.model_validate(row)
    summary = row.summary or {}
    if row.kind is not OperationKind.DRIFT:
        summary = {k: summary[k] for k in SUMMARY_KEYS if k in summary}
    return found.model_copy(update={"summary": summary, "deduplicated": deduplicated})


class Store:
    """Typed access to the service tables and the journal (SQLAlchemy 2, one short transaction per call)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, url: str) -> Store:
        return cls(create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    # --- operations ------------------------------------------------------------------------------------

    def create(
        self, kind: OperationKind, tenant: str | None, actor: str, request: dict[str, Any], idempotency_key: str | None
    ) -> tuple[OperationView, bool]:
        """Journal an accepted request as ``queued``; with an idempotency key already used by ``actor`` (the
        key's scope), return the first operation instead (``created`` is then ``False``)."""
        now = utcnow()
        row = OperationRow(
            id=str(uuid.uuid4()),
            kind=kind,
            tenant=tenant,
            actor=actor,
            status=OperationStatus.QUEUED,
            phase="queued",
            idempotency_scope=actor,
            idempotency_key=idempotency_key,
            request=request,
            attempts=0,
            heartbeat_at=now,
            created_at=now,
            updated_at=now,
            summary={},
        )
        try:
            with self.session() as session:
                session.add(row)
        except IntegrityError:
            if idempotency_key is None:
                raise
            with self.session() as session:
                first = session.scalars(
                    select(OperationRow).where(
                        OperationRow.idempotency_scope == actor, OperationRow.idempotency_key == idempotency_key
                    )
                ).one()
                return view(first, deduplicated=True), False
        return view(row), True

    def get(self, operation_id: str) -> OperationView | None:
        with self.session() as session:
            row = session.get(OperationRow, operation_id)
            return view(row) if row is not None else None

    def request_of(self, operation_id: str) -> dict[str, Any]:
        with self.session() as session:
            row = session.get(OperationRow, operation_id)
            return dict(row.request) if row is not None else {}

    def recent(
        self, tenant: str | None = None, limit: int = 100, kind: OperationKind | None = None
    ) -> list[OperationView]:
        with self.session() as session:
            query = select(OperationRow).order_by(OperationRow.created_at.desc(), OperationRow.id).limit(limit)
            if tenant is not None:
                query = query.where(OperationRow.tenant == tenant)
            if kind is not None:
                query = query.where(OperationRow.kind == kind)
            return [view(r) for r in session.scalars(query)]

    def pending(self, tenant: str) -> bool:
        """Whether an operation of ``tenant`` is queued or running."""
        with self.session() as session:
            found = session.scalars(
                select(OperationRow.id)
                .where(
                    OperationRow.tenant == tenant,
                    OperationRow.status.in_((OperationStatus.QUEUED, OperationStatus.RUNNING)),
                )
                .limit(1)
            ).first()
            return found is not None

    def counts(self) -> dict[str, int]:
        with self.session() as session:
            rows = session.execute(select(OperationRow.status, func.count()).group_by(OperationRow.status))
            return {OperationStatus(status).value: int(n) for status, n in rows}

    def set_job(self, operation_id: str, job_id: int) -> None:
        with self.session() as session:
            row = session.get(OperationRow, operation_id)
            if row is not None:
                row.job_id = job_id

    def start(self, operation_id: str, worker: str) -> OperationView | None:
        """Record that ``worker`` runs the operation (one more attempt); ``None`` if it is already terminal.

        The status is the control plane's to change: it claims the ``queued`` row when it runs the
        operation. A drift check, which the control plane does not journal, is marked running here."""
        with self.session() as session:
            row = session.get(OperationRow, operation_id, with_for_update=True)
            if row is None or row.status in TERMINAL_STATUSES:
                return None
            row.worker, row.attempts = worker, row.attempts + 1
            if row.kind is OperationKind.DRIFT:
                row.status, row.phase, row.started_at = OperationStatus.RUNNING, "running", utcnow()
            return view(row)

    def finish(
        self,
        operation_id: str,
        status: OperationStatus,
        *,
        phase: str,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> OperationView:
        """Record the terminal status, once: a status already terminal (the control plane's, or a retried
        job's first outcome) is kept. Either way the operation's streams are woken to read it."""
        with self.session() as session:
            row = session.get(OperationRow, operation_id, with_for_update=True)
            if row is None:
                raise LookupError(operation_id)
            if row.status not in TERMINAL_STATUSES:
                row.status, row.phase, row.error = status, phase, error
                row.summary, row.finished_at = summary or {}, utcnow()
            session.execute(select(func.pg_notify(EVENTS_CHANNEL, operation_id)))
            return view(row)

    def orphans(self, older_than: timedelta) -> list[OperationView]:
        """Queued operations that never got a job (the API died between recording and deferring)."""
        with self.session() as session:
            rows = session.scalars(
                select(OperationRow).where(
                    OperationRow.status == OperationStatus.QUEUED,
                    OperationRow.job_id.is_(None),
                    OperationRow.created_at < utcnow() - older_than,
                )
            )
            return [view(r) for r in rows]

    # --- events ------------------------------------------------------------------------------------------

    def record_event(self, event: ProgressEvent) -> None:
        """A control-plane event sink: keep ``event`` for the operation it names, if that operation is one of
        the service's (the control plane's own runs, a recovery or a convergence, are not streamed)."""
        operation_id = event.operation_id
        if operation_id is None:
            return
        with self.session() as session:
            if session.get(OperationRow, operation_id) is None:
                return
            session.add(EventRow(operation_id=operation_id, payload=event.model_dump(mode="json")))
            session.execute(select(func.pg_notify(EVENTS_CHANNEL, operation_id)))

    def events_after(self, operation_id: str, after: int) -> list[tuple[int, ProgressEvent]]:
        with self.session() as session:
            rows = session.execute(
                select(EventRow.id, EventRow.payload)
                .where(EventRow.operation_id == operation_id, EventRow.id > after)
                .order_by(EventRow.id)
                .limit(EVENT_PAGE)
            )
            return [(int(i), ProgressEvent.model_validate(p)) for i, p in rows]

    # --- webhooks and keys --------------------------------------------------------------------------------

    def claim_webhook_event(self, event_id: str) -> bool:
        """Record ``event_id``; ``False`` if it was already applied (a replay)."""
        try:
            with self.session() as session:
                session.add(WebhookEventRow(event_id=event_id, received_at=utcnow()))
        except IntegrityError:
            return False
        return True

    def release_webhook_event(self, event_id: str) -> None:
        """Forget an event whose application failed, so the provider's redelivery can apply it."""
        with self.session() as session:
            row = session.get(WebhookEventRow, event_id)
            if row is not None:
                session.delete(row)

    def add_key(
        self, key_id: str, digest: str, subject: str, role: Role, tenant: str | None, scopes: frozenset[Scope]
    ) -> None:
        with self.session() as session:
            session.add(
                ApiKeyRow(
                    id=key_id,
                    digest=digest,
                    subject=subject,
                    role=role.value,
                    tenant=tenant,
                    scopes=sorted(s.value for s in scopes),
                    created_at=utcnow(),
                )
            )

    def key(self, key_id: str) -> ApiKeyRow | None:
        with self.session() as session:
            row = session.get(ApiKeyRow, key_id)
            return row if row is not None and row.revoked_at is None else None

    def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; ``False`` when no key has that id."""
        with self.session() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                return False
            row.revoked_at = row.revoked_at or utcnow()
            return True

    def keys(self) -> list[ApiKeyView]:
        """Every key (revoked ones too), oldest first; never a secret or a digest."""
        with self.session() as session:
            return [
                ApiKeyView.model_validate(row)
                for row in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at))
            ]
