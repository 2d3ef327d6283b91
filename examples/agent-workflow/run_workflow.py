"""An agent workflow end to end on the embedded PostgreSQL (or PAYBILL_PG_URL).

    .venv/bin/python examples/agent-workflow/run_workflow.py [--isolation pooled|bridge|silo] [--keep]

1. Load the policy (schema + workflows + agents) and prove every compiled step is tenant-closed.
2. Provision roles, database/schemas, tables, RLS and grants for two tenants (the same SQL as
   ``paybill acl sql``), give the backend's app role a login, seed a few rows.
3. Run the ``collector`` agent for tenant ``acme``: find open invoices (PII and confidential columns masked),
   ask to flag one (refused: approval required), approve it as a human, flag it.
4. Show what is refused: another tenant's invoice, steps out of order, bad parameters, the row limit.
5. Print the audit log (digests only, no values), then tear everything down (unless ``--keep``).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from pathlib import Path

import psycopg
import sqlalchemy as sa
from psycopg import sql

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from agent_acl import (  # noqa: E402
    AccessDenied,
    AgentSession,
    ApprovalAuthority,
    ApprovalRequired,
    Isolation,
    Names,
    TableAuditSink,
    TenantContext,
    check_tenant_closure,
    enable_login,
    explain_access,
    load_policy,
    migration,
    teardown,
)
from paybill_infra.local.server import AdminConnection, EmbeddedServer, ServerSpec, admin_connection  # noqa: E402

TENANTS = ("acme", "globex")


def run_batches(admin: AdminConnection, batches: list, skip_missing: bool = False) -> None:  # type: ignore[type-arg]
    for batch in batches:
        if skip_missing:
            with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
                if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (batch.database,)).fetchone() is None:
                    continue
        with psycopg.connect(admin.conninfo(batch.database), autocommit=batch.autocommit) as conn:
            for statement in batch.statements:
                conn.execute(statement)


def seed(admin: AdminConnection, names: Names, isolation: Isolation) -> None:
    for number, tenant in enumerate(TENANTS, start=1):
        schema = names.data_schema(isolation, tenant)
        with psycopg.connect(admin.conninfo(names.database(isolation, tenant)), autocommit=True) as conn:
            t = lambda table, schema=schema: sql.Identifier(schema, table)  # noqa: E731
            conn.execute(
                sql.SQL("INSERT INTO {t} VALUES ('USD', 'US dollar') ON CONFLICT DO NOTHING").format(t=t("currencies"))
            )
            conn.execute(
                sql.SQL("INSERT INTO {t} (id, tenant_id, name, email, api_token) VALUES (%s, %s, %s, %s, %s)").format(
                    t=t("customers")
                ),
                (number * 100, tenant, f"Ada of {tenant}", f"ada@{tenant}.example", "tok-" + secrets.token_hex(4)),
            )
            for offset, amount in enumerate((1200, 48000, 99000), start=1):
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {t} (id, tenant_id, customer_id, amount_cents, note) VALUES (%s, %s, %s, %s, %s)"
                    ).format(t=t("invoices")),
                    (number * 100 + offset, tenant, number * 100, amount, "called twice, no answer"),
                )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--isolation", choices=[m.value for m in Isolation], default="pooled")
    parser.add_argument("--keep", action="store_true", help="leave the databases and roles in place")
    args = parser.parse_args()
    isolation = Isolation(args.isolation)

    policy = load_policy(HERE / "billing_policy.yaml")
    print(f"policy '{policy.name}': {check_tenant_closure(policy)} compiled statements, all tenant-closed")
    print(explain_access(policy, "collector").render())

    url = os.environ.get("PAYBILL_PG_URL")
    tmp = None if url else tempfile.TemporaryDirectory(prefix="agent-workflow-")
    server = None if url else EmbeddedServer(Path(tmp.name))  # type: ignore[union-attr]
    admin = admin_connection(ServerSpec(url=url)) if url else server.ensure_running()  # type: ignore[union-attr]
    names = Names(policy.name)
    app_password = secrets.token_urlsafe(18)
    try:
        run_batches(admin, teardown(policy, isolation, TENANTS), skip_missing=True)
        run_batches(admin, migration(policy, isolation, TENANTS))
        with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
            for statement in enable_login(names.app, app_password):
                conn.execute(statement)
        seed(admin, names, isolation)

        # The backend: its own login (the app role), and a trusted context it builds from its own auth.
        url_acme = admin.url(names.database(isolation, "acme"), user=names.app, password=app_password)
        engine = sa.create_engine(url_acme.replace("postgresql://", "postgresql+psycopg://", 1))
        approvals = ApprovalAuthority(secrets.token_bytes(32))
        context = TenantContext(tenant="acme", isolation=isolation, actor="job:collections-nightly")
        agent = AgentSession(
            engine,
            context,
            "collector",
            policy=policy,
            audit=TableAuditSink(engine),
            approvals=approvals,
            audit_key=secrets.token_bytes(32),
        )

        found = agent.run("collect_overdue", "find_open", {"min_amount": 10_000})
        print(f"find_open -> {found.row_count} rows, masked {list(found.masked)}")
        for row in found.rows:
            print("   ", row)
        target = found.rows[0]["id"]
        try:
            agent.run("collect_overdue", "flag", {"invoice_id": target})
        except ApprovalRequired as needed:
            print(f"flag -> {needed.reason}: {needed.request}")
            if needed.request is None:
                raise SystemExit("an approval-required refusal must carry the request to approve") from None
            token = approvals.issue(needed.request, approver="alice@acme (finance)")
        flagged = agent.run("collect_overdue", "flag", {"invoice_id": target}, approval=token)
        print(f"flag (approved) -> {flagged.rows}")

        refusals = [
            ("step out of order", lambda: agent.run("collect_overdue", "flag", {"invoice_id": target})),
            ("bad parameter", lambda: agent.run("collect_overdue", "find_open", {"min_amount": "1; DROP TABLE x"})),
            ("not its workflow", lambda: agent.run("void", "void_invoice", {"invoice_id": target})),
            (
                "row limit (2 open invoices, limit 1)",
                lambda: agent.run("escalate", "flag_customer", {"customer_id": 100}),
            ),
        ]
        for label, attempt in refusals:
            try:
                attempt()
                print(f"{label}: NOT refused (this is a bug)")
            except AccessDenied as denied:
                print(f"{label}: refused ({type(denied).__name__}: {denied.reason})")
        agent.run("collect_overdue", "find_open", {"min_amount": 0})
        try:
            other = agent.run("collect_overdue", "flag", {"invoice_id": 201}, approval=None)
        except ApprovalRequired as needed:
            if needed.request is None:
                raise SystemExit("an approval-required refusal must carry the request to approve") from None
            other = agent.run(
                "collect_overdue",
                "flag",
                {"invoice_id": 201},
                approval=approvals.issue(needed.request, approver="alice@acme (finance)"),
            )
        print(f"flag globex's invoice 201 as acme's agent -> {other.row_count} rows touched")

        with psycopg.connect(admin.conninfo(names.database(isolation, "acme"))) as conn:
            print("\naudit log (acme):")
            for record in conn.execute(
                "SELECT to_char(at, 'HH24:MI:SS'), workflow || '.' || step, decision, reason, row_count, "
                "left(params_digest, 24) FROM acl.audit_log ORDER BY at"
            ):
                print("   ", record)
        engine.dispose()
    finally:
        if not args.keep:
            run_batches(admin, teardown(policy, isolation, TENANTS), skip_missing=True)
        if server is not None and not args.keep:
            server.stop()
        if tmp is not None and not args.keep:
            tmp.cleanup()


if __name__ == "__main__":
    main()
