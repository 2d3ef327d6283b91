"""A tenant's own place: a silo database, a bridge schema, or a pooled membership in the shared tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paybill_infra.local.provider.base import PostgresProvider, Props
from paybill_infra.local.provider.data import data_of, mark_version, tables_of
from paybill_infra.local.provider.lazy import psycopg, q, sql
from paybill_infra.local.provider.sessions import connect, exists, provisioning_lock, run

if TYPE_CHECKING:
    from paybill_infra.local.server import AdminConnection


def _table_drift(conn: psycopg.Connection[Any], schema: str, owner: str, props: Props) -> list[str]:
    drift: list[str] = []
    if not exists(conn, "SELECT 1 FROM pg_namespace WHERE nspname = %s", schema):
        return ["schema"]
    for table in tables_of(props):
        row = conn.execute(
            "SELECT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            (schema, table.name),
        ).fetchone()
        if row is None:
            drift.append(f"table:{table.name}")
        elif row[0] != owner:
            drift.append(f"owner:{table.name}")
    return drift


def _create_missing_tables(conn: psycopg.Connection[Any], schema: str, owner: str, props: Props) -> None:
    drift = set(_table_drift(conn, schema, owner, props))
    if "schema" in drift:
        run(conn, q.create_schema(schema, owner))
    tables = tables_of(props)
    missing = [t for t in tables if f"table:{t.name}" in drift or "schema" in drift]
    if missing:
        run(conn, q.create_tables(schema, owner, missing, data=data_of(props)))
    if "schema" in drift:
        mark_version(conn, props, schema)
    for table in tables:
        if f"owner:{table.name}" in drift:
            conn.execute(
                sql.SQL("ALTER TABLE {t} OWNER TO {o}").format(
                    t=sql.Identifier(schema, table.name), o=sql.Identifier(owner)
                )
            )
    run(conn, q.grant_schema_tables(schema, owner, tables))


class SiloDatabaseProvider(PostgresProvider):
    """A silo tenant's own database, owned by its role, with the application tables in schema ``app``."""

    replace_on = ("database", "owner")

    def _id(self, props: Props) -> str:
        return str(props["database"])

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        with connect(admin, "postgres", autocommit=True) as conn:
            run(conn, q.create_database(props["database"], props["owner"]))
            run(conn, q.grant_connect(props["database"], props["owner"]))
        try:
            with connect(admin, props["database"]) as conn:
                run(conn, q.lock_public_schema())
                _create_missing_tables(conn, q.SILO_SCHEMA, props["owner"], props)
        except psycopg.Error:
            self._delete(admin, props)
            raise
        return {}

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        with connect(admin, "postgres") as conn:
            row = conn.execute(
                "SELECT pg_get_userbyid(datdba), EXISTS (SELECT 1 FROM aclexplode(datacl) a WHERE a.grantee = 0) "
                "FROM pg_database WHERE datname = %s",
                (props["database"],),
            ).fetchone()
        if row is None:
            return None
        drift = [] if row[0] == props["owner"] else ["owner"]
        if row[1]:
            drift.append("public_connect")
        with connect(admin, props["database"]) as conn:
            drift += _table_drift(conn, q.SILO_SCHEMA, props["owner"], props)
        return drift

    def _converge(self, admin: AdminConnection, olds: Props, news: Props) -> Props:
        db = sql.Identifier(news["database"])
        with connect(admin, "postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {db} FROM PUBLIC").format(db=db))
        with connect(admin, news["database"]) as conn:
            _create_missing_tables(conn, q.SILO_SCHEMA, news["owner"], news)
        return {}

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        with connect(admin, "postgres", autocommit=True) as conn:
            run(conn, q.drop_database(props["database"]))


class BridgeSchemaProvider(PostgresProvider):
    """A bridge tenant's own schema (owned by its role) in the shared database."""

    replace_on = ("database", "schema", "owner")

    def _id(self, props: Props) -> str:
        return f"{props['database']}/{props['schema']}"

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        with provisioning_lock(admin), connect(admin, props["database"]) as conn:
            run(conn, q.grant_connect(props["database"], props["owner"]))
            _create_missing_tables(conn, props["schema"], props["owner"], props)
        return {}

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        with connect(admin, props["database"]) as conn:
            owner = conn.execute(
                "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s", (props["schema"],)
            ).fetchone()
            if owner is None:
                return None
            drift = [] if owner[0] == props["owner"] else ["owner"]
            return drift + _table_drift(conn, props["schema"], props["owner"], props)

    def _converge(self, admin: AdminConnection, olds: Props, news: Props) -> Props:
        with provisioning_lock(admin), connect(admin, news["database"]) as conn:
            conn.execute(
                sql.SQL("ALTER SCHEMA {s} OWNER TO {o}").format(
                    s=sql.Identifier(news["schema"]), o=sql.Identifier(news["owner"])
                )
            )
            _create_missing_tables(conn, news["schema"], news["owner"], news)
        return {}

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        with provisioning_lock(admin), connect(admin, props["database"]) as conn:
            run(conn, q.drop_schema(props["schema"]))
            run(conn, q.revoke_connect(props["database"], props["owner"]))


class PooledMembershipProvider(PostgresProvider):
    """A pooled tenant's place in the shared tables: its role ↔ tenant mapping and DML grants.

    Deleting it deletes the tenant's rows from every pooled table: offboarding leaves nothing behind.
    """

    replace_on = ("database", "role", "tenant")

    def _id(self, props: Props) -> str:
        return f"{props['database']}/{props['tenant']}"

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        with provisioning_lock(admin), connect(admin, props["database"]) as conn:
            run(conn, q.bind_pooled_tenant(props["role"], props["tenant"], _tables(props), database=props["database"]))
        return {}

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        with connect(admin, props["database"]) as conn:
            mapped = conn.execute(
                sql.SQL("SELECT tenant_id FROM {t} WHERE role_name = %s").format(
                    t=sql.Identifier(q.CONTROL_SCHEMA, q.TENANT_ROLES_TABLE)
                ),
                (props["role"],),
            ).fetchone()
            if mapped is None:
                return None
            drift = [] if mapped[0] == props["tenant"] else ["mapping"]
            for table in _tables(props):
                for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                    row = conn.execute(
                        "SELECT has_table_privilege(%s, %s, %s)",
                        (props["role"], f"{q.POOLED_SCHEMA}.{table}", privilege),
                    ).fetchone()
                    if row is None or not row[0]:
                        drift.append(f"grant:{table}:{privilege.lower()}")
            return drift

    def _converge(self, admin: AdminConnection, olds: Props, news: Props) -> Props:
        with provisioning_lock(admin), connect(admin, news["database"]) as conn:
            conn.execute(
                sql.SQL("DELETE FROM {t} WHERE role_name = %s").format(
                    t=sql.Identifier(q.CONTROL_SCHEMA, q.TENANT_ROLES_TABLE)
                ),
                (news["role"],),
            )
            run(conn, q.bind_pooled_tenant(news["role"], news["tenant"], _tables(news), database=news["database"]))
        return {}

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        with provisioning_lock(admin), connect(admin, props["database"]) as conn:
            run(
                conn,
                q.unbind_pooled_tenant(props["role"], props["tenant"], _tables(props), _tenant_column(props)),
            )


def _tables(props: Props) -> tuple[str, ...]:
    """A membership's pooled tables, parents first: its ``tables`` input, or, in state written before
    memberships carried only the names, the tables of its ``data_schema`` input."""
    names = props.get("tables")
    return tuple(names) if names else tuple(table.name for table in tables_of(props))


def _tenant_column(props: Props) -> str:
    column = props.get("tenant_column")
    return str(column) if column else data_of(props).tenant_column
