"""agent_acl benchmark: AgentSession overhead, and the cost of pooled row-level security on 1M rows.

Reproduce (a few minutes on 2 cores; starts its own embedded PostgreSQL unless PAYBILL_PG_URL is set):

    .venv/bin/python benchmarks/agent_acl_bench.py            # writes the agent_acl section of BENCHMARKS.md
    .venv/bin/python benchmarks/agent_acl_bench.py --rows 100000 --no-write   # a quick look

Not a timed test: numbers depend on the machine. Two measurements:

1. ``AgentSession.run`` against raw SQLAlchemy Core for the same query (the support ``lookup`` step), both in
   their own transaction on a pooled deployment. Raw Core here means the statement the compiler emits,
   executed directly (no validation, role switch, closure-checked cache, audit, or limits). The ratio of
   medians is the session's overhead.
2. Pooled RLS on ``data.invoices`` with ``--rows`` rows over ``--tenants`` tenants and the ``(tenant_id, id)``
   index: the same tenant-filtered query as the tenant's role (RLS + the explicit predicate, what agents run)
   and as a superuser (RLS bypassed, explicit predicate only), at p50 and p99.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import sqlalchemy as sa
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_acl import (  # noqa: E402
    AgentSession,
    Isolation,
    MemoryAuditSink,
    Names,
    TenantContext,
    enable_login,
    load_policy,
    migration,
)
from benchmarks.report import load_arguments, percentile, scratch_server, write_section  # noqa: E402
from paybill_infra.local.server import AdminConnection  # noqa: E402

POLICY = ROOT / "examples" / "agent-workflow" / "billing_policy.yaml"
BEGIN, END = "<!-- agent_acl:begin -->", "<!-- agent_acl:end -->"
APP_PASSWORD = "bench-app-password"  # noqa: S105 - a throwaway role on a throwaway server


def timed(fn: Callable[[], object], n: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def apply(admin: AdminConnection, policy_name: str, tenants: list[str]) -> tuple[object, Names]:
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


def bench_session(admin: AdminConnection, policy: object, names: Names, n: int) -> dict[str, float]:
    url = admin.url(names.shared_database(), user=names.app, password=APP_PASSWORD)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=2)
    session = AgentSession(
        engine,
        TenantContext(tenant="acme", isolation=Isolation.POOLED),
        "support_bot",
        policy=policy,  # type: ignore[arg-type]
        audit=MemoryAuditSink(),
    )
    compiled = session.compiled("support", "lookup")
    binds = {"p_name": "customer-1", "acl_tenant": "acme"}

    def via_session() -> None:
        session.run("support", "lookup", {"name": "customer-1"})

    def via_core_as_agent() -> None:
        with engine.connect() as conn, conn.begin():
            conn.execute(sa.select(sa.func.set_config("role", session.role, True)))
            conn.execute(compiled.statement, binds).mappings().fetchall()

    owner_url = admin.url(names.shared_database()).replace("postgresql://", "postgresql+psycopg://", 1)
    superuser = sa.create_engine(owner_url, pool_size=2)

    def via_core_raw() -> None:
        with superuser.connect() as conn, conn.begin():
            conn.execute(compiled.statement, binds).mappings().fetchall()

    results = {}
    for label, fn in (("session", via_session), ("core_as_agent", via_core_as_agent), ("core_raw", via_core_raw)):
        samples = timed(fn, n)
        results[f"{label}_p50"] = statistics.median(samples)
        results[f"{label}_p99"] = percentile(samples, 0.99)
    engine.dispose()
    superuser.dispose()
    return results


def bench_rls(admin: AdminConnection, names: Names, n: int) -> dict[str, float]:
    role = names.agent_role("acme", "support_bot")
    queries = {
        "count": "SELECT count(*), sum(amount_cents) FROM data.invoices WHERE tenant_id = %s",
        "page": "SELECT id, amount_cents FROM data.invoices WHERE tenant_id = %s AND id > %s ORDER BY id LIMIT 50",
    }
    results: dict[str, float] = {}
    with psycopg.connect(admin.conninfo(names.shared_database()), autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT SELECT (amount_cents) ON data.invoices TO {r}").format(r=sql.Identifier(role)))
        for label, query in queries.items():
            args: tuple[object, ...] = ("acme",) if label == "count" else ("acme", 5000)
            for mode in ("rls", "bypass"):
                if mode == "rls":
                    conn.execute(sql.SQL("SET ROLE {r}").format(r=sql.Identifier(role)))
                rows = conn.execute(query, args).fetchall()  # type: ignore[arg-type]
                if label == "count":
                    results[f"{label}_rows_{mode}"] = float(rows[0][0])
                samples = timed(lambda q=query, a=args: conn.execute(q, a).fetchall(), n)  # type: ignore[misc]
                results[f"{label}_{mode}_p50"] = statistics.median(samples)
                results[f"{label}_{mode}_p99"] = percentile(samples, 0.99)
                conn.execute("RESET ROLE")
        conn.execute("SET ROLE " + sql.Identifier(role).as_string(conn))
        plan = conn.execute("EXPLAIN " + queries["page"], ("acme", 5000)).fetchall()  # type: ignore[arg-type]
        conn.execute("RESET ROLE")
    results["plan"] = 0.0
    print("\n".join(r[0] for r in plan))
    return results


def main() -> None:
    args = load_arguments(__doc__, calls=500)

    with scratch_server("agent-acl-bench-") as admin:
        policy, names = apply(admin, "aclbench", ["acme"])
        load_s = load_rows(admin, names.shared_database(), args.rows, args.tenants)
        session = bench_session(admin, policy, names, args.calls)
        rls = bench_rls(admin, names, args.calls)

    ratio = session["session_p50"] / session["core_as_agent_p50"]
    ratio_raw = session["session_p50"] / session["core_raw_p50"]
    version = platform.python_version()
    text = f"""## agent_acl

Command: `.venv/bin/python benchmarks/agent_acl_bench.py --rows {args.rows} --tenants {args.tenants} --calls {args.calls}`
(embedded PostgreSQL 18 over a Unix socket, Python {version}, {os.cpu_count()} CPUs; {args.calls} timed calls after
20 warm-up calls per line; times in milliseconds, wall clock per call, each in its own transaction).

### AgentSession.run vs raw SQLAlchemy Core (support `lookup`, pooled, 1 row returned)

| path | p50 ms | p99 ms |
|---|---:|---:|
| `AgentSession.run` (validate, order, budgets, role + timeout, closure-checked statement, limit, in-memory audit) | {session["session_p50"]:.3f} | {session["session_p99"]:.3f} |
| Core, same statement, `set_config('role')` to the agent role | {session["core_as_agent_p50"]:.3f} | {session["core_as_agent_p99"]:.3f} |
| Core, same statement, superuser (no role switch, RLS bypassed) | {session["core_raw_p50"]:.3f} | {session["core_raw_p99"]:.3f} |

Overhead ratio (p50): **{ratio:.2f}x** against Core under the agent role, {ratio_raw:.2f}x against bare Core.
The first-call placement check and the closure proof happen once per session, outside these numbers.

### Pooled RLS on {args.rows:,} rows ({args.tenants} tenants, `(tenant_id, id)` unique index)

Loading and `VACUUM ANALYZE`: {load_s:.1f} s. Tenant `acme` holds {int(rls["count_rows_rls"]):,} rows; the superuser
count for the same predicate is {int(rls["count_rows_bypass"]):,} (equal: RLS removes nothing the predicate kept).

| query | RLS (agent role) p50 | p99 | bypass (superuser) p50 | p99 | p50 overhead |
|---|---:|---:|---:|---:|---:|
| `count(*), sum(amount_cents) WHERE tenant_id = $1` | {rls["count_rls_p50"]:.3f} | {rls["count_rls_p99"]:.3f} | {rls["count_bypass_p50"]:.3f} | {rls["count_bypass_p99"]:.3f} | {rls["count_rls_p50"] / rls["count_bypass_p50"]:.2f}x |
| `WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT 50` | {rls["page_rls_p50"]:.3f} | {rls["page_rls_p99"]:.3f} | {rls["page_bypass_p50"]:.3f} | {rls["page_bypass_p99"]:.3f} | {rls["page_rls_p50"] / rls["page_bypass_p50"]:.2f}x |

The policy is `tenant_id = (SELECT acl.current_tenant())`: the sub-select is an InitPlan evaluated once per
statement, so the index still drives the scan.
"""
    print(text)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", BEGIN, END, text)


if __name__ == "__main__":
    main()
