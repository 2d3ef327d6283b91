"""Every role, grant and policy statement of the local target, built from psycopg ``sql`` constructs.

Identifiers go through ``sql.Identifier`` and values through ``sql.Literal`` (DDL takes no bind
parameters); nothing is formatted into a string by hand. The functions are pure, so the generated SQL is
pinned in golden files (``tests/golden/``) and the same statements run on a real PostgreSQL in the tests.

Pooled isolation does not trust session settings: ``SET app.tenant_id`` is free for any role, so a policy
on it would be void. The tenant is derived from ``current_user`` through ``paybill.tenant_roles``, a table
tenants can read (their own row only, under its own forced RLS) but never write.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql
from sqlalchemy import Table

from paybill_infra.local.app_schema import TABLES, TENANT_COLUMN, tables_in

OWNER_ROLE = "paybill_owner"
SHARED_DATABASE = "paybill"
CONTROL_SCHEMA = "paybill"
POOLED_SCHEMA = "pooled"
SILO_SCHEMA = "app"
TENANT_ROLES_TABLE = "tenant_roles"
CURRENT_TENANT_FN = "current_tenant"
POOLED_POLICY = "tenant_isolation"
MAPPING_POLICY = "own_mapping_only"
DML = sql.SQL("SELECT, INSERT, UPDATE, DELETE")

Statement = sql.SQL | sql.Composed
Statements = list[Statement]


def _id(*parts: str) -> sql.Identifier:
    return sql.Identifier(*parts)


def create_login_role(role: str, verifier: str, *, connection_limit: int, statement_timeout_ms: int) -> Statements:
    """A tenant login role with every elevated attribute explicitly off (no RLS bypass, no SET ROLE reach)."""
    return [
        sql.SQL(
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS "
            "CONNECTION LIMIT {limit} PASSWORD {verifier}"
        ).format(role=_id(role), limit=sql.Literal(connection_limit), verifier=sql.Literal(verifier)),
        sql.SQL("ALTER ROLE {role} SET statement_timeout = {ms}").format(
            role=_id(role), ms=sql.Literal(f"{statement_timeout_ms}ms")
        ),
    ]


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


def create_control_schema(owner: str = OWNER_ROLE) -> Statements:
    """The tenant-role mapping and ``current_tenant()`` that pooled policies rely on."""
    table = _id(CONTROL_SCHEMA, TENANT_ROLES_TABLE)
    function = _id(CONTROL_SCHEMA, CURRENT_TENANT_FN)
    body = sql.SQL("SELECT tenant_id FROM {table} WHERE role_name = current_user").format(table=table)
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
        sql.SQL(
            "CREATE FUNCTION {fn}() RETURNS text LANGUAGE sql STABLE SECURITY INVOKER "
            "SET search_path = pg_catalog AS {body}"
        ).format(fn=function, body=sql.Literal(body.as_string(None))),
        sql.SQL("ALTER FUNCTION {fn}() OWNER TO {owner}").format(fn=function, owner=_id(owner)),
        sql.SQL("REVOKE ALL ON FUNCTION {fn}() FROM PUBLIC").format(fn=function),
    ]


def enable_pooled_rls(tables: Sequence[Table] = TABLES) -> Statements:
    """ENABLE + FORCE row-level security and the single tenant policy on every pooled table."""
    predicate = sql.SQL("{col} = {fn}()").format(col=_id(TENANT_COLUMN), fn=_id(CONTROL_SCHEMA, CURRENT_TENANT_FN))
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


def bind_pooled_tenant(
    role: str, tenant: str, tables: Sequence[Table] = TABLES, *, database: str = SHARED_DATABASE
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
        sql.SQL("GRANT EXECUTE ON FUNCTION {fn}() TO {role}").format(
            fn=_id(CONTROL_SCHEMA, CURRENT_TENANT_FN), role=_id(role)
        ),
    ]
    for table in tables:
        out.append(
            sql.SQL("GRANT {dml} ON {t} TO {role}").format(dml=DML, t=_id(POOLED_SCHEMA, table.name), role=_id(role))
        )
    return out


def unbind_pooled_tenant(role: str, tenant: str, tables: Sequence[Table] = TABLES) -> Statements:
    """Delete the tenant's pooled rows (children first), its mapping, and every grant to its role."""
    out: Statements = [
        sql.SQL("DELETE FROM {t} WHERE {col} = {tenant}").format(
            t=_id(POOLED_SCHEMA, table.name), col=_id(TENANT_COLUMN), tenant=sql.Literal(tenant)
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


def create_tables(schema: str, owner: str, tables: Sequence[Table] = TABLES) -> Statements:
    """The application tables in ``schema``, created as ``owner`` (inside a transaction; the role is reset
    at the end).

    Table DDL is compiled from the tables of ``app_schema.APP_SCHEMA``, the one declaration of them.
    """
    from sqlalchemy.dialects.postgresql.base import PGDialect
    from sqlalchemy.schema import CreateIndex, CreateTable

    dialect = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves this __init__ unannotated
    copies = {table.name: table for table in tables_in(schema)}
    out: Statements = list(set_local_role(owner))
    for table in tables:
        copy = copies[table.name]
        out.append(sql.SQL(str(CreateTable(copy).compile(dialect=dialect)).strip()))
        out += [sql.SQL(str(CreateIndex(index).compile(dialect=dialect))) for index in sorted(copy.indexes, key=str)]
    out.append(sql.SQL("RESET ROLE"))
    return out
