"""Pooled RLS page query on the local target, before and after issue 10, interleaved in one loop.

Reproduce (about a minute on 2 cores; starts its own embedded PostgreSQL unless PAYBILL_PG_URL is set):

    .venv/bin/python benchmarks/rls_page_query.py                 # writes its section of BENCHMARKS.md
    .venv/bin/python benchmarks/rls_page_query.py --rows 50000 --no-write   # a quick look

Two shared databases on one server, loaded with the same rows (``--rows`` invoices over ``--tenants``
tenants), differ only in what issue 10 changed:

- *before*: ``bigint`` identity keys (one sequence shared by every tenant of the pool) and the policy
  ``tenant_id = paybill.current_tenant()``, a function call per row (the function, gone since issue 13, is
  created here as it was);
- *after*: UUIDv7 keys and the policy of :mod:`paybill_infra.local.sql`, exactly its SQL: since issue 13
  ``tenant_id = (SELECT tenant_id FROM paybill.tenant_roles WHERE role_name = current_user)`` (an InitPlan, no
  function call; issue 10 measured ``(SELECT paybill.current_tenant())``).

The query is what a tenant's backend pages with, under its own login and row-level security only:
``SELECT id, amount_cents FROM pooled.invoices WHERE id > $cursor ORDER BY id LIMIT 50``, the cursor drawn from
the tenant's own keys. Each round runs one query on each side, alternating which goes first; it reports p50/p99
wall time per query, the server CPU seconds of each side's backend, the client's CPU seconds and the load
average. Not a timed test: the numbers depend on the machine.
"""

from __future__ import annotations

import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent_acl import DataSchema  # noqa: E402
from agent_acl.models import sorted_tables  # noqa: E402
from benchmarks.report import load_arguments, percentile, scratch_server, write_section  # noqa: E402
from paybill_infra.local import sql as q  # noqa: E402
from paybill_infra.local.app_schema import APP_SCHEMA  # noqa: E402
from paybill_infra.local.server import AdminConnection  # noqa: E402

BEGIN, END = "<!-- rls_page:begin -->", "<!-- rls_page:end -->"
ROLE, TENANT, PASSWORD = "r_bench", "acme", "bench-password"
PAGE = "SELECT id, amount_cents FROM pooled.invoices WHERE id > %s ORDER BY id LIMIT 50"
SIDES = ("before", "after")


def before_schema() -> DataSchema:
    """The application tables as they were: ``bigint`` identity keys."""
    data = APP_SCHEMA.model_dump(mode="json", by_alias=True)
    for table in data["tables"]:
        for column in table["columns"]:
            if column["name"] == "id":
                column.update(type="bigint", generated="identity")
            if column["name"] == "customer_id":
                column["type"] = "bigint"
    return DataSchema.model_validate(data)


def old_policy() -> q.Statements:
    function = sql.Identifier(q.CONTROL_SCHEMA, "current_tenant")
    body = sql.SQL("SELECT tenant_id FROM {t} WHERE role_name = current_user").format(
        t=sql.Identifier(q.CONTROL_SCHEMA, q.TENANT_ROLES_TABLE)
    )
    predicate = sql.SQL("{col} = {fn}()").format(col=sql.Identifier("tenant_id"), fn=function)
    out: q.Statements = [
        sql.SQL(
            "CREATE FUNCTION {fn}() RETURNS text LANGUAGE sql STABLE SECURITY INVOKER "
            "SET search_path = pg_catalog, pg_temp AS {body}"
        ).format(fn=function, body=sql.Literal(body.as_string(None))),
        sql.SQL("GRANT EXECUTE ON FUNCTION {fn}() TO {role}").format(fn=function, role=sql.Identifier(ROLE)),
    ]
    for table in q.TABLES:
        name = sql.Identifier(q.POOLED_SCHEMA, table.name)
        out += [
            sql.SQL("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY").format(t=name),
            sql.SQL("ALTER TABLE {t} FORCE ROW LEVEL SECURITY").format(t=name),
            sql.SQL("CREATE POLICY {p} ON {t} FOR ALL USING ({pred}) WITH CHECK ({pred})").format(
                p=sql.Identifier(q.POOLED_POLICY), t=name, pred=predicate
            ),
        ]
    return out


def build(admin: AdminConnection, side: str, rows: int, tenants: int) -> float:
    database = f"bench_{side}"
    with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {db} WITH (FORCE)").format(db=sql.Identifier(database)))
        for statement in q.create_database(database, q.OWNER_ROLE):
            conn.execute(statement)
    with psycopg.connect(admin.conninfo(database)) as conn:
        for statement in [
            *q.lock_public_schema(),
            *q.create_control_schema(),
            *q.create_schema("pooled", q.OWNER_ROLE),
        ]:
            conn.execute(statement)
        if side == "before":
            from sqlalchemy.dialects.postgresql.base import PGDialect
            from sqlalchemy.schema import CreateTable

            dialect = PGDialect()  # type: ignore[no-untyped-call]
            for table in sorted_tables(before_schema(), q.POOLED_SCHEMA):
                for statement in q.set_local_role(q.OWNER_ROLE):
                    conn.execute(statement)
                conn.execute(str(CreateTable(table).compile(dialect=dialect)))
                conn.execute("RESET ROLE")
            statements = old_policy()
        else:
            statements = [*q.create_tables(q.POOLED_SCHEMA, q.OWNER_ROLE), *q.enable_pooled_rls()]
        for statement in [*statements, *q.bind_pooled_tenant(ROLE, TENANT, database=database)]:
            conn.execute(statement)
        start = time.perf_counter()
        conn.execute(
            "INSERT INTO pooled.customers (tenant_id, name) "
            "SELECT CASE WHEN t = 1 THEN %s ELSE 'tenant' || t END, 'customer-' || t FROM generate_series(1, %s) t",
            (TENANT, tenants),
        )
        conn.execute(
            "INSERT INTO pooled.invoices (tenant_id, customer_id, amount_cents) "
            "SELECT c.tenant_id, c.id, (g * 37) %% 100000 FROM generate_series(1, %s) g "
            "JOIN pooled.customers c ON c.name = 'customer-' || (1 + g %% %s)",
            (rows, tenants),
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE pooled.customers")
        conn.execute("VACUUM ANALYZE pooled.invoices")
        return time.perf_counter() - start


def backend_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(admin: AdminConnection, calls: int) -> dict[str, Any]:
    conns: dict[str, psycopg.Connection[Any]] = {}
    cursors: dict[str, list[Any]] = {}
    for side in SIDES:
        conn = psycopg.connect(admin.url(f"bench_{side}", user=ROLE, password=PASSWORD), autocommit=True)
        conns[side] = conn
        cursors[side] = [r[0] for r in conn.execute("SELECT id FROM pooled.invoices ORDER BY id")]
        conn.execute(PAGE, (cursors[side][0],), prepare=True)
    pids = {side: int(conns[side].info.backend_pid) for side in SIDES}
    plans = {
        side: "\n".join(r[0] for r in conns[side].execute("EXPLAIN " + PAGE, (cursors[side][0],))) for side in SIDES
    }
    rng = random.Random(10)  # noqa: S311 - reproducible cursors, not secrets
    times: dict[str, list[float]] = {side: [] for side in SIDES}
    for _ in range(20):
        for side in SIDES:
            conns[side].execute(PAGE, (rng.choice(cursors[side]),)).fetchall()
    load_before = os.getloadavg()
    cpu_before = {side: backend_cpu_s(pids[side]) for side in SIDES}
    client_before = time.process_time()
    for i in range(calls):
        for side in SIDES if i % 2 == 0 else reversed(SIDES):
            cursor = rng.choice(cursors[side])
            start = time.perf_counter()
            rows = conns[side].execute(PAGE, (cursor,)).fetchall()
            times[side].append((time.perf_counter() - start) * 1000)
            if len(rows) > 50:
                raise RuntimeError("the page query returned more than a page")
    out: dict[str, Any] = {
        "client_cpu_s": time.process_time() - client_before,
        "load": (load_before, os.getloadavg()),
        "plans": plans,
        "tenant_rows": len(cursors["after"]),
    }
    for side in SIDES:
        out[f"{side}_cpu_s"] = backend_cpu_s(pids[side]) - cpu_before[side]
        out[f"{side}_p50"] = percentile(times[side], 0.5)
        out[f"{side}_p99"] = percentile(times[side], 0.99)
        conns[side].close()
    return out


def main() -> None:
    args = load_arguments(__doc__, calls=2000)

    with scratch_server("rls-page-bench-") as admin:
        with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
            for role in (ROLE, q.OWNER_ROLE):
                if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                    raise SystemExit(f"role {role} already exists on this server: use a scratch server")
            for statement in q.create_owner_role():
                conn.execute(statement)
            for statement in q.create_login_role(
                ROLE, PASSWORD, connection_limit=10, statement_timeout_ms=60_000, search_path=[q.POOLED_SCHEMA]
            ):
                conn.execute(statement)
        load_s = {side: build(admin, side, args.rows, args.tenants) for side in SIDES}
        result = run(admin, args.calls)

    (load1, _, _), (load2, _, _) = result["load"]
    ratio = result["after_p50"] / result["before_p50"]
    text = f"""## Pooled RLS page query: before and after issue 10

Command: `.venv/bin/python benchmarks/rls_page_query.py --rows {args.rows} --tenants {args.tenants} --calls {args.calls}`
(embedded PostgreSQL 18 over a Unix socket, Python {platform.python_version()}, {os.cpu_count()} CPUs shared with
other work; load average {load1:.2f} at the start of the timed loop, {load2:.2f} at its end). {args.rows:,} invoices
over {args.tenants} tenants, the tenant holds {result["tenant_rows"]:,}; loading took {load_s["before"]:.1f} s
(before) and {load_s["after"]:.1f} s (after). {args.calls} rounds, each one query per side, the side going first
alternating; 20 warm-up rounds; wall-clock milliseconds per query on a prepared statement.

Query, as the tenant's own login (RLS only): `{PAGE.replace("%s", "$cursor")}`.

| side | keys | policy | p50 ms | p99 ms | server CPU s |
|---|---|---|---:|---:|---:|
| before | `bigint` identity (shared sequence) | `tenant_id = paybill.current_tenant()` | {result["before_p50"]:.3f} | {result["before_p99"]:.3f} | {result["before_cpu_s"]:.2f} |
| after | UUIDv7 | `tenant_id = (SELECT tenant_id FROM paybill.tenant_roles WHERE role_name = current_user)` | {result["after_p50"]:.3f} | {result["after_p99"]:.3f} | {result["after_cpu_s"]:.2f} |

After / before (p50): **{ratio:.2f}x**. Client CPU for the whole timed loop: {result["client_cpu_s"]:.2f} s.

Plans:

```
-- before
{result["plans"]["before"]}
-- after
{result["plans"]["after"]}
```
"""
    print(text)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", BEGIN, END, text)


if __name__ == "__main__":
    main()
