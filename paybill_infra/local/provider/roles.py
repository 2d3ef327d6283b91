"""Tenant login roles: attributes, password and search path kept as declared (drift reverted)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from paybill_infra.local.credentials import generate_password, scram_sha256_verifier
from paybill_infra.local.provider.base import PostgresProvider, Props
from paybill_infra.local.provider.lazy import q, sql
from paybill_infra.local.provider.sessions import connect, exists, provisioning_lock, run

if TYPE_CHECKING:
    from paybill_infra.local.server import AdminConnection


def _search_path(props: Props) -> list[str]:
    """The role's own schemas (``pg_catalog`` goes first, added by the SQL)."""
    return [str(schema) for schema in props.get("search_path") or []]


class LoginRoleProvider(PostgresProvider):
    """A tenant's login role. The password is the one given, or generated once, and kept; drift in attributes
    or password (someone ran ``ALTER ROLE`` by hand) is detected on refresh and reverted on update."""

    replace_on = ("role",)
    secret_outputs = ("password", "verifier")
    forbidden_attributes: ClassVar[tuple[str, ...]] = (
        "superuser",
        "createdb",
        "createrole",
        "inherit",
        "replication",
        "bypassrls",
    )
    """Role attributes a tenant role never has (``ALTER ROLE … NOSUPERUSER … NOBYPASSRLS`` on converge)."""

    def _id(self, props: Props) -> str:
        return str(props["role"])

    def _desired(self, props: Props) -> Props:
        return dict.fromkeys(self.forbidden_attributes, False)

    def _observed(self, props: Props, drift: list[str]) -> Props:
        return {name: name in drift for name in self.forbidden_attributes}

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        password = str(props.get("password") or generate_password())
        verifier = scram_sha256_verifier(password)
        with connect(admin, "postgres") as conn:
            run(
                conn,
                q.create_login_role(
                    props["role"],
                    verifier,
                    connection_limit=int(props["connection_limit"]),
                    statement_timeout_ms=int(props["statement_timeout_ms"]),
                    search_path=_search_path(props),
                ),
            )
            if not props.get("login", True):
                run(
                    conn,
                    q.alter_login_role(
                        props["role"], verifier, login=False, connection_limit=int(props["connection_limit"])
                    ),
                )
        return {"password": password, "verifier": verifier}

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        with connect(admin, "postgres") as conn:
            row = conn.execute(
                "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, "
                "rolbypassrls, rolconnlimit, rolpassword FROM pg_authid WHERE rolname = %s",
                (props["role"],),
            ).fetchone()
            path_ok = exists(
                conn,
                "SELECT 1 FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
                "WHERE r.rolname = %s AND s.setdatabase = 0 AND 'search_path=' || (SELECT string_agg(quote_ident(x), "
                "', ' ORDER BY i) FROM unnest(%s::text[]) WITH ORDINALITY AS u(x, i)) = ANY(s.setconfig)",
                props["role"],
                ["pg_catalog", *_search_path(props)],
            )
        if row is None:
            return None
        login, superuser, createdb, createrole, inherit, replication, bypassrls, connlimit, verifier = row
        drift = [
            name
            for name, bad in (
                ("login", login != bool(props.get("login", True))),
                ("superuser", superuser),
                ("createdb", createdb),
                ("createrole", createrole),
                ("inherit", inherit),
                ("replication", replication),
                ("bypassrls", bypassrls),
                ("connection_limit", connlimit != int(props["connection_limit"])),
                ("password", verifier != props.get("verifier")),
                ("search_path", not path_ok),
            )
            if bad
        ]
        return drift

    def _converge(self, admin: AdminConnection, olds: Props, news: Props) -> Props:
        verifier = olds["verifier"]
        with connect(admin, "postgres") as conn:
            run(
                conn,
                q.alter_login_role(
                    news["role"],
                    verifier,
                    login=bool(news.get("login", True)),
                    connection_limit=int(news["connection_limit"]),
                ),
            )
            conn.execute(
                sql.SQL("ALTER ROLE {role} SET statement_timeout = {ms}").format(
                    role=sql.Identifier(news["role"]), ms=sql.Literal(f"{int(news['statement_timeout_ms'])}ms")
                )
            )
            run(conn, q.set_search_path(news["role"], _search_path(news)))
        return {}

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        role = props["role"]
        with connect(admin, "postgres", autocommit=True) as conn:
            databases = [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid "
                    "JOIN pg_roles r ON r.oid = s.refobjid WHERE r.rolname = %s AND d.datallowconn",
                    (role,),
                )
            ]
        with provisioning_lock(admin):
            for database in databases:
                with connect(admin, database) as conn:
                    run(conn, q.drop_owned(role))
            with connect(admin, "postgres") as conn:
                if exists(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", role):
                    run(conn, q.drop_owned(role))
                    run(conn, q.drop_role(role))
