"""Audit records of agent steps, and where they go.

A record says what happened without any value: digests of the SQL and of the parameters, a row count, a
decision. An allowed step's record is queued into the step's own pipelined transaction (after ``RESET ROLE``,
before ``COMMIT``, in the same round trip), so a committed step always has its durable record; its row count
comes from the transaction (the row guard's ``ROW_COUNT_SETTING``, see :mod:`agent_acl.guard`), since the
client learns it only after ``COMMIT``. Denials and failures are written in a transaction of their own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import psycopg
import sqlalchemy as sa
from psycopg import sql

from agent_acl.driver import pipelined, require_psycopg
from agent_acl.naming import AUDIT_TABLE, ROW_COUNT_SETTING


class Decision(enum.Enum):
    ALLOWED = "allowed"
    DENIED = "denied"
    FAILED = "failed"


@dataclass(frozen=True)
class AuditRecord:
    """What happened, without any value: digests of the SQL and of the parameters, a row count, a decision."""

    at: datetime
    agent: str
    tenant: str
    workflow: str
    step: str
    sql_hash: str
    params_digest: str
    row_count: int
    decision: Decision
    reason: str


class AuditSink(Protocol):
    """Where audit records go. An allowed step is offered twice, so a sink can pick durable or after the fact."""

    def queue(self, record: AuditRecord, connection: psycopg.Connection[Any]) -> None:
        """An allowed step, before its results: ``connection`` is its open transaction in psycopg pipeline mode
        with the role reset. A sink may queue statements on it (they commit or roll back with the step) but must
        not wait for their results. ``record.row_count`` is not known yet (0): read ``ROW_COUNT_SETTING``."""

    def committed(self, record: AuditRecord) -> None:
        """The same step once committed, with its row count (a sink that queued it has nothing left to do)."""

    def write(self, record: AuditRecord) -> None:
        """A denial or failure: nothing was committed; the sink records it on its own."""


@dataclass
class MemoryAuditSink:
    """Keeps records in a list (tests, examples): allowed steps once committed, and every denial."""

    records: list[AuditRecord] = field(default_factory=list)

    def queue(self, record: AuditRecord, connection: psycopg.Connection[Any]) -> None:
        """Nothing to queue: the record is kept once the step has committed."""

    def committed(self, record: AuditRecord) -> None:
        self.records.append(record)

    def write(self, record: AuditRecord) -> None:
        self.records.append(record)


AUDIT_COLUMNS = (
    "at",
    "agent",
    "tenant",
    "workflow",
    "step",
    "sql_hash",
    "params_digest",
    "row_count",
    "decision",
    "reason",
)


def audit_table(control_schema: str = "acl") -> sa.Table:
    """The ``acl.audit_log`` table as SQLAlchemy Core (created by the provisioning plans)."""
    metadata = sa.MetaData()
    return sa.Table(
        AUDIT_TABLE,
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True, server_default=sa.FetchedValue()),
        sa.Column("at", sa.DateTime(timezone=True)),
        *(sa.Column(name, sa.Text) for name in AUDIT_COLUMNS[1:7]),
        sa.Column("row_count", sa.Integer),
        sa.Column("decision", sa.Text),
        sa.Column("reason", sa.Text),
        schema=control_schema,
        implicit_returning=False,  # the app may INSERT into the log, never read it back
    )


def _insert(control_schema: str, row_count: sql.Composable) -> bytes:
    """``INSERT INTO acl.audit_log (...) VALUES (...)`` with ``row_count`` as given and placeholders elsewhere."""
    values = [row_count if name == "row_count" else sql.Placeholder() for name in AUDIT_COLUMNS]
    return (
        sql.SQL("INSERT INTO {table} ({columns}) VALUES ({values})")
        .format(
            table=sql.Identifier(control_schema, AUDIT_TABLE),
            columns=sql.SQL(", ").join(map(sql.Identifier, AUDIT_COLUMNS)),
            values=sql.SQL(", ").join(values),
        )
        .as_bytes()
    )


class TableAuditSink:
    """Writes into ``acl.audit_log`` of the tenant's database: in the step's own transaction when it is allowed
    (a committed step always has its record, with the row count its row guard recorded) and in a separate one
    for denials and failures.

    Both INSERT texts are rendered once, here; a call only binds the record's fields.
    """

    def __init__(self, engine: sa.Engine, control_schema: str = "acl") -> None:
        require_psycopg(engine, "TableAuditSink")
        self._engine = engine
        guarded_count = sql.SQL("pg_catalog.current_setting({setting})::integer").format(
            setting=sql.Literal(ROW_COUNT_SETTING)
        )
        self._insert_in_step = _insert(control_schema, guarded_count)
        self._insert = _insert(control_schema, sql.Placeholder())

    def queue(self, record: AuditRecord, connection: psycopg.Connection[Any]) -> None:
        connection.execute(self._insert_in_step, self._values(record, with_count=False))

    def committed(self, record: AuditRecord) -> None:
        """Already durable: the row committed with the step."""

    def write(self, record: AuditRecord) -> None:
        with pipelined(self._engine) as (conn, _):
            conn.execute(self._insert, self._values(record, with_count=True))

    @staticmethod
    def _values(record: AuditRecord, *, with_count: bool) -> tuple[Any, ...]:
        head = tuple(getattr(record, name) for name in AUDIT_COLUMNS[:7])
        count = (record.row_count,) if with_count else ()
        return (*head, *count, record.decision.value, record.reason)
