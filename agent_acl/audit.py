"""Audit records of agent steps, and where they go.

A record says what happened without any value: digests of the SQL and of the parameters, a row count, a
decision. An allowed step's record is queued into the step's own pipelined transaction (after ``RESET ROLE``,
before ``COMMIT``), so a committed step always has its durable record and costs no extra round trip; denials
and failures are written in a transaction of their own.
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
from agent_acl.naming import AUDIT_TABLE


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
    """Where audit records go.

    ``connection`` is the allowed step's open transaction, in psycopg pipeline mode with the role reset: a sink
    may queue statements on it (they commit or roll back with the step) but must not wait for their results.
    It is None for denials and failures, which the sink records on its own.
    """

    def write(self, record: AuditRecord, connection: psycopg.Connection[Any] | None) -> None: ...


@dataclass
class MemoryAuditSink:
    """Keeps records in a list (tests, examples)."""

    records: list[AuditRecord] = field(default_factory=list)

    def write(self, record: AuditRecord, connection: psycopg.Connection[Any] | None) -> None:
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


class TableAuditSink:
    """Writes into ``acl.audit_log`` of the tenant's database: in the step's own transaction when it is allowed
    (a committed step always has its record) and in a separate one for denials and failures.

    The INSERT text is rendered once, here; a call only binds the record's fields.
    """

    def __init__(self, engine: sa.Engine, control_schema: str = "acl") -> None:
        require_psycopg(engine, "TableAuditSink")
        self._engine = engine
        self._insert = (
            sql.SQL("INSERT INTO {table} ({columns}) VALUES ({values})")
            .format(
                table=sql.Identifier(control_schema, AUDIT_TABLE),
                columns=sql.SQL(", ").join(map(sql.Identifier, AUDIT_COLUMNS)),
                values=sql.SQL(", ").join(sql.Placeholder() * len(AUDIT_COLUMNS)),
            )
            .as_bytes()
        )

    def write(self, record: AuditRecord, connection: psycopg.Connection[Any] | None) -> None:
        values = (*(getattr(record, name) for name in AUDIT_COLUMNS[:8]), record.decision.value, record.reason)
        if connection is not None:
            connection.execute(self._insert, values)
            return
        with pipelined(self._engine) as (conn, _):
            conn.execute(self._insert, values)
