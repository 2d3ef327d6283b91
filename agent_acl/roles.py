"""Role and GRANT statements, built from psycopg ``sql`` constructs (pure functions, no connection).

Every role is created with every elevated attribute explicitly off. Only the owner owns objects and it
never logs in. The app role holds no data privilege: it reaches data only by ``SET ROLE`` to a tenant or
agent role (membership ``WITH INHERIT FALSE, SET TRUE``, PostgreSQL 16+), which is what
:class:`~agent_acl.runtime.AgentSession` does per step. Agent roles get exactly the cells of
:func:`~agent_acl.access.explain_access`: column-level SELECT/INSERT/UPDATE, table-level DELETE.
"""

from __future__ import annotations

from psycopg import sql

from agent_acl.access import AccessMatrix, Privilege

Statements = list[sql.Composable]

SAFE_ATTRIBUTES = sql.SQL("NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
DEFAULT_TIMEOUT_MS = 30_000
_PRIVILEGE_SQL = {
    Privilege.SELECT: sql.SQL("SELECT"),
    Privilege.INSERT: sql.SQL("INSERT"),
    Privilege.UPDATE: sql.SQL("UPDATE"),
    Privilege.DELETE: sql.SQL("DELETE"),
}


def _id(*parts: str) -> sql.Identifier:
    return sql.Identifier(*parts)


def create_role(role: str, *, inherit: bool = False, statement_timeout_ms: int | None = None) -> Statements:
    """A NOLOGIN role with no elevated attribute (provisioning sets LOGIN and a password where needed)."""
    out: Statements = [
        sql.SQL("CREATE ROLE {role} NOLOGIN {inherit} {attrs}").format(
            role=_id(role), inherit=sql.SQL("INHERIT" if inherit else "NOINHERIT"), attrs=SAFE_ATTRIBUTES
        )
    ]
    if statement_timeout_ms is not None:
        out.append(set_statement_timeout(role, statement_timeout_ms))
    return out


def set_statement_timeout(role: str, milliseconds: int) -> sql.Composable:
    return sql.SQL("ALTER ROLE {role} SET statement_timeout = {ms}").format(
        role=_id(role), ms=sql.Literal(f"{int(milliseconds)}ms")
    )


def set_search_path(role: str, schemas: tuple[str, ...]) -> sql.Composable:
    """``pg_catalog`` first, then exactly the role's own ``schemas``: no ``"$user"``, no ``public``, so a schema
    that happens to carry the role's name is never searched (generated SQL is schema-qualified anyway)."""
    path = sql.SQL(", ").join([_id("pg_catalog"), *(_id(s) for s in schemas)])
    return sql.SQL("ALTER ROLE {role} SET search_path = {path}").format(role=_id(role), path=path)


def enable_login(role: str, password: str) -> Statements:
    """Give ``role`` LOGIN with ``password`` (plaintext or a SCRAM verifier; the server stores a verifier).

    Not part of any golden file: credentials are the provisioner's business.
    """
    return [
        sql.SQL("ALTER ROLE {role} LOGIN PASSWORD {pw}").format(role=_id(role), pw=sql.Literal(password)),
    ]


def grant_membership(role: str, member: str, *, inherit: bool, set_role: bool) -> Statements:
    return [
        sql.SQL("GRANT {role} TO {member} WITH INHERIT {inherit}, SET {set_role}").format(
            role=_id(role),
            member=_id(member),
            inherit=sql.SQL("TRUE" if inherit else "FALSE"),
            set_role=sql.SQL("TRUE" if set_role else "FALSE"),
        )
    ]


def drop_owned(role: str) -> Statements:
    """Revoke every privilege of ``role`` in the current database and on shared objects."""
    return [sql.SQL("DROP OWNED BY {role}").format(role=_id(role))]


def drop_role(role: str) -> Statements:
    return [sql.SQL("DROP ROLE IF EXISTS {role}").format(role=_id(role))]


def grant_connect(database: str, role: str) -> Statements:
    return [sql.SQL("GRANT CONNECT ON DATABASE {db} TO {role}").format(db=_id(database), role=_id(role))]


def grant_usage(schema: str, role: str) -> Statements:
    return [sql.SQL("GRANT USAGE ON SCHEMA {s} TO {role}").format(s=_id(schema), role=_id(role))]


def grant_table(privileges: sql.Composable, schema: str, table: str, role: str) -> Statements:
    return [
        sql.SQL("GRANT {privs} ON {table} TO {role}").format(privs=privileges, table=_id(schema, table), role=_id(role))
    ]


def grant_matrix(matrix: AccessMatrix, schema: str, role: str) -> Statements:
    """Exactly the matrix: column lists for SELECT/INSERT/UPDATE, table-level DELETE."""
    out: Statements = []
    for (table, privilege), columns in matrix.grants().items():
        if privilege is Privilege.DELETE:
            privs: sql.Composable = sql.SQL("DELETE")
        else:
            privs = sql.SQL("{priv} ({cols})").format(
                priv=_PRIVILEGE_SQL[privilege], cols=sql.SQL(", ").join(_id(c) for c in columns)
            )
        out += grant_table(privs, schema, table, role)
    return out
