"""Approval tokens and rate windows shared by processes through PostgreSQL: two real processes race.

The same two processes also run the race against their own in-memory stores, as the control: there each of
them accepts every token and its own full rate budget, which is exactly what sharing must prevent.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from agent_acl import (
    AclPolicy,
    AgentSession,
    ApprovalAuthority,
    ApprovalRequest,
    BudgetExceeded,
    ConfigError,
    InvalidApproval,
    MemoryState,
    PostgresState,
    SharedState,
    TableAuditSink,
    TenantContext,
    create_state_tables,
)
from paybill_infra.local.server import AdminConnection
from tests.agent_acl.conftest import Deployment

pytestmark = pytest.mark.postgres

DATABASE = "acl_shared_state"
KEY = b"s" * 32
NOW = 1_000_000.0
TOKENS = 40
LIMIT = 25
ATTEMPTS = 40
RATE_KEY = "race:acme:support_bot"


def request(index: int) -> ApprovalRequest:
    return ApprovalRequest("support_bot", "acme", "void", "void_invoice", f"sha256:{index:064x}", "hash", ())


def race_pass(state: SharedState, tokens: list[str]) -> tuple[list[int], int]:
    """Consume every token once, then charge ``ATTEMPTS`` calls: (accepted token indexes, calls admitted)."""
    authority = ApprovalAuthority(KEY, clock=lambda: NOW, state=state)
    accepted = []
    for index, token in enumerate(tokens):
        try:
            authority.consume(token, request(index))
        except InvalidApproval:
            continue
        accepted.append(index)
    admitted = sum(state.charge_call(RATE_KEY, NOW, LIMIT, 60.0) for _ in range(ATTEMPTS))
    return accepted, admitted


def racer(url: str, tokens: list[str], barrier: Any, results: Any) -> None:
    """One process: the in-memory pass, then the shared pass; both start on the barrier with the other process."""
    engine = sa.create_engine(url, pool_size=1)
    try:
        barrier.wait(60)
        memory = race_pass(MemoryState(), tokens)
        barrier.wait(60)
        shared = race_pass(PostgresState(engine), tokens)
        results.put((memory, shared))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def state_url(pg_admin: AdminConnection) -> Iterator[str]:
    """A database holding the shared-state tables, set up twice (the setup is idempotent)."""
    with psycopg.connect(pg_admin.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {d} WITH (FORCE)").format(d=sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("CREATE DATABASE {d}").format(d=sql.Identifier(DATABASE)))
    url = pg_admin.url(DATABASE).replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    create_state_tables(engine)
    create_state_tables(engine)
    engine.dispose()
    yield url
    with psycopg.connect(pg_admin.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {d} WITH (FORCE)").format(d=sql.Identifier(DATABASE)))


def test_two_processes_never_both_accept_a_token_and_share_the_rate(state_url: str) -> None:
    issuer = ApprovalAuthority(KEY, clock=lambda: NOW)
    tokens = [issuer.issue(request(i), "ops@acme") for i in range(TOKENS)]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    processes = [ctx.Process(target=racer, args=(state_url, tokens, barrier, results)) for _ in range(2)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(30)
        assert process.exitcode == 0
    (memory_a, shared_a), (memory_b, shared_b) = outcomes
    # control: separate memories each accept everything, and each admits its own full budget
    assert memory_a == memory_b == (list(range(TOKENS)), LIMIT)
    # shared: every token accepted exactly once over both processes, and one budget over both
    assert sorted(shared_a[0] + shared_b[0]) == list(range(TOKENS))
    assert shared_a[1] + shared_b[1] == LIMIT
    engine = sa.create_engine(state_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT token_id FROM agent_acl.used_approval_tokens")).scalars().all()
    finally:
        engine.dispose()
    assert len(stored) == TOKENS and all(len(t) == 64 for t in stored)
    assert not any(part in repr(stored) for token in tokens for part in token.split(".")[1:])


def test_sessions_share_the_rate_window_and_it_slides(deployment: Deployment, state_url: str) -> None:
    """Two sessions of one agent and tenant (two backend processes, say) draw on one window of 20 calls."""
    dep = deployment
    engine = sa.create_engine(state_url)
    now = [NOW]  # the rate key names the policy, which differs per isolation model
    state = PostgresState(engine)
    try:
        sessions = [
            AgentSession(
                dep.engine("acme"),
                TenantContext(tenant="acme", isolation=dep.isolation),
                "support_bot",
                policy=dep.policy,
                clock=lambda: now[0],
                state=state,
            )
            for _ in range(2)
        ]
        for call in range(20):
            sessions[call % 2].run("support", "lookup", {"name": "alice-acme"})
        for session in sessions:
            with pytest.raises(BudgetExceeded) as info:
                session.run("support", "lookup", {"name": "alice-acme"})
            assert info.value.reason == "rate_limit"
        now[0] += 60.5
        assert sessions[1].run("support", "lookup", {"name": "alice-acme"}).row_count == 1
    finally:
        engine.dispose()


def test_used_tokens_are_pruned_only_after_the_grace(state_url: str) -> None:
    engine = sa.create_engine(state_url)
    state = PostgresState(engine)
    try:
        assert state.claim_token("old", expires_at=NOW - 1000, now=NOW - 2000)
        assert state.claim_token("recent", expires_at=NOW - 10, now=NOW - 20)
        assert not state.claim_token("recent", expires_at=NOW - 10, now=NOW - 20)
        assert state.claim_token("fresh", expires_at=NOW + 900, now=NOW)  # prunes what expired > 300 s ago
        with engine.connect() as conn:
            kept = conn.execute(
                sa.text("SELECT token_id FROM agent_acl.used_approval_tokens WHERE token_id IN ('old', 'recent')")
            )
            assert kept.scalars().all() == ["recent"]
    finally:
        engine.dispose()


def test_engines_must_use_psycopg(policy: AclPolicy) -> None:
    engine = sa.create_engine("sqlite://")
    for build in (
        lambda: PostgresState(engine),
        lambda: TableAuditSink(engine),
        lambda: AgentSession(engine, TenantContext(tenant="acme", isolation="pooled"), "support_bot", policy=policy),
    ):
        with pytest.raises(ConfigError, match="psycopg driver"):
            build()
