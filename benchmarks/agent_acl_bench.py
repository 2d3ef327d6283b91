"""agent_acl benchmark: AgentSession overhead, and the cost of pooled row-level security on 1M rows.

Reproduce (a few minutes on 2 cores; starts its own embedded PostgreSQL unless PAYBILL_PG_URL is set):

    .venv/bin/python benchmarks/agent_acl_bench.py            # writes the agent_acl section of BENCHMARKS.md
    .venv/bin/python benchmarks/agent_acl_bench.py --rows 100000 --no-write   # a quick look

Not a timed test: numbers depend on the machine, so every comparison runs its sides interleaved in one loop
(same load on both), with p50/p99, client and server CPU seconds per side and the load average. Two measurements:

1. ``AgentSession.run`` (durable audit row; in-memory audit; shared PostgreSQL rate state) against SQLAlchemy
   Core running the same compiled statement (the support ``lookup`` step) under the agent role, and as the
   superuser. Target: the durable session <= 1.10x Core under the agent role.
2. Pooled RLS on ``data.invoices`` with ``--rows`` rows over ``--tenants`` tenants and the ``(tenant_id, id)``
   index: an aggregate (``--rls-calls``) and a page query (``--page-calls``) as the tenant's agent role (RLS +
   the explicit predicate, what agents run) against the superuser (RLS bypassed). Target: <= 1.10x. The page
   query also runs on a copy of the table under the policy as it was before issue 13 (a function call), so
   the difference the policy's form makes shows in the same loop.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_acl import (  # noqa: E402
    AclPolicy,
    AgentSession,
    Isolation,
    MemoryAuditSink,
    Names,
    PostgresState,
    TableAuditSink,
    TenantContext,
    create_state_tables,
    enable_login,
    load_policy,
    migration,
)
from agent_acl.audit import AuditRecord, Decision, audit_table  # noqa: E402
from benchmarks.report import percentile, write_section  # noqa: E402
from paybill_infra.local.server import AdminConnection, EmbeddedServer, ServerSpec, admin_connection  # noqa: E402

POLICY = ROOT / "examples" / "agent-workflow" / "billing_policy.yaml"
BEGIN, END = "<!-- agent_acl:begin -->", "<!-- agent_acl:end -->"
APP_PASSWORD = "bench-app-password"  # noqa: S105 - a throwaway role on a throwaway server
AUDIT_ROW = {
    "agent": "support_bot",
    "tenant": "acme",
    "workflow": "support",
    "step": "lookup",
    "sql_hash": "0" * 64,
    "params_digest": "sha256:" + "0" * 64,
    "decision": "allowed",
    "reason": "ok",
}


def backend_cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of the server processes serving ``pids`` (the embedded server is local)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / tick


@dataclass
class Side:
    """One side of an interleaved comparison: the call, the server backends it uses, and what it measured."""

    name: str
    call: Callable[[], object]
    backends: list[int]
    samples: list[float] = field(default_factory=list)
    client_cpu_s: float = 0.0
    server_cpu_s: float = 0.0

    def p50(self) -> float:
        return statistics.median(self.samples)

    def p99(self) -> float:
        return percentile(self.samples, 0.99)


def interleave(sides: list[Side], n: int, warmup: int = 20) -> tuple[float, float]:
    """Run every side once per iteration, rotating which goes first; returns the 1-minute load average before and
    after. Wall time per call in ms; client CPU per side from ``process_time``; server CPU from /proc."""
    for _ in range(warmup):
        for side in sides:
            side.call()
    load_before = os.getloadavg()[0]
    server_start = {side.name: backend_cpu_s(side.backends) for side in sides}
    for i in range(n):
        for k in range(len(sides)):
            side = sides[(i + k) % len(sides)]
            cpu, start = time.process_time(), time.perf_counter()
            side.call()
            side.samples.append((time.perf_counter() - start) * 1000)
            side.client_cpu_s += time.process_time() - cpu
    for side in sides:
        side.server_cpu_s = backend_cpu_s(side.backends) - server_start[side.name]
    return load_before, os.getloadavg()[0]


def apply(admin: AdminConnection, policy_name: str, tenants: list[str]) -> tuple[AclPolicy, Names]:
    base = load_policy(POLICY)
    agent = base.agent("support_bot")
    fast = agent.model_copy(
        update={"budgets": agent.budgets.model_copy(update={"calls_per_minute": 100_000, "rows_per_session": 10**7})}
    )
    policy = base.model_copy(update={"name": policy_name, "agents": (base.agent("collector"), fast)})
    names = Names(policy_name)
    with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {d} WITH (FORCE)").format(d=sql.Identifier(policy_name)))
        for row in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (policy_name + "__%",)
        ).fetchall():
            conn.execute(sql.SQL("DROP ROLE {r}").format(r=sql.Identifier(row[0])))
    for batch in migration(policy, Isolation.POOLED, tenants):
        with psycopg.connect(admin.conninfo(batch.database), autocommit=batch.autocommit) as conn:
            for statement in batch.statements:
                conn.execute(statement)
    with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
        for statement in enable_login(names.app, APP_PASSWORD):
            conn.execute(statement)
    return policy, names


def load_rows(admin: AdminConnection, database: str, rows: int, tenants: int) -> float:
    start = time.perf_counter()
    with psycopg.connect(admin.conninfo(database), autocommit=True) as conn:
        conn.execute("INSERT INTO data.currencies VALUES ('USD', 'US dollar')")
        conn.execute(
            "INSERT INTO data.customers (id, tenant_id, name) "
            "SELECT g, CASE WHEN g = 1 THEN 'acme' ELSE 'tenant' || g END, 'customer-' || g "
            "FROM generate_series(1, %s) g",
            (tenants,),
        )
        conn.execute(
            "INSERT INTO data.invoices (id, tenant_id, customer_id, amount_cents, status) "
            "SELECT g, CASE WHEN c = 1 THEN 'acme' ELSE 'tenant' || c END, c, (g * 37) %% 100000, "
            "CASE WHEN g %% 3 = 0 THEN 'paid' ELSE 'open' END "
            "FROM (SELECT g, 1 + (g %% %s) AS c FROM generate_series(1, %s) g) s",
            (tenants, rows),
        )
        conn.execute("SELECT setval(pg_get_serial_sequence('data.invoices', 'id'), %s)", (rows + 1,))
        conn.execute("VACUUM ANALYZE data.invoices")
        conn.execute("VACUUM ANALYZE data.customers")
    return time.perf_counter() - start


def single_engine(url: str) -> tuple[sa.Engine, int]:
    """An engine with exactly one pooled connection, and the server process behind it."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=1, max_overflow=0)
    with engine.connect() as conn:
        pid = int(conn.execute(sa.select(sa.func.pg_backend_pid())).scalar_one())
    return engine, pid


def bench_session(admin: AdminConnection, policy: AclPolicy, names: Names, n: int) -> tuple[list[Side], float, float]:
    """AgentSession (durable audit row / in-memory audit / shared PostgreSQL rate state) against Core under the
    agent role and bare Core as the superuser, all interleaved in one loop."""
    app_url = admin.url(names.shared_database(), user=names.app, password=APP_PASSWORD)
    owner_url = admin.url(names.shared_database())
    context = TenantContext(tenant="acme", isolation=Isolation.POOLED)
    engines: list[sa.Engine] = []

    def session(**kw: Any) -> tuple[AgentSession, int]:
        engine, pid = single_engine(app_url)
        engines.append(engine)
        if "audit" not in kw:
            kw["audit"] = TableAuditSink(engine)
        return AgentSession(engine, context, "support_bot", policy=policy, **kw), pid

    durable, durable_pid = session()
    memory, memory_pid = session(audit=MemoryAuditSink())
    state_engine, state_pid = single_engine(owner_url)
    engines.append(state_engine)
    create_state_tables(state_engine)
    ticks = itertools.count(time.time())  # one call per (virtual) second: the window holds the last 60 calls
    shared, shared_pid = session(state=PostgresState(state_engine), clock=lambda: float(next(ticks)))
    core, core_pid = single_engine(app_url)
    audited, audited_pid = single_engine(app_url)
    raw, raw_pid = single_engine(owner_url)
    floor, floor_pid = single_engine(app_url)
    engines += [core, audited, raw, floor]
    floor_sink = TableAuditSink(floor)
    audit_insert = sa.insert(audit_table())
    compiled = durable.compiled("support", "lookup")
    binds = {"p_name": "customer-1", "acl_tenant": "acme"}
    params = {"name": "customer-1"}

    def via_core_as_agent() -> None:
        with core.connect() as conn, conn.begin():
            conn.execute(sa.select(sa.func.set_config("role", durable.role, True)))
            conn.execute(compiled.statement, binds).mappings().fetchall()

    def via_core_audited() -> None:
        with audited.connect() as conn, conn.begin():
            conn.execute(sa.select(sa.func.set_config("role", durable.role, True)))
            count = len(conn.execute(compiled.statement, binds).mappings().fetchall())
            conn.exec_driver_sql("RESET ROLE")
            conn.execute(audit_insert, {**AUDIT_ROW, "at": datetime.now(UTC), "row_count": count})

    def durable_floor() -> None:
        row = {**AUDIT_ROW, "at": datetime.now(UTC), "row_count": 1, "decision": Decision.ALLOWED}
        floor_sink.write(AuditRecord(**row))

    def via_core_raw() -> None:
        with raw.connect() as conn, conn.begin():
            conn.execute(compiled.statement, binds).mappings().fetchall()

    sides = [
        Side("session_durable", lambda: durable.run("support", "lookup", params), [durable_pid]),
        Side("core_as_agent", via_core_as_agent, [core_pid]),
        Side("core_as_agent_audited", via_core_audited, [audited_pid]),
        Side("session_memory", lambda: memory.run("support", "lookup", params), [memory_pid]),
        Side("session_shared_state", lambda: shared.run("support", "lookup", params), [shared_pid, state_pid]),
        Side("core_raw", via_core_raw, [raw_pid]),
        Side("durable_floor", durable_floor, [floor_pid]),
    ]
    load_before, load_after = interleave(sides, n)
    for engine in engines:
        engine.dispose()
    return sides, load_before, load_after


RLS_QUERIES: dict[str, tuple[str, tuple[object, ...]]] = {
    "count": ("SELECT count(*), sum(amount_cents) FROM data.invoices WHERE tenant_id = %s", ("acme",)),
    "page": (
        "SELECT id, amount_cents FROM data.invoices WHERE tenant_id = %s AND id > %s ORDER BY id LIMIT 50",
        ("acme", 5000),
    ),
}
RLS_FORMS = {
    "count_rls": "sub-select",
    "page_rls": "sub-select",
    "page_rls_function": "function (before issue 13)",
}
"""The policy each RLS side runs under, for the table: the shipped ``tenant = (SELECT tenant_id FROM
acl.tenant_roles WHERE role_name = current_user)``, or the function form on :data:`FUNCTION_COPY`."""
FUNCTION_COPY = "invoices_fn"
"""A copy of ``data.invoices`` under the policy as it was before issue 13, ``tenant_id = (SELECT
acl.current_tenant())`` with ``current_tenant()`` a SQL function pinning its ``search_path``: the page query
on it is the third side of the page comparison, so the cost of the function shows in the same loop."""


def fetch_all(conn: psycopg.Connection[Any], query: str, args: tuple[object, ...]) -> object:
    return conn.execute(query, args).fetchall()


def function_form_copy(conn: psycopg.Connection[Any], names: Names, role: sql.Identifier) -> None:
    """As the superuser: :data:`FUNCTION_COPY`, its old policy and function, readable by ``role``."""
    ctl = names.control_schema
    function = sql.Identifier(ctl, "current_tenant")
    copy = sql.Identifier("data", FUNCTION_COPY)
    body = sql.SQL("SELECT tenant_id FROM {t} WHERE role_name = current_user").format(
        t=sql.Identifier(ctl, "tenant_roles")
    )
    predicate = sql.SQL("tenant_id = (SELECT {fn}())").format(fn=function)
    for statement in (
        sql.SQL(
            "CREATE FUNCTION {fn}() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER "
            "SET search_path = pg_catalog, pg_temp AS {body}"
        ).format(fn=function, body=sql.Literal(body.as_string(None))),
        sql.SQL("GRANT EXECUTE ON FUNCTION {fn}() TO {r}").format(fn=function, r=role),
        sql.SQL("CREATE TABLE {c} (LIKE data.invoices INCLUDING ALL)").format(c=copy),
        sql.SQL("INSERT INTO {c} SELECT * FROM data.invoices").format(c=copy),
        sql.SQL("VACUUM ANALYZE {c}").format(c=copy),
        sql.SQL("ALTER TABLE {c} ENABLE ROW LEVEL SECURITY").format(c=copy),
        sql.SQL("ALTER TABLE {c} FORCE ROW LEVEL SECURITY").format(c=copy),
        sql.SQL("CREATE POLICY old_form ON {c} USING ({p})").format(c=copy, p=predicate),
        sql.SQL("GRANT SELECT (id, tenant_id, amount_cents) ON {c} TO {r}").format(c=copy, r=role),
    ):
        conn.execute(statement)


@dataclass
class RlsRun:
    """One interleaved comparison: its sides (the last one bypasses RLS) and the load average around it."""

    label: str
    sides: list[Side]
    load: tuple[float, float]


@dataclass
class RlsResult:
    """The RLS runs, the server-side split of the page query, and what explains it."""

    runs: list[RlsRun]
    split: dict[str, dict[str, tuple[float, float]]]
    """Plan cache mode -> side -> (planning, execution) median microseconds."""
    plan: str
    cached_plans: dict[str, tuple[int, int]]
    """Side -> (generic, custom) plans PostgreSQL used for the prepared page query under the default mode."""


SPLIT_STATEMENT = "rls_split"
PLAN_CACHE_MODES = {"custom": "force_custom_plan", "generic": "force_generic_plan"}


def server_split(
    sides: dict[str, tuple[psycopg.Connection[Any], str]], n: int
) -> dict[str, dict[str, tuple[float, float]]]:
    """Where the page query's server time goes, per side: ``EXPLAIN (ANALYZE, SUMMARY)`` of the prepared
    statement, the sides interleaved, once with a plan made for each call (custom) and once with the cached
    generic plan. Median planning and execution microseconds; the client and the wire are not in them."""
    args = [sql.Literal(a) for a in RLS_QUERIES["page"][1]]
    explain = sql.SQL("EXPLAIN (ANALYZE, SUMMARY, TIMING OFF, FORMAT JSON) EXECUTE {s}({a}, {b})").format(
        s=sql.Identifier(SPLIT_STATEMENT), a=args[0], b=args[1]
    )
    for conn, query in sides.values():
        prepare = sql.SQL("PREPARE {s} AS {q}").format(s=sql.Identifier(SPLIT_STATEMENT), q=sql.SQL(positional(query)))
        conn.execute(prepare)
    out: dict[str, dict[str, tuple[float, float]]] = {}
    names = list(sides)
    for label, mode in PLAN_CACHE_MODES.items():
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for conn, _ in sides.values():
            conn.execute(sql.SQL("SET plan_cache_mode = {m}").format(m=sql.Identifier(mode)))
        for i in range(n + 20):
            for k in range(len(names)):
                name = names[(i + k) % len(names)]
                row = sides[name][0].execute(explain).fetchone()
                summary = row[0][0] if row else {}
                if i >= 20:
                    samples[name].append((summary.get("Planning Time", 0.0), summary["Execution Time"]))
        out[label] = {
            name: (
                statistics.median(v[0] for v in values) * 1000,
                statistics.median(v[1] for v in values) * 1000,
            )
            for name, values in samples.items()
        }
    for conn, _ in sides.values():
        conn.execute("RESET plan_cache_mode")
        conn.execute(sql.SQL("DEALLOCATE {s}").format(s=sql.Identifier(SPLIT_STATEMENT)))
    return out


def positional(query: str) -> str:
    """``query`` as psycopg sends it: ``%s`` placeholders numbered ``$1``, ``$2``..."""
    parts = query.split("%s")
    return parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))


def prepared_plans(conn: psycopg.Connection[Any], query: str) -> tuple[int, int]:
    """How many generic and custom plans the server used for ``query``, prepared by psycopg on ``conn``."""
    row = conn.execute(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = %s", (positional(query),)
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def bench_rls(admin: AdminConnection, names: Names, count_calls: int, page_calls: int) -> RlsResult:
    """Each query as the agent role (RLS + the explicit predicate) and as the superuser (RLS bypassed), the
    sides interleaved on their own connections, each set up once (the role switch is not in the loop): every
    call on every side is the same ``execute`` + ``fetchall`` of a statement psycopg prepares after five runs.
    The page query also runs on :data:`FUNCTION_COPY`, a second time with every side on its cached generic
    plan, and through :func:`server_split`."""
    role = sql.Identifier(names.agent_role("acme", "support_bot"))
    conninfo = admin.conninfo(names.shared_database())
    page, page_args = RLS_QUERIES["page"]
    old_page = page.replace("invoices", FUNCTION_COPY)
    with (
        psycopg.connect(conninfo, autocommit=True) as rls,
        psycopg.connect(conninfo, autocommit=True) as old,
        psycopg.connect(conninfo, autocommit=True) as bypass,
    ):
        rls.execute(sql.SQL("GRANT SELECT (amount_cents) ON data.invoices TO {r}").format(r=role))
        function_form_copy(bypass, names, role)
        for conn in (rls, old):
            conn.execute(sql.SQL("SET ROLE {r}").format(r=role))
        counts = {
            label: conn.execute(RLS_QUERIES["count"][0], ("acme",)).fetchone()
            for label, conn in (("rls", rls), ("bypass", bypass))
        }
        pages = [fetch_all(rls, page, page_args), fetch_all(old, old_page, page_args)]
        if counts["rls"] != counts["bypass"] or pages != [fetch_all(bypass, page, page_args)] * 2:
            raise SystemExit(f"RLS and bypass disagree: {counts}")
        plan = "\n".join(r[0] for r in rls.execute("EXPLAIN " + page, page_args))
        page_sides = {"page_rls": (rls, page), "page_rls_function": (old, old_page), "page_bypass": (bypass, page)}

        def sides_of(label: str) -> list[Side]:
            if label != "count":
                return [
                    Side(name, partial(fetch_all, c, q, page_args), [c.info.backend_pid])
                    for name, (c, q) in page_sides.items()
                ]
            query, args = RLS_QUERIES["count"]
            return [
                Side(f"count_{mode}", partial(fetch_all, c, query, args), [c.info.backend_pid])
                for mode, c in (("rls", rls), ("bypass", bypass))
            ]

        count_sides = sides_of("count")
        runs = [RlsRun("count", count_sides, interleave(count_sides, count_calls))]
        default_page = sides_of("page")
        runs.append(RlsRun("page", default_page, interleave(default_page, page_calls)))
        cached = {name: prepared_plans(conn, query) for name, (conn, query) in page_sides.items()}
        for conn, _ in page_sides.values():
            conn.execute("SET plan_cache_mode = force_generic_plan")
        generic_page = sides_of("page")
        runs.append(RlsRun("page, generic plans", generic_page, interleave(generic_page, page_calls)))
        for conn, _ in page_sides.values():
            conn.execute("RESET plan_cache_mode")
        split = server_split(page_sides, min(page_calls, 2000))
        rows = int(counts["rls"][0]) if counts["rls"] else 0
    return RlsResult(runs, split, plan + f"\n(acme rows: {rows:,})", cached)


def table(sides: list[Side], n: int) -> str:
    lines = [
        "| side | p50 ms | p99 ms | client CPU s | server CPU s |",
        "|---|---:|---:|---:|---:|",
    ]
    for side in sides:
        lines.append(
            f"| `{side.name}` | {side.p50():.3f} | {side.p99():.3f} | {side.client_cpu_s:.2f} | {side.server_cpu_s:.2f} |"
        )
    return "\n".join(lines) + f"\n\n({n} calls per side; CPU seconds are totals over those calls.)"


SESSION_MARKS = (BEGIN, END)
RLS_MARKS = ("<!-- agent_acl_rls:begin -->", "<!-- agent_acl_rls:end -->")
"""Each measurement rewrites its own block of BENCHMARKS.md, so one can be re-measured alone (``--only``)."""


def command(args: argparse.Namespace, part: str) -> str:
    sizes = f"--rows {args.rows} --tenants {args.tenants}"
    calls = (
        f"--calls {args.calls}" if part == "session" else f"--rls-calls {args.rls_calls} --page-calls {args.page_calls}"
    )
    return f".venv/bin/python benchmarks/agent_acl_bench.py --only {part} {sizes} {calls}"


def session_text(args: argparse.Namespace, sessions: list[Side], s_load0: float, s_load1: float) -> str:
    by_name = {side.name: side for side in sessions}
    core = by_name["core_as_agent"].p50()
    ratios = ", ".join(
        f"`{name}` **{by_name[name].p50() / core:.2f}x**"
        for name in ("session_durable", "session_memory", "session_shared_state")
    )
    like_for_like = by_name["session_durable"].p50() / by_name["core_as_agent_audited"].p50()
    flush = by_name["durable_floor"].p50()
    on_top = by_name["session_durable"].p50() - flush
    return f"""## agent_acl

Command: `{command(args, "session")}`
(embedded PostgreSQL 18 over a Unix socket, Python {platform.python_version()}, {os.cpu_count()} CPUs shared with
other work; times in milliseconds, wall clock per call, each call its own transaction). Every comparison runs
its sides **interleaved** in one loop (each iteration runs every side once, rotating which goes first), after 20
warm-up rounds. Client CPU is this process's CPU time per side; server CPU is the CPU time of the PostgreSQL
backend process(es) serving that side (one pooled connection per side).

### AgentSession.run vs SQLAlchemy Core (support `lookup`, pooled, 1 row returned)

Load average (1 min): {s_load0:.2f} before, {s_load1:.2f} after.

{table(sessions, args.calls)}

- `session_durable`: `AgentSession.run` with `TableAuditSink` (validation, order, budgets, role + timeout, the
  closure-checked statement, row limit, and a durable `acl.audit_log` row committed with the step): 1 round
  trip, `[BEGIN, set_config, statement with its row guard, RESET ROLE, audit INSERT, COMMIT]` before one Sync;
  the row limit and row budget are checked by `acl.check_rows` inside the statement.
- `session_memory`: the same with the in-memory audit sink (1 round trip, no write).
- `session_shared_state`: `session_durable` plus the call-rate window in `PostgresState` (one more round trip,
  an upsert on the state database; its backend's CPU is counted on this side). Its session runs on a clock of
  one call per virtual second, an agent calling at 60/min, so its window holds 60 call times: the upsert's
  cost grows with the calls in the window (the bench's budget of 100,000/min on the real clock would keep
  every call of the last minute).
- `core_as_agent`: Core, the same statement after `set_config('role')` to the agent role, in a transaction
  (4 round trips: BEGIN, set_config, statement, COMMIT).
- `core_as_agent_audited`: `core_as_agent` plus what makes the session's row durable, done the plain way:
  `RESET ROLE` and the same audit INSERT before COMMIT (6 round trips). The like-for-like comparison for
  `session_durable`: both wait for the WAL flush of a write transaction at COMMIT, which the read-only sides
  never do.
- `core_raw`: Core, the same statement as the superuser (no role switch, RLS bypassed).
- `durable_floor`: the least a durable audit row costs: the same INSERT alone, committed (1 round trip, one
  WAL flush), with no statement, role or check. `session_durable` minus this is what the agent step adds; the
  WAL flush is what the read-only `core_as_agent` never pays, and what grows most with other disk traffic.

p50 against Core under the agent role: {ratios}. `session_durable` against `core_as_agent_audited` (both
commit a durable audit row): **{like_for_like:.2f}x**. The first-call placement check and the closure proof
happen once per session, outside these numbers.

A durable row costs at least a WAL flush: `durable_floor` alone is **{flush / core:.2f}x** `core_as_agent` in
this run, so that ratio bounds `session_durable`'s from below whatever the session does. On top of the flush
the session adds {on_top:.3f} ms (the difference of the p50s of `session_durable` and `durable_floor`),
against {core:.3f} ms for all of `core_as_agent`. The flush time is the disk's: it moves with other disk
traffic on the machine, which the interleaving spreads over every side but cannot remove.
"""


def rls_text(args: argparse.Namespace, rls: RlsResult, load_s: float) -> str:
    rls_rows = "\n".join(
        f"| {run.label} | {RLS_FORMS[a.name]} | {len(a.samples)} | {run.load[0]:.2f} / {run.load[1]:.2f} "
        f"| {a.p50():.3f} | {a.p99():.3f} | {b.p50():.3f} | {b.p99():.3f} | {(a.p50() - b.p50()) * 1000:.0f} "
        f"| **{a.p50() / b.p50():.2f}x** | {a.client_cpu_s:.2f} / {b.client_cpu_s:.2f} "
        f"| {a.server_cpu_s:.2f} / {b.server_cpu_s:.2f} |"
        for run in rls.runs
        for a, b in ((side, run.sides[-1]) for side in run.sides[:-1])
    )
    bypass_split = {mode: sides["page_bypass"] for mode, sides in rls.split.items()}
    split_rows = "\n".join(
        f"| {RLS_FORMS.get(name, 'none (bypass)')} | {mode} | {plan_us:.0f} | {exec_us:.0f} | {plan_us + exec_us:.0f} "
        f"| {plan_us - bypass_split[mode][0]:+.0f} / {exec_us - bypass_split[mode][1]:+.0f} |"
        for mode, sides in rls.split.items()
        for name, (plan_us, exec_us) in sides.items()
    )
    generic, custom = rls.cached_plans["page_rls"]
    bypass_generic, bypass_custom = rls.cached_plans["page_bypass"]
    return f"""### Pooled RLS on {args.rows:,} rows ({args.tenants} tenants, `(tenant_id, id)` unique index)

Command: `{command(args, "rls")}` (set up as the
section above, on the same kind of server; load averages per comparison in the table).
Loading and `VACUUM ANALYZE`: {load_s:.1f} s. The agent role (RLS + the explicit predicate, what agents run)
and the superuser (RLS bypassed, the predicate only) return the same rows. Each side has its own connection,
switched to its role once before the loop; every call on every side is the same `execute` + `fetchall` of a
statement psycopg prepares after five runs, autocommit, so both sides do identical client work and round trips.

| query | policy | calls per side | load avg (1 min) before / after | RLS p50 | RLS p99 | bypass p50 | bypass p99 | RLS - bypass p50 (us) | p50 ratio | client CPU s (RLS / bypass) | server CPU s (RLS / bypass) |
|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|
{rls_rows}

`count` is `count(*), sum(amount_cents) WHERE tenant_id = $1`; `page` is `WHERE tenant_id = $1 AND id > $2
ORDER BY id LIMIT 50`, the first page after a cursor, as a tenant's backend pages. The shipped policy
(`sub-select`) is `tenant_id = (SELECT tenant_id FROM acl.tenant_roles WHERE role_name = current_user)`: an
InitPlan run once per statement, an index lookup on the mapping's key, so the `(tenant_id, id)` index still
drives the scan. The `function (before issue 13)` row is the same page query on a copy of the table under the
policy as it was, `tenant_id = (SELECT acl.current_tenant())` with `current_tenant()` a SQL function pinning
its `search_path`, in the same loop as the other two page sides (one bypass side serves both rows). The page
query's plan under the shipped policy:

```
{rls.plan}
```

PostgreSQL re-plans the prepared page query on every call: under the default `plan_cache_mode` it used
{custom} custom plans and {generic} generic ones on the RLS side ({bypass_custom} and {bypass_generic} on the bypass side), because the generic
plan's estimate (`tenant_id = $1` at the default selectivity) costs more than the custom one. The run `page,
generic plans` is the same loop with `plan_cache_mode = force_generic_plan` on every side: the cached plan,
no planning per call.

Where the server time goes (`EXPLAIN (ANALYZE, SUMMARY, TIMING OFF)` of the prepared page query, the sides
interleaved, median microseconds over {min(args.page_calls, 2000)} calls per side; the client and the wire are not in these):

| policy | plans | planning | execution | total | planning / execution vs bypass |
|---|---|---:|---:|---:|---:|
{split_rows}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rls-calls", type=int, default=300, help="calls per side of the aggregate (~70 ms each)")
    parser.add_argument("--page-calls", type=int, default=5000, help="calls per side of the page query (~0.2 ms)")
    parser.add_argument("--only", choices=("session", "rls"), help="measure and rewrite one section only")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    url = os.environ.get("PAYBILL_PG_URL")
    tmp = None
    if url:
        admin = admin_connection(ServerSpec(url=url))
        server = None
    else:
        tmp = tempfile.TemporaryDirectory(prefix="agent-acl-bench-")
        server = EmbeddedServer(Path(tmp.name))
        admin = server.ensure_running()
    sections: list[tuple[tuple[str, str], str]] = []
    try:
        policy, names = apply(admin, "aclbench", ["acme"])
        load_s = load_rows(admin, names.shared_database(), args.rows, args.tenants)
        if args.only != "rls":
            sessions, s_load0, s_load1 = bench_session(admin, policy, names, args.calls)
            sections.append((SESSION_MARKS, session_text(args, sessions, s_load0, s_load1)))
        if args.only != "session":
            rls = bench_rls(admin, names, args.rls_calls, args.page_calls)
            sections.append((RLS_MARKS, rls_text(args, rls, load_s)))
    finally:
        if server is not None:
            server.stop()
        if tmp is not None:
            tmp.cleanup()
    for (begin, end), text in sections:
        print(text)
        if not args.no_write:
            write_section(ROOT / "BENCHMARKS.md", begin, end, text)


if __name__ == "__main__":
    main()
