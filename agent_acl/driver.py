"""The psycopg side of a step: SQL text compiled once, and pipelined transactions on a pooled connection.

A call must cost one round trip: ``[BEGIN, role switch, statement, RESET ROLE, audit INSERT, COMMIT]``
before one Sync (the row limit is enforced by the statement itself, :mod:`agent_acl.guard`). That needs
psycopg's pipeline mode, where ``execute`` only queues and results arrive at
``Pipeline.sync()``. SQLAlchemy's ``Connection`` reads a cursor's description right after ``execute``, which a
queued statement does not have yet, so each compiled step is rendered once to the driver's SQL text here and
its values go through the same bind processors SQLAlchemy would apply. The connection still comes from the
caller's SQLAlchemy engine (its pool, URL and credentials).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from psycopg import pq
from sqlalchemy.sql.compiler import SQLCompiler

from agent_acl.errors import ConfigError

BEGIN = b"BEGIN"
COMMIT = b"COMMIT"
RESET_ROLE = b"RESET ROLE"


@dataclass(frozen=True)
class DriverStatement:
    """A SQLAlchemy statement rendered once for the engine's psycopg dialect (``%(name)s`` placeholders)."""

    sql: bytes
    compiled: SQLCompiler
    processors: Mapping[str, Callable[[Any], Any]]

    @classmethod
    def compile(cls, statement: sa.Executable, dialect: sa.Dialect) -> DriverStatement:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))  # type: ignore[attr-defined]
        processors: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        return cls(compiled.string.encode(), compiled, processors)

    def params(self, binds: Mapping[str, Any]) -> dict[str, Any]:
        """The driver's parameters: ``binds`` plus the statement's constants, each through its type's processor."""
        values = dict(self.compiled.construct_params(dict(binds)))
        for name, processor in self.processors.items():
            values[name] = processor(values[name])
        return values


def require_psycopg(engine: sa.Engine, component: str) -> None:
    """Refuse an engine whose driver is not psycopg 3 (pipelining needs it): a typed error at construction."""
    if engine.dialect.driver != "psycopg":
        raise ConfigError(
            component, f"the engine must use the psycopg driver (postgresql+psycopg://), not '{engine.dialect.driver}'"
        )


@contextmanager
def pipelined(engine: sa.Engine) -> Iterator[tuple[psycopg.Connection[Any], psycopg.Pipeline]]:
    """A pooled connection in autocommit + pipeline mode: the caller sends its own ``BEGIN``/``COMMIT``.

    Leaving the block sends the pipeline's final Sync and collects every result: queue the last batch and let
    the exit be its round trip (an explicit ``sync()`` before it would cost one more).

    Autocommit keeps psycopg from starting the transaction itself, which would cost a round trip of its own
    (psycopg syncs after an implicit ``BEGIN``). On any error an open transaction is rolled back; the connection
    goes back to the pool as it came (idle, autocommit as before), or is discarded if that is not possible.
    """
    raw = engine.raw_connection()
    try:
        conn = cast(psycopg.Connection[Any], raw.driver_connection)
        previous = conn.autocommit
        conn.autocommit = True
        try:
            with conn.pipeline() as pipeline:
                yield conn, pipeline
        except BaseException:
            if not conn.closed and conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
                conn.rollback()
            raise
        finally:
            if conn.closed or conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
                raw.invalidate()
            else:
                conn.autocommit = previous
    finally:
        raw.close()
