"""The control plane's registry, journal and audit log (SQLAlchemy 2, declarative ``Mapped`` models).

The registry is the source of truth for *intent*: which tenants exist, on which plan, in which stack or
pool, suspended or not. Stacks are derived from it (the inline programs read a snapshot of it), so a crash
never loses intent and recovery can always converge the stacks back to it.

Tables: ``tenants``, ``subscriptions``, ``pools``, ``pool_shards``, ``stacks``, ``operations`` (the one journal, also of
the product backend's queued requests), ``locks``
(cross-process tenant and stack locks), ``schema_versions`` (the recorded versions of the tenant data
schema; each tenant and pool carries the version its tables are at), ``audit_log`` (append-only: the
ORM refuses updates and deletes, and the migration adds database triggers that do the same for anyone with
SQL access), and ``rollouts``/``rollout_units``/``rollout_events`` (:mod:`paybill_infra.rollouts`).

The default database is a SQLite file in WAL mode; every transaction of a writer starts with
``BEGIN IMMEDIATE`` so concurrent writers queue on the busy timeout instead of failing on a lock upgrade,
while a reader's (:class:`~paybill_infra.controlplane.reader.RegistryReader`) starts deferred and reads a
snapshot without waiting for any writer. PostgreSQL is used as is (``postgresql+psycopg://...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Engine,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from paybill_infra.controlplane.models import OperationKind, OperationStatus, StackKind, TenantState
from paybill_infra.errors import ControlPlaneError, UnknownTenantError
from paybill_infra.rollouts.models import RolloutKind, RolloutStatus, UnitStatus
from paybill_infra.schema.enums import Cloud, Isolation, SubscriptionStatus

SQLITE_BUSY_TIMEOUT_S = 60


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ControlPlaneError("naive datetime given to the registry; use timezone-aware UTC values")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


def enum_column(enum: type[E]) -> Enum:
    """A closed set stored as its values in a plain string column (no native type, no CHECK), so adding a
    member never needs a migration and rows read back as enum members."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    pass


class TenantRow(Base):
    """A tenant and its placement. ``target_*`` hold the destination of a running topology migration."""

    __tablename__ = "tenants"

    slug: Mapped[str] = mapped_column(String(40), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(128))
    plan: Mapped[str] = mapped_column(String(32))
    isolation: Mapped[Isolation] = mapped_column(enum_column(Isolation))
    cloud: Mapped[Cloud] = mapped_column(enum_column(Cloud), default=Cloud.LOCAL)
    region: Mapped[str] = mapped_column(String(40), default="local")
    state: Mapped[TenantState] = mapped_column(enum_column(TenantState), index=True)
    stack: Mapped[str | None] = mapped_column(String(128))
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"), index=True)
    role: Mapped[str | None] = mapped_column(String(63))
    generation: Mapped[int] = mapped_column(Integer, default=0)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    seats_used: Mapped[int] = mapped_column(Integer, default=0)
    storage_gb_used: Mapped[int] = mapped_column(Integer, default=0)
    target_plan: Mapped[str | None] = mapped_column(String(32))
    target_isolation: Mapped[Isolation | None] = mapped_column(enum_column(Isolation))
    target_stack: Mapped[str | None] = mapped_column(String(128))
    target_pool_id: Mapped[int | None] = mapped_column(ForeignKey("pools.id"), index=True)
    target_role: Mapped[str | None] = mapped_column(String(63))
    target_cloud: Mapped[Cloud | None] = mapped_column(enum_column(Cloud))
    target_region: Mapped[str | None] = mapped_column(String(40))
    schema_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """The data schema version of the tenant's tables (a pooled tenant's is its pool's)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class SubscriptionRow(Base):
    __tablename__ = "subscriptions"

    tenant: Mapped[str] = mapped_column(String(40), primary_key=True)
    plan: Mapped[str] = mapped_column(String(32))
    status: Mapped[SubscriptionStatus] = mapped_column(enum_column(SubscriptionStatus))
    external_id: Mapped[str] = mapped_column(String(128), default="")
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    past_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PoolRow(Base):
    """A pool: up to ``capacity`` pooled tenants of ``plan`` in one database, which its first ``stack`` holds
    (with its first members; further members live in its shards, :class:`PoolShardRow`)."""

    __tablename__ = "pools"
    __table_args__ = (
        UniqueConstraint("plan", "cloud", "region", "ordinal", name="pools_place_ordinal_key"),
        UniqueConstraint("cloud", "region", "database", name="pools_place_database_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan: Mapped[str] = mapped_column(String(32))
    cloud: Mapped[Cloud] = mapped_column(enum_column(Cloud), default=Cloud.LOCAL)
    region: Mapped[str] = mapped_column(String(40), default="local")
    ordinal: Mapped[int] = mapped_column(Integer)
    stack: Mapped[str] = mapped_column(String(128), unique=True)
    database: Mapped[str] = mapped_column(String(63))
    owner: Mapped[str] = mapped_column(String(63))
    capacity: Mapped[int] = mapped_column(Integer)
    schema_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """The data schema version of the pool's shared tables."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PoolShardRow(Base):
    """A further stack of a pool, beside the pool's first stack (``PoolRow.stack``).

    The first stack holds the pool's database and its first ``pool_shard_size`` members; each shard holds up to
    that many more members over the same database, so no engine run of one tenant handles more than a shard's
    worth of members, however large the pool (:mod:`paybill_infra.controlplane.reconcile`). A shard is recorded
    when a placement opens it and removed when its stack is destroyed."""

    __tablename__ = "pool_shards"
    __table_args__ = (UniqueConstraint("pool_id", "ordinal", name="pool_shards_pool_ordinal_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("pools.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    """1 for the first shard (the pool's first stack is shard 0)."""
    stack: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SchemaVersionRow(Base):
    """A recorded version of the tenant data schema file: numbers only grow, a content hash appears once."""

    __tablename__ = "schema_versions"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(500))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StackRow(Base):
    """A stack the control plane created, with its last engine summary and (non-secret) outputs."""

    __tablename__ = "stacks"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[StackKind] = mapped_column(enum_column(StackKind))
    cloud: Mapped[Cloud] = mapped_column(enum_column(Cloud), default=Cloud.LOCAL)
    region: Mapped[str] = mapped_column(String(40), default="local")
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_operation: Mapped[str | None] = mapped_column(String(16))
    last_changes: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OperationRow(Base):
    """The journal: one row per operation, written before any stack is touched and finished after.

    A request the product backend accepted is a row from the moment it answers 202: ``queued``, with no
    ``owner`` or ``request_hash`` yet, until the control plane claims it (same id, ``queued`` -> ``running``).
    An idempotency key is unique within its ``idempotency_scope``: the backend's requesting principal, or
    ``''`` for the control plane's own callers. ``worker`` and ``job_id`` are the backend's (the worker
    that ran the latest attempt, the queue's job); ``tenant`` is empty only for a fleet-wide drift check."""

    __tablename__ = "operations"
    __table_args__ = (UniqueConstraint("idempotency_scope", "idempotency_key", name="operations_idempotency"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[OperationKind] = mapped_column(enum_column(OperationKind))
    tenant: Mapped[str] = mapped_column(String(40), nullable=True, index=True)
    """Empty (``NULL``) only on the backend's fleet-wide drift check, a row the control plane never claims,
    finishes or recovers: its own code reads the tenant of rows it owns, so it is typed as always there."""
    actor: Mapped[str] = mapped_column(String(200))
    status: Mapped[OperationStatus] = mapped_column(enum_column(OperationStatus), index=True)
    phase: Mapped[str] = mapped_column(String(32), default="queued")
    idempotency_scope: Mapped[str] = mapped_column(String(200), default="", server_default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(200))
    worker: Mapped[str | None] = mapped_column(String(200))
    job_id: Mapped[int | None] = mapped_column(BigInteger)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class LockRow(Base):
    """A held lock (``tenant:<slug>`` or ``stack:<name>``): who holds it and when it last proved alive."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditRow(Base):
    """Append-only: who did what to which tenant, and with which outcome. Never a secret value."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    tenant: Mapped[str | None] = mapped_column(String(40), index=True)
    operation_id: Mapped[str | None] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RolloutRow(Base):
    """A rollout (:mod:`paybill_infra.rollouts`): its request, where it is, and who runs it. Its units are
    :class:`RolloutUnitRow` s, its steps :class:`RolloutEventRow` s."""

    __tablename__ = "rollouts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[RolloutKind] = mapped_column(enum_column(RolloutKind))
    status: Mapped[RolloutStatus] = mapped_column(enum_column(RolloutStatus), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    owner: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    current_wave: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)


class RolloutUnitRow(Base):
    """One unit of a rollout, in its wave: the per-unit progress that makes a rollout resumable."""

    __tablename__ = "rollout_units"

    rollout_id: Mapped[str] = mapped_column(ForeignKey("rollouts.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    group: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(200))
    wave: Mapped[int] = mapped_column(Integer)
    wave_label: Mapped[str] = mapped_column(String(16))
    status: Mapped[UnitStatus] = mapped_column(enum_column(UnitStatus))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    applications: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)


class RolloutEventRow(Base):
    """Append-only steps of a rollout, in order of ``id`` (what ``GET /rollouts/{id}/events`` streams)."""

    __tablename__ = "rollout_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rollout_id: Mapped[str] = mapped_column(ForeignKey("rollouts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    wave: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)


@event.listens_for(AuditRow, "before_update")
@event.listens_for(AuditRow, "before_delete")
def _audit_is_append_only(_mapper: Any, _connection: Any, target: AuditRow) -> None:
    raise ControlPlaneError(f"the audit log is append-only (entry {target.id})")


def tenant_row(session: Session, slug: str, *, include_offboarded: bool = False) -> TenantRow:
    """The tenant's row, or :class:`~paybill_infra.errors.UnknownTenantError` (also for an offboarded one,
    unless ``include_offboarded``)."""
    row = session.get(TenantRow, slug)
    if row is None or (not include_offboarded and row.state is TenantState.OFFBOARDED):
        raise UnknownTenantError(slug)
    return row


def default_url(root: Path) -> str:
    return f"sqlite:///{(root / '.paybill' / 'control.db').resolve()}"


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and ``BEGIN IMMEDIATE`` transactions, or, for a
    ``read_only`` engine, deferred ones that never queue behind a writer."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}, pool_size=16
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event own the transaction
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


class Registry:
    """Sessions over the registry database; callers use :meth:`transaction` (one explicit transaction)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    def audit(
        self,
        session: Session,
        *,
        actor: str,
        action: str,
        tenant: str | None = None,
        operation_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        session.add(AuditRow(actor=actor, action=action, tenant=tenant, operation_id=operation_id, detail=detail or {}))
