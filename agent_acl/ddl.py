"""The provisioning plans: ordered batches of psycopg statements per isolation model, and their teardown.

A :class:`Batch` says which database to run in and whether it needs autocommit (``CREATE DATABASE``). A
provisioner runs the batches in order as an administrator (a superuser, or a role with CREATEROLE that
also owns the databases). Every function is pure and deterministic: the same policy gives byte-identical
SQL, which the golden files pin.

Per isolation model:

* ``silo``: a database per tenant, owned by the owner role; tables in its ``data`` schema;
* ``bridge``: one shared database; a schema ``t__<tenant>`` per tenant;
* ``pooled``: one shared database; shared tables in ``data`` with ENABLE + FORCE ROW LEVEL SECURITY and
  one policy ``tenant = (SELECT tenant_id FROM acl.tenant_roles WHERE role_name = current_user)`` (see
  :func:`current_tenant`): ``current_user`` maps to a tenant through ``acl.tenant_roles``, a table only the
  owner writes, so ``SET app.tenant_id`` changes nothing.

Every tenant, agent and app role gets ``ALTER ROLE ... SET search_path = pg_catalog, <its own schema>`` (no
``"$user"``), every generated statement is schema-qualified, every function pins its own search path, and the
tenant policy calls no function at all: nothing depends on what a session's search path happens to be.

In every model the app-side predicate ``tenant = :acl_tenant`` is compiled into each statement as well, and
each database gets an ``acl.audit_log`` the app role may only INSERT into, and ``acl.check_rows()``, the row
guard agent roles run inside their steps (see :mod:`agent_acl.guard`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql
from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable

from agent_acl.access import explain_access
from agent_acl.compiler import DIALECT
from agent_acl.errors import CompileError
from agent_acl.models import sorted_tables
from agent_acl.naming import (
    AUDIT_TABLE,
    MAPPING_POLICY,
    ROW_BUDGET_SQLSTATE,
    ROW_COUNT_SETTING,
    ROW_GUARD_FN,
    ROW_LIMIT_SQLSTATE,
    TENANT_POLICY,
    TENANT_ROLES_TABLE,
    Isolation,
    Names,
    valid_tenant,
)
from agent_acl.policy import AclPolicy
from agent_acl.roles import (
    DEFAULT_TIMEOUT_MS,
    Statements,
    create_role,
    drop_role,
    grant_connect,
    grant_matrix,
    grant_membership,
    grant_table,
    grant_usage,
    set_search_path,
)

MAINTENANCE_DB = "postgres"
DML = sql.SQL("SELECT, INSERT, UPDATE, DELETE")
OWNER_MAPPING_POLICY = "owner_manages"


@dataclass(frozen=True)
class Batch:
    """Statements to run, in order, in ``database``; in one transaction unless ``autocommit``."""

    database: str
    autocommit: bool
    statements: tuple[sql.Composable, ...]
    comment: str = ""


def _id(*parts: str) -> sql.Identifier:
    return sql.Identifier(*parts)


def _check_tenant(tenant: str) -> None:
    if not valid_tenant(tenant):
        raise CompileError(f"tenant {tenant!r}", "tenant ids are 1-40 chars of [a-z0-9] with single inner - or _")


def create_database(database: str, owner: str) -> Statements:
    """Run with autocommit. PUBLIC loses CONNECT and TEMP, so only granted roles connect; nobody makes temp objects."""
    return [
        sql.SQL("CREATE DATABASE {db} OWNER {owner} ENCODING 'UTF8' TEMPLATE template0").format(
            db=_id(database), owner=_id(owner)
        ),
        sql.SQL("REVOKE ALL ON DATABASE {db} FROM PUBLIC").format(db=_id(database)),
    ]


def drop_database(database: str) -> Statements:
    return [sql.SQL("DROP DATABASE IF EXISTS {db} WITH (FORCE)").format(db=_id(database))]


def set_local_role(role: str) -> Statements:
    return [sql.SQL("SET LOCAL ROLE {role}").format(role=_id(role))]


def create_tables(policy: AclPolicy, schema: str) -> Statements:
    """The schema's tables in ``schema`` (compiled from the SQLAlchemy metadata), then their foreign keys."""
    tables = sorted_tables(policy.data, schema)
    out: Statements = [sql.SQL("CREATE SCHEMA {s}").format(s=_id(schema)), *_revoke_schema(schema)]
    constraints = []
    for table in tables:
        ddl = CreateTable(table, include_foreign_key_constraints=[]).compile(dialect=DIALECT)
        out.append(sql.SQL(str(ddl).strip()))  # compiled by SQLAlchemy's quoting preparer
        out += [sql.SQL(str(CreateIndex(i).compile(dialect=DIALECT))) for i in sorted(table.indexes, key=str)]
        constraints += sorted(table.foreign_key_constraints, key=lambda c: str(c.name))
        out.append(sql.SQL("REVOKE ALL ON {t} FROM PUBLIC").format(t=_id(schema, table.name)))
    out += [sql.SQL(str(AddConstraint(c).compile(dialect=DIALECT))) for c in constraints]
    return out


def _revoke_schema(schema: str) -> Statements:
    return [sql.SQL("REVOKE ALL ON SCHEMA {s} FROM PUBLIC").format(s=_id(schema))]


ROW_GUARD_ARGS = sql.SQL("bigint, bigint, bigint")


def create_row_guard(control_schema: str) -> Statements:
    """``check_rows(n, row_limit, budget)``: raise (``ROW_LIMIT_SQLSTATE``/``ROW_BUDGET_SQLSTATE``) when a step's
    ``n`` rows exceed its limit or the session's remaining row budget, else leave ``n`` in the transaction-local
    ``ROW_COUNT_SETTING`` (read by the audit INSERT queued after it) and return it.

    Agents call it from inside their own steps, so a refused step fails on the server before its ``COMMIT``:
    see :mod:`agent_acl.guard`. Nobody else may execute it (granted per agent role).
    """
    function = _id(control_schema, ROW_GUARD_FN)
    body = sql.SQL(
        "BEGIN "
        "IF n > row_limit THEN RAISE EXCEPTION 'more than % rows', row_limit USING ERRCODE = {limit_code}; END IF; "
        "IF n > budget THEN RAISE EXCEPTION 'over the % rows left', budget USING ERRCODE = {budget_code}; END IF; "
        "PERFORM set_config({setting}, n::text, true); "
        "RETURN n; "
        "END"
    ).format(
        limit_code=sql.Literal(ROW_LIMIT_SQLSTATE),
        budget_code=sql.Literal(ROW_BUDGET_SQLSTATE),
        setting=sql.Literal(ROW_COUNT_SETTING),
    )
    return [
        sql.SQL(
            "CREATE FUNCTION {fn}(n bigint, row_limit bigint, budget bigint) RETURNS bigint LANGUAGE plpgsql "
            "VOLATILE SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS {body}"
        ).format(fn=function, body=sql.Literal(body.as_string(None))),
        sql.SQL("REVOKE ALL ON FUNCTION {fn}({args}) FROM PUBLIC").format(fn=function, args=ROW_GUARD_ARGS),
    ]


def create_control_schema(names: Names, *, pooled: bool) -> Statements:
    """``acl``: the audit log (app: INSERT only), the row guard and, for pooled, the tenant-role mapping."""
    ctl = names.control_schema
    audit = _id(ctl, AUDIT_TABLE)
    out: Statements = [
        sql.SQL("CREATE SCHEMA {s}").format(s=_id(ctl)),
        *_revoke_schema(ctl),
        sql.SQL(
            "CREATE TABLE {t} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
            "at timestamptz NOT NULL DEFAULT now(), agent text NOT NULL, tenant text NOT NULL, "
            "workflow text NOT NULL, step text NOT NULL, sql_hash text NOT NULL, params_digest text NOT NULL, "
            "row_count integer NOT NULL, decision text NOT NULL, reason text NOT NULL)"
        ).format(t=audit),
        sql.SQL("REVOKE ALL ON {t} FROM PUBLIC").format(t=audit),
        *grant_usage(ctl, names.app),
        *grant_table(sql.SQL("INSERT"), ctl, AUDIT_TABLE, names.app),
        *create_row_guard(ctl),
    ]
    if pooled:
        mapping = _id(ctl, TENANT_ROLES_TABLE)
        out += [
            sql.SQL("CREATE TABLE {t} (role_name name PRIMARY KEY, tenant_id text NOT NULL)").format(t=mapping),
            sql.SQL("REVOKE ALL ON {t} FROM PUBLIC").format(t=mapping),
            sql.SQL("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY").format(t=mapping),
            sql.SQL("ALTER TABLE {t} FORCE ROW LEVEL SECURITY").format(t=mapping),
            sql.SQL("CREATE POLICY {p} ON {t} FOR SELECT USING (role_name = current_user)").format(
                p=_id(MAPPING_POLICY), t=mapping
            ),
            sql.SQL("CREATE POLICY {p} ON {t} FOR ALL TO {owner} USING (true) WITH CHECK (true)").format(
                p=_id(OWNER_MAPPING_POLICY), t=mapping, owner=_id(names.owner)
            ),
        ]
    return out


def current_tenant(control_schema: str) -> sql.Composed:
    """The pooled policies' tenant: ``(SELECT tenant_id FROM <control_schema>.tenant_roles WHERE role_name =
    current_user)``, the caller's row of the mapping (its own forced RLS shows a role no other row).

    An uncorrelated sub-select, so PostgreSQL runs it once per statement as an InitPlan (an index lookup on the
    mapping's key) and the ``(tenant, id)`` index still drives the scan. It is written out in the policy rather
    than wrapped in a function: the SQL function it replaced (not inlinable, with a pinned ``search_path``)
    took about twice the sub-select's execution time on every statement (see BENCHMARKS.md, agent_acl), and a
    policy expression is stored parsed, with its relations and operators resolved when it is created, so no
    session's search path is involved at all. Fail closed: a role without a mapping row gets NULL, which
    equals no tenant, so it sees and writes no rows.
    """
    mapping = (control_schema, TENANT_ROLES_TABLE)
    return sql.SQL("(SELECT {tenant} FROM {t} WHERE {role} = current_user)").format(
        tenant=_id(*mapping, "tenant_id"), t=_id(*mapping), role=_id(*mapping, "role_name")
    )


def enable_pooled_rls(policy: AclPolicy, schema: str, names: Names) -> Statements:
    """ENABLE + FORCE RLS and the tenant policy on every tenant-scoped table (shared tables have none)."""
    tenant = policy.data.tenant_column
    current = current_tenant(names.control_schema)
    out: Statements = []
    for table in policy.data.tables:
        if not table.tenant_scoped:
            continue
        name = _id(schema, table.name)
        predicate = sql.SQL("{col} = {current}").format(col=_id(tenant), current=current)
        out += [
            sql.SQL("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY").format(t=name),
            sql.SQL("ALTER TABLE {t} FORCE ROW LEVEL SECURITY").format(t=name),
            sql.SQL("CREATE POLICY {p} ON {t} FOR ALL USING ({pred}) WITH CHECK ({pred})").format(
                p=_id(TENANT_POLICY), t=name, pred=predicate
            ),
        ]
    return out


def _cluster_roles(policy: AclPolicy, names: Names) -> Statements:
    return [
        *create_role(names.owner),
        *create_role(names.migrator, inherit=True, statement_timeout_ms=DEFAULT_TIMEOUT_MS * 10),
        *grant_membership(names.owner, names.migrator, inherit=True, set_role=True),
        *create_role(names.app, statement_timeout_ms=DEFAULT_TIMEOUT_MS),
        set_search_path(names.app, (names.control_schema,)),
    ]


def shared_plan(policy: AclPolicy, isolation: Isolation) -> list[Batch]:
    """Cluster-wide roles (owner, migrator, app) and, for bridge/pooled, the shared database and its objects."""
    names = Names(policy.name)
    batches = [Batch(MAINTENANCE_DB, False, tuple(_cluster_roles(policy, names)), "cluster roles")]
    if isolation is Isolation.SILO:
        return batches
    database = names.shared_database()
    batches.append(Batch(MAINTENANCE_DB, True, tuple(create_database(database, names.owner)), "shared database"))
    objects: Statements = [
        sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"),
        *set_local_role(names.owner),
        *grant_connect(database, names.app),
        *create_control_schema(names, pooled=isolation is Isolation.POOLED),
    ]
    if isolation is Isolation.POOLED:
        schema = names.data_schema(isolation, "")
        objects += [*create_tables(policy, schema), *enable_pooled_rls(policy, schema, names)]
    batches.append(Batch(database, False, tuple(objects), "shared objects"))
    return batches


def _tenant_roles(policy: AclPolicy, names: Names, isolation: Isolation, tenant: str) -> Statements:
    own = (names.data_schema(isolation, tenant),)
    out: Statements = [*create_role(names.tenant_role(tenant), statement_timeout_ms=DEFAULT_TIMEOUT_MS)]
    out.append(set_search_path(names.tenant_role(tenant), own))
    out += grant_membership(names.tenant_role(tenant), names.app, inherit=False, set_role=True)
    for agent in policy.agents:
        role = names.agent_role(tenant, agent.name)
        out += create_role(role, statement_timeout_ms=agent.budgets.statement_timeout_ms)
        out.append(set_search_path(role, own))
        out += grant_membership(role, names.app, inherit=False, set_role=True)
    return out


def _tenant_grants(policy: AclPolicy, names: Names, isolation: Isolation, tenant: str) -> Statements:
    database = names.database(isolation, tenant)
    schema = names.data_schema(isolation, tenant)
    ctl = names.control_schema
    pooled = isolation is Isolation.POOLED
    grantees = [names.tenant_role(tenant), *(names.agent_role(tenant, a.name) for a in policy.agents)]
    out: Statements = []
    for role in grantees:
        out += grant_connect(database, role)
        out += grant_usage(schema, role)
        if pooled:
            out += grant_usage(ctl, role)
            out += grant_table(sql.SQL("SELECT"), ctl, TENANT_ROLES_TABLE, role)
    for agent in policy.agents:
        role = names.agent_role(tenant, agent.name)
        if not pooled:
            out += grant_usage(ctl, role)
        out.append(
            sql.SQL("GRANT EXECUTE ON FUNCTION {fn}({args}) TO {role}").format(
                fn=_id(ctl, ROW_GUARD_FN), args=ROW_GUARD_ARGS, role=_id(role)
            )
        )
    tenant_role = names.tenant_role(tenant)
    for table in policy.data.tables:
        privileges = DML if table.tenant_scoped or not pooled else sql.SQL("SELECT")
        out += grant_table(privileges, schema, table.name, tenant_role)
    for agent in policy.agents:
        out += grant_matrix(explain_access(policy, agent), schema, names.agent_role(tenant, agent.name))
    if pooled:
        mapping = _id(ctl, TENANT_ROLES_TABLE)
        for role in grantees:
            out.append(
                sql.SQL("INSERT INTO {t} (role_name, tenant_id) VALUES ({r}, {tenant})").format(
                    t=mapping, r=sql.Literal(role), tenant=sql.Literal(tenant)
                )
            )
    return out


def tenant_plan(policy: AclPolicy, isolation: Isolation, tenant: str) -> list[Batch]:
    """The tenant's roles (tenant login, one per agent), its database or schema, tables, grants and mapping.

    Run after :func:`shared_plan`. LOGIN and passwords are left to the provisioner (:func:`roles.enable_login`).
    """
    _check_tenant(tenant)
    names = Names(policy.name)
    database = names.database(isolation, tenant)
    batches = [
        Batch(MAINTENANCE_DB, False, tuple(_tenant_roles(policy, names, isolation, tenant)), f"roles of {tenant}")
    ]
    objects: Statements = []
    if isolation is Isolation.SILO:
        create = tuple(create_database(database, names.owner))
        batches.append(Batch(MAINTENANCE_DB, True, create, f"database of {tenant}"))
        objects += [
            sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"),
            *set_local_role(names.owner),
            *grant_connect(database, names.app),
            *create_control_schema(names, pooled=False),
        ]
    else:
        objects += set_local_role(names.owner)
    if isolation is not Isolation.POOLED:
        objects += create_tables(policy, names.data_schema(isolation, tenant))
    objects += _tenant_grants(policy, names, isolation, tenant)
    batches.append(Batch(database, False, tuple(objects), f"objects and grants of {tenant}"))
    return batches


def tenant_teardown(policy: AclPolicy, isolation: Isolation, tenant: str) -> list[Batch]:
    """Undo :func:`tenant_plan`: the tenant's rows/schema/database, its grants, mapping and roles. Idempotent."""
    _check_tenant(tenant)
    names = Names(policy.name)
    roles = names.roles_of_tenant(tenant, tuple(a.name for a in policy.agents))
    batches: list[Batch] = []
    if isolation is Isolation.SILO:
        batches.append(
            Batch(MAINTENANCE_DB, True, tuple(drop_database(names.silo_database(tenant))), f"database of {tenant}")
        )
    else:
        database = names.shared_database()
        cleanup: Statements = []
        if isolation is Isolation.BRIDGE:
            cleanup.append(
                sql.SQL("DROP SCHEMA IF EXISTS {s} CASCADE").format(s=_id(names.data_schema(isolation, tenant)))
            )
        else:
            schema = names.data_schema(isolation, tenant)
            for table in reversed(sorted_tables(policy.data, schema)):
                if policy.data.table(table.name).tenant_scoped:
                    cleanup.append(
                        sql.SQL("DELETE FROM {t} WHERE {col} = {tenant}").format(
                            t=_id(schema, table.name), col=_id(policy.data.tenant_column), tenant=sql.Literal(tenant)
                        )
                    )
            cleanup.append(
                sql.SQL("DELETE FROM {t} WHERE tenant_id = {tenant}").format(
                    t=_id(names.control_schema, TENANT_ROLES_TABLE), tenant=sql.Literal(tenant)
                )
            )
        cleanup += _drop_owned_if_exists(roles)
        batches.append(Batch(database, False, tuple(cleanup), f"objects and grants of {tenant}"))
    batches.append(
        Batch(MAINTENANCE_DB, False, tuple(s for role in roles for s in drop_role(role)), f"roles of {tenant}")
    )
    return batches


def _drop_owned_if_exists(roles: Sequence[str]) -> Statements:
    """``DROP OWNED BY`` has no IF EXISTS; guard it in a DO block so teardown stays idempotent."""
    out: Statements = []
    for role in roles:
        inner = sql.SQL("DROP OWNED BY {role}").format(role=_id(role)).as_string(None)
        body = sql.SQL(
            "BEGIN IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {r}) THEN EXECUTE {s}; END IF; END"
        ).format(r=sql.Literal(role), s=sql.Literal(inner))
        out.append(sql.SQL("DO {body}").format(body=sql.Literal(body.as_string(None))))
    return out


def shared_teardown(policy: AclPolicy, isolation: Isolation) -> list[Batch]:
    """Undo :func:`shared_plan` (run after every tenant's teardown). Idempotent."""
    names = Names(policy.name)
    batches: list[Batch] = []
    if isolation is not Isolation.SILO:
        batches.append(Batch(MAINTENANCE_DB, True, tuple(drop_database(names.shared_database())), "shared database"))
    roles = (names.app, names.migrator, names.owner)
    batches.append(Batch(MAINTENANCE_DB, False, tuple(s for r in roles for s in drop_role(r)), "cluster roles"))
    return batches


def migration(policy: AclPolicy, isolation: Isolation, tenants: Sequence[str]) -> list[Batch]:
    """Everything for a fresh cluster: the shared plan, then each tenant's plan (in the given order)."""
    batches = shared_plan(policy, isolation)
    for tenant in tenants:
        batches += tenant_plan(policy, isolation, tenant)
    return batches


def teardown(policy: AclPolicy, isolation: Isolation, tenants: Sequence[str]) -> list[Batch]:
    batches: list[Batch] = []
    for tenant in tenants:
        batches += tenant_teardown(policy, isolation, tenant)
    return batches + shared_teardown(policy, isolation)


def statements(batches: Sequence[Batch]) -> list[sql.Composable]:
    """The flat statement list (for a provisioner that tracks databases itself)."""
    return [stmt for batch in batches for stmt in batch.statements]


def render(batches: Sequence[Batch]) -> str:
    """A ``psql`` script: ``\\connect`` before each batch, BEGIN/COMMIT around transactional ones."""
    out: list[str] = []
    for batch in batches:
        out.append(f"-- {batch.comment}\n" if batch.comment else "")
        out.append(f"\\connect {sql.Identifier(batch.database).as_string(None)}\n")
        if not batch.autocommit:
            out.append("BEGIN;\n")
        out += [stmt.as_string(None) + ";\n" for stmt in batch.statements]
        if not batch.autocommit:
            out.append("COMMIT;\n")
        out.append("\n")
    return "".join(out)
