"""Every role, grant and policy statement of the local target, built from psycopg ``sql`` constructs.

Identifiers go through ``sql.Identifier`` and values through ``sql.Literal`` (DDL takes no bind
parameters); nothing is formatted into a string by hand. The functions are pure, so the generated SQL is
pinned in golden files (``tests/golden/``) and the same statements run on a real PostgreSQL in the tests.

Pooled isolation does not trust session settings: ``SET app.tenant_id`` is free for any role, so a policy
on it would be void. The tenant is derived from ``current_user`` through ``paybill.tenant_roles``, a table
tenants can read (their own row only, under its own forced RLS) but never write. The policy reads it in
agent_acl's form (:func:`agent_acl.ddl.current_tenant`), ``(SELECT tenant_id FROM paybill.tenant_roles WHERE
role_name = current_user)``: an InitPlan, evaluated once per statement, with no function call in between.

Nothing here trusts the search path either (issue 10): every project object is referenced schema-qualified,
the policy calls no function (its expression is stored parsed), and every tenant login role gets
``search_path = pg_catalog, <its own schema>`` (no ``"$user"``), so a schema that happens to carry a role's
name is never searched by that role.

Provisioning serialises its shared changes on :data:`LOCK_TABLE` in :data:`LOCK_SCHEMA` of the maintenance
database: a table no tenant can reach (no CONNECT on that database, no USAGE on the schema), unlike an
advisory lock, which any session of the database may take and hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from psycopg import sql
from sqlalchemy import Table

from agent_acl import DataSchema
from agent_acl.ddl import current_tenant
from paybill_infra.local.app_schema import APP_SCHEMA, TABLES, TENANT_COLUMN, tables_in
from paybill_infra.topology import naming

OWNER_ROLE = "paybill_owner"
SHARED_DATABASE = "paybill"
CONTROL_SCHEMA = "paybill"
POOLED_SCHEMA: Final = naming.POOLED_SCHEMA
SILO_SCHEMA: Final = naming.SILO_SCHEMA
TENANT_ROLES_TABLE = "tenant_roles"
POOLED_POLICY = "tenant_isolation"
MAPPING_POLICY = "own_mapping_only"
POOLED_POLICY_FORM: Final = f"%= ( SELECT {TENANT_ROLES_TABLE}.tenant_id%FROM {CONTROL_SCHEMA}.{TENANT_ROLES_TABLE}%"
"""A ``LIKE`` pattern the deparsed tenant policy (``pg_policies.qual`` and ``with_check``) matches: how the
provider tells the current policy from a missing or outdated one (``paybill.current_tenant()`` before issue 13)."""
DML = sql.SQL("SELECT, INSERT, UPDATE, DELETE")
MAINTENANCE_DATABASE: Final = "postgres"
MAINTENANCE_DATABASES: Final = ("postgres", "template1")
"""Databases PostgreSQL creates with CONNECT for PUBLIC; the provisioner revokes it (a tenant has no business
there, and ``postgres`` is where the provisioning lock lives)."""
LOCK_SCHEMA: Final = "paybill_provisioner"
LOCK_TABLE: Final = "provisioning_lock"
LARGE_OBJECT_CREATORS: Final = (("lo_creat", "integer"), ("lo_create", "oid"), ("lo_from_bytea", "oid, bytea"))
"""The server-side functions that create large objects (``lo_import`` is superuser-only already)."""

Statement = sql.SQL | sql.Composed
Statements = list[Statement]


def _id(*parts: str) -> sql.Identifier:
    return sql.Identifier(*parts)


def create_login_role(
    role: str, verifier: str, *, connection_limit: int, statement_timeout_ms: int, search_path: Sequence[str]
) -> Statements:
    """A tenant login role with every elevated attribute explicitly off (no RLS bypass, no SET ROLE reach)
    and its search path pinned to its own schema(s)."""
    return [
        sql.SQL(
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS "
            "CONNECTION LIMIT {limit} PASSWORD {verifier}"
        ).format(role=_id(role), limit=sql.Literal(connection_limit), verifier=sql.Literal(verifier)),
        sql.SQL("ALTER ROLE {role} SET statement_timeout = {ms}").format(
            role=_id(role), ms=sql.Literal(f"{statement_timeout_ms}ms")
        ),
        *set_search_path(role, search_path),
    ]


def set_search_path(role: str, schemas: Sequence[str]) -> Statements:
    """``pg_catalog`` first, then exactly ``schemas``: no ``"$user"``, no ``public``."""
    path = sql.SQL(", ").join([_id("pg_catalog"), *(_id(s) for s in schemas)])
    return [sql.SQL("ALTER ROLE {role} SET search_path = {path}").format(role=_id(role), path=path)]


def alter_login_role(role: str, verifier: str, *, login: bool, connection_limit: int) -> Statements:
    """Converge a drifted role back to its declared attributes and password."""
    return [
        sql.SQL(
            "ALTER ROLE {role} {login} NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS "
            "CONNECTION LIMIT {limit} PASSWORD {verifier}"
        ).format(
            role=_id(role),
            login=sql.SQL("LOGIN" if login else "NOLOGIN"),
            limit=sql.Literal(connection_limit),
            verifier=sql.Literal(verifier),
        )
    ]


def drop_owned(role: str) -> Statements:
    """Run in each database the role may hold privileges or objects in, before :func:`drop_role`."""
    return [sql.SQL("DROP OWNED BY {role}").format(role=_id(role))]


def drop_role(role: str) -> Statements:
    return [sql.SQL("DROP ROLE IF EXISTS {role}").format(role=_id(role))]


def create_database(database: str, owner: str) -> Statements:
    """Run with autocommit. PUBLIC loses CONNECT/TEMP/CREATE, so only granted roles can even connect."""
    return [
        sql.SQL("CREATE DATABASE {db} OWNER {owner} ENCODING 'UTF8' TEMPLATE template0").format(
            db=_id(database), owner=_id(owner)
        ),
        sql.SQL("REVOKE ALL ON DATABASE {db} FROM PUBLIC").format(db=_id(database)),
    ]


def drop_database(database: str) -> Statements:
    return [sql.SQL("DROP DATABASE IF EXISTS {db} WITH (FORCE)").format(db=_id(database))]


def lock_public_schema() -> Statements:
    """Inside a new database: nobody but owners may create or look into ``public``."""
    return [sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC")]


def create_owner_role(role: str = OWNER_ROLE) -> Statements:
    return [sql.SQL("CREATE ROLE {role} NOLOGIN NOINHERIT NOBYPASSRLS").format(role=_id(role))]


def create_schema(schema: str, owner: str) -> Statements:
    return [sql.SQL("CREATE SCHEMA {schema} AUTHORIZATION {owner}").format(schema=_id(schema), owner=_id(owner))]


def drop_schema(schema: str) -> Statements:
    return [sql.SQL("DROP SCHEMA IF EXISTS {schema} CASCADE").format(schema=_id(schema))]


def grant_connect(database: str, role: str) -> Statements:
    return [sql.SQL("GRANT CONNECT ON DATABASE {db} TO {role}").format(db=_id(database), role=_id(role))]


def revoke_connect(database: str, role: str) -> Statements:
    return [sql.SQL("REVOKE ALL ON DATABASE {db} FROM {role}").format(db=_id(database), role=_id(role))]


def create_lock_table() -> Statements:
    """In the maintenance database: the provisioner-only table whose lock serialises shared changes."""
    table = _id(LOCK_SCHEMA, LOCK_TABLE)
    return [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {s}").format(s=_id(LOCK_SCHEMA)),
        sql.SQL("REVOKE ALL ON SCHEMA {s} FROM PUBLIC").format(s=_id(LOCK_SCHEMA)),
        sql.SQL("CREATE TABLE IF NOT EXISTS {t} ()").format(t=table),
        sql.SQL("REVOKE ALL ON {t} FROM PUBLIC").format(t=table),
    ]


def take_provisioning_lock() -> Statements:
    """EXCLUSIVE mode: conflicts with every other provisioner, but not with plain reads of the table."""
    return [sql.SQL("LOCK TABLE {t} IN EXCLUSIVE MODE").format(t=_id(LOCK_SCHEMA, LOCK_TABLE))]


def revoke_maintenance_connect() -> Statements:
    """PUBLIC may connect to ``postgres`` and ``template1`` by default; tenants must not."""
    databases = sql.SQL(", ").join(_id(db) for db in MAINTENANCE_DATABASES)
    return [sql.SQL("REVOKE CONNECT ON DATABASE {dbs} FROM PUBLIC").format(dbs=databases)]


def revoke_large_object_creation() -> Statements:
    """Inside a shared database (needs a superuser: the functions belong to the bootstrap superuser)."""
    functions = sql.SQL(", ").join(
        sql.SQL("{fn}({args})").format(fn=_id("pg_catalog", name), args=sql.SQL(args))
        for name, args in LARGE_OBJECT_CREATORS
    )
    return [sql.SQL("REVOKE EXECUTE ON FUNCTION {fns} FROM PUBLIC").format(fns=functions)]


def create_control_schema(owner: str = OWNER_ROLE) -> Statements:
    """The tenant-role mapping that pooled policies rely on."""
    table = _id(CONTROL_SCHEMA, TENANT_ROLES_TABLE)
    return [
        *create_schema(CONTROL_SCHEMA, owner),
        sql.SQL("CREATE TABLE {table} (role_name name PRIMARY KEY, tenant_id text NOT NULL UNIQUE)").format(
            table=table
        ),
        sql.SQL("ALTER TABLE {table} OWNER TO {owner}").format(table=table, owner=_id(owner)),
        sql.SQL("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY").format(table=table),
        sql.SQL("ALTER TABLE {table} FORCE ROW LEVEL SECURITY").format(table=table),
        sql.SQL("CREATE POLICY {policy} ON {table} FOR SELECT USING (role_name = current_user)").format(
            policy=_id(MAPPING_POLICY), table=table
        ),
    ]


def enable_pooled_rls(tables: Sequence[Table] = TABLES, *, tenant_column: str = TENANT_COLUMN) -> Statements:
    """ENABLE + FORCE row-level security and the single tenant policy on every pooled table."""
    predicate = sql.SQL("{col} = {tenant}").format(col=_id(tenant_column), tenant=current_tenant(CONTROL_SCHEMA))
    out: Statements = []
    for table in tables:
        name = _id(POOLED_SCHEMA, table.name)
        out += [
            sql.SQL("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY").format(t=name),
            sql.SQL("ALTER TABLE {t} FORCE ROW LEVEL SECURITY").format(t=name),
            sql.SQL("CREATE POLICY {p} ON {t} FOR ALL USING ({pred}) WITH CHECK ({pred})").format(
                p=_id(POOLED_POLICY), t=name, pred=predicate
            ),
        ]
    return out


TABLE_NAMES: Final = tuple(table.name for table in TABLES)
"""The shipped schema's tables, parents first: what a pooled tenant is granted (and whose rows it leaves)."""


def bind_pooled_tenant(
    role: str, tenant: str, tables: Sequence[str] = TABLE_NAMES, *, database: str = SHARED_DATABASE
) -> Statements:
    """Map ``role`` to ``tenant`` and grant it DML on the pooled tables (rows filtered by the policy)."""
    out: Statements = [
        sql.SQL("INSERT INTO {t} (role_name, tenant_id) VALUES ({r}, {tenant})").format(
            t=_id(CONTROL_SCHEMA, TENANT_ROLES_TABLE), r=sql.Literal(role), tenant=sql.Literal(tenant)
        ),
        *grant_connect(database, role),
        sql.SQL("GRANT USAGE ON SCHEMA {a}, {b} TO {role}").format(
            a=_id(CONTROL_SCHEMA), b=_id(POOLED_SCHEMA), role=_id(role)
        ),
        sql.SQL("GRANT SELECT ON {t} TO {role}").format(t=_id(CONTROL_SCHEMA, TENANT_ROLES_TABLE), role=_id(role)),
    ]
    for table in tables:
        out.append(sql.SQL("GRANT {dml} ON {t} TO {role}").format(dml=DML, t=_id(POOLED_SCHEMA, table), role=_id(role)))
    return out


def unbind_pooled_tenant(
    role: str, tenant: str, tables: Sequence[str] = TABLE_NAMES, tenant_column: str = TENANT_COLUMN
) -> Statements:
    """Delete the tenant's pooled rows (children first, ``tables`` being parents first), its mapping, and
    every grant to its role."""
    out: Statements = [
        sql.SQL("DELETE FROM {t} WHERE {col} = {tenant}").format(
            t=_id(POOLED_SCHEMA, table), col=_id(tenant_column), tenant=sql.Literal(tenant)
        )
        for table in reversed(tables)
    ]
    out.append(
        sql.SQL("DELETE FROM {t} WHERE role_name = {r}").format(
            t=_id(CONTROL_SCHEMA, TENANT_ROLES_TABLE), r=sql.Literal(role)
        )
    )
    out.append(sql.SQL("DROP OWNED BY {role}").format(role=_id(role)))
    return out


def grant_schema_tables(schema: str, role: str, tables: Sequence[Table] = TABLES) -> Statements:
    """Silo/bridge: the tenant role owns its schema and tables; owners hold every privilege already,
    so this only makes sure no one else (PUBLIC) does."""
    out: Statements = [sql.SQL("REVOKE ALL ON {t} FROM PUBLIC").format(t=_id(schema, table.name)) for table in tables]
    out.append(sql.SQL("REVOKE ALL ON SCHEMA {s} FROM PUBLIC").format(s=_id(schema)))
    out.append(sql.SQL("GRANT USAGE ON SCHEMA {s} TO {role}").format(s=_id(schema), role=_id(role)))
    return out


def set_local_role(role: str) -> Statements:
    return [sql.SQL("SET LOCAL ROLE {role}").format(role=_id(role))]


def render(statements: Statements) -> str:
    """The statements as one SQL script (for golden files and ``paybill local sql``)."""
    return "".join(stmt.as_string(None) + ";\n" for stmt in statements)


def create_tables(
    schema: str, owner: str, tables: Sequence[Table] | None = None, *, data: DataSchema = APP_SCHEMA
) -> Statements:
    """The application tables in ``schema`` (``tables`` of them, default all), created as ``owner`` (inside a
    transaction; the role is reset at the end).

    Table DDL is compiled from the tables of ``data``, the tenant data schema (the project's schema file).
    """
    from sqlalchemy.dialects.postgresql.base import PGDialect
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves this __init__ unannotated
    copies = {table.name: table for table in tables_in(schema, data)}
    out: Statements = list(set_local_role(owner))
    for table in tables if tables is not None else tables_in(None, data):
        copy = copies[table.name]
        out.append(sql.SQL(str(CreateTable(copy).compile(dialect=dialect)).strip()))
        out += [sql.SQL(str(CreateIndex(index).compile(dialect=dialect))) for index in sorted(copy.indexes, key=str)]
    out.append(sql.SQL("RESET ROLE"))
    return out
