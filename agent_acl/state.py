"""State that agent_acl must share between processes: used approval tokens and per-agent call-rate windows.

One interface, :class:`SharedState`, two stores:

* :class:`MemoryState`, the default: one process (a session keeps its own unless given one to share).
* :class:`PostgresState`: any number of processes or hosts on one PostgreSQL database. A token is claimed by
  inserting its id under a primary key (``ON CONFLICT DO NOTHING``), so of two racing claims exactly one
  inserts. A rate window is one row per agent key holding the call times of the last window; the charge is one
  upsert whose ``DO UPDATE ... WHERE`` runs on the locked, latest version of that row, so racing charges queue
  on the row lock and the limit holds. Each operation is one autocommit statement: one round trip.

The tables are created by :func:`create_state_tables`, explicitly and idempotently, by whoever owns the schema
(a deploy step, not the request path). Nothing secret is stored: a token is kept as the SHA-256 of its nonce,
never the token text, and rate keys are names (policy, tenant, agent).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Protocol

import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects import postgresql

from agent_acl.driver import pipelined, require_psycopg

DEFAULT_SCHEMA = "agent_acl"
TOKENS_TABLE = "used_approval_tokens"
RATES_TABLE = "agent_rate_windows"
MAX_REMEMBERED = 100_000
PRUNE_GRACE_S = 300.0
"""Used tokens are forgotten this long after they expire, so a process whose clock lags by less cannot be
fooled into accepting a replay of a token another process already pruned."""


class SharedState(Protocol):
    """Single-use tokens and sliding call-rate windows, possibly shared between processes."""

    def claim_token(self, token_id: str, expires_at: float, now: float) -> bool:
        """Mark ``token_id`` used; False if it already was (by this or any process sharing the store)."""
        ...

    def charge_call(self, key: str, now: float, limit: int, window_s: float) -> bool:
        """Count one call of ``key`` at ``now``; False, and nothing counted, if ``limit`` calls already fell in
        the last ``window_s`` seconds (a call at ``t`` counts while ``now - t < window_s``)."""
        ...


class MemoryState:
    """The single-process store (thread-safe)."""

    def __init__(self) -> None:
        self._used: dict[str, float] = {}
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def claim_token(self, token_id: str, expires_at: float, now: float) -> bool:
        with self._lock:
            if token_id in self._used:
                return False
            if len(self._used) >= MAX_REMEMBERED:
                self._used = {t: exp for t, exp in self._used.items() if exp >= now - PRUNE_GRACE_S}
            self._used[token_id] = expires_at
            return True

    def charge_call(self, key: str, now: float, limit: int, window_s: float) -> bool:
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and now - calls[0] >= window_s:
                calls.popleft()
            if len(calls) >= limit:
                return False
            calls.append(now)
            return True


def state_metadata(schema: str = DEFAULT_SCHEMA) -> sa.MetaData:
    """The two tables of :class:`PostgresState` in ``schema``."""
    metadata = sa.MetaData(schema=schema)
    sa.Table(
        TOKENS_TABLE,
        metadata,
        sa.Column("token_id", sa.Text, primary_key=True, comment="SHA-256 of the token's nonce"),
        sa.Column("expires_at", sa.Double, nullable=False, index=True, comment="epoch seconds"),
    )
    sa.Table(
        RATES_TABLE,
        metadata,
        sa.Column("key", sa.Text, primary_key=True, comment="policy:tenant:agent"),
        sa.Column("calls", postgresql.ARRAY(sa.Double), nullable=False, comment="call times in the window"),
    )
    return metadata


def create_state_tables(engine: sa.Engine, schema: str = DEFAULT_SCHEMA) -> None:
    """Create the schema and tables of :class:`PostgresState` if missing (idempotent, safe to run concurrently:
    a transaction-scoped advisory lock serialises concurrent setups)."""
    with engine.begin() as conn:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"agent_acl.state:{schema}"))))
        conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))
        state_metadata(schema).create_all(conn, checkfirst=True)


class PostgresState:
    """:class:`SharedState` in PostgreSQL, for several processes (tables from :func:`create_state_tables`).

    Times are the callers' epoch seconds: processes sharing a store must share a clock (NTP-synchronised
    hosts are enough for a 60 s window).
    """

    def __init__(self, engine: sa.Engine, schema: str = DEFAULT_SCHEMA) -> None:
        require_psycopg(engine, "PostgresState")
        self._engine = engine
        tokens = sql.Identifier(schema, TOKENS_TABLE)
        rates = sql.Identifier(schema, RATES_TABLE)
        self._claim = (
            sql.SQL(
                "WITH pruned AS (DELETE FROM {tokens} WHERE expires_at < %(horizon)s) "
                "INSERT INTO {tokens} (token_id, expires_at) VALUES (%(token)s, %(expires)s) "
                "ON CONFLICT (token_id) DO NOTHING RETURNING 1"
            )
            .format(tokens=tokens)
            .as_bytes()
        )
        self._charge = (
            sql.SQL(
                "INSERT INTO {rates} AS r (key, calls) VALUES (%(key)s, ARRAY[%(now)s::float8]) "
                "ON CONFLICT (key) DO UPDATE SET calls = "
                "ARRAY(SELECT c FROM unnest(r.calls) AS c WHERE c > %(since)s ORDER BY c) || %(now)s::float8 "
                "WHERE (SELECT count(*) FROM unnest(r.calls) AS c WHERE c > %(since)s) < %(limit)s "
                "RETURNING 1"
            )
            .format(rates=rates)
            .as_bytes()
        )

    def __repr__(self) -> str:
        return f"PostgresState(url={self._engine.url!r})"

    def _one(self, query: bytes, params: dict[str, Any]) -> bool:
        with pipelined(self._engine) as (conn, _):
            cursor = conn.execute(query, params)
        return cursor.fetchone() is not None  # the pipeline's exit fetched it: one round trip

    def claim_token(self, token_id: str, expires_at: float, now: float) -> bool:
        return self._one(self._claim, {"token": token_id, "expires": expires_at, "horizon": now - PRUNE_GRACE_S})

    def charge_call(self, key: str, now: float, limit: int, window_s: float) -> bool:
        return self._one(self._charge, {"key": key, "now": now, "since": now - window_s, "limit": limit})
