"""The shared database of pooled and bridge tenants, with the server hardening it brings along."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paybill_infra.errors import ProvisioningBusyError
from paybill_infra.local.provider.base import PostgresProvider, Props
from paybill_infra.local.provider.data import data_of, mark_version, tables_of
from paybill_infra.local.provider.lazy import psycopg, q, sql
from paybill_infra.local.provider.sessions import connect, exists, provisioning_lock, run

if TYPE_CHECKING:
    from paybill_infra.local.server import AdminConnection


class SharedPlatformProvider(PostgresProvider):
    """The shared database: owner role, control schema (tenant-role mapping) and pooled tables with
    ENABLE + FORCE row-level security."""

    replace_on = ("database", "owner")

    def _id(self, props: Props) -> str:
        return str(props["database"])

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        with provisioning_lock(admin):
            with connect(admin, "postgres", autocommit=True) as conn:
                if not exists(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", props["owner"]):
                    run(conn, q.create_owner_role(props["owner"]))
                run(conn, q.create_database(props["database"], props["owner"]))
            try:
                with connect(admin, props["database"]) as conn:
                    run(conn, q.lock_public_schema())
                    run(conn, q.create_control_schema(props["owner"]))
                    run(conn, q.create_schema(q.POOLED_SCHEMA, props["owner"]))
                    data = data_of(props)
                    run(conn, q.create_tables(q.POOLED_SCHEMA, props["owner"], data=data))
                    run(conn, q.enable_pooled_rls(tables_of(props), tenant_column=data.tenant_column))
                    mark_version(conn, props, q.POOLED_SCHEMA)
                _harden(admin, props["database"])
            except (psycopg.Error, ProvisioningBusyError):
                self._delete(admin, props)  # CREATE DATABASE cannot share a transaction: undo it by hand
                raise
        return {}

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        with connect(admin, "postgres") as conn:
            if not exists(conn, "SELECT 1 FROM pg_database WHERE datname = %s", props["database"]):
                return None
            public_connect = exists(
                conn,
                "SELECT 1 FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = %s AND a.grantee = 0",
                props["database"],
            )
        drift = ["public_connect"] if public_connect else []
        drift += _hardening_drift(admin, props["database"])
        with connect(admin, props["database"]) as conn:
            drift += _pooled_rls_drift(conn, props)
            if not exists(
                conn,
                "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = %s AND c.relrowsecurity AND c.relforcerowsecurity",
                q.CONTROL_SCHEMA,
                q.TENANT_ROLES_TABLE,
            ):
                drift.append("control_schema")
        return drift

    def _converge(self, admin: AdminConnection, olds: Props, news: Props) -> Props:
        with provisioning_lock(admin):
            _harden(admin, news["database"])
        with connect(admin, news["database"]) as conn:
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {db} FROM PUBLIC").format(db=sql.Identifier(news["database"])))
            missing = set(_pooled_rls_drift(conn, news))
            for table in tables_of(news):
                name = sql.Identifier(q.POOLED_SCHEMA, table.name)
                if f"rls:{table.name}" in missing:
                    conn.execute(sql.SQL("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY").format(t=name))
                    conn.execute(sql.SQL("ALTER TABLE {t} FORCE ROW LEVEL SECURITY").format(t=name))
                if f"policy:{table.name}" in missing:
                    conn.execute(
                        sql.SQL("DROP POLICY IF EXISTS {p} ON {t}").format(p=sql.Identifier(q.POOLED_POLICY), t=name)
                    )
                    run(conn, q.enable_pooled_rls([table], tenant_column=data_of(news).tenant_column)[2:])
        return {}

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        with connect(admin, "postgres", autocommit=True) as conn:
            run(conn, q.drop_database(props["database"]))
            if exists(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", props["owner"]):
                run(conn, q.drop_owned(props["owner"]))
                run(conn, q.drop_role(props["owner"]))


def _harden(admin: AdminConnection, database: str) -> None:
    """Under the provisioning lock: no CONNECT for PUBLIC on the maintenance databases and, where the admin
    is a superuser (the functions belong to the bootstrap superuser), no large-object creation in
    ``database``. A managed server's non-superuser admin cannot revoke the latter: the threat model says so."""
    with connect(admin, q.MAINTENANCE_DATABASE) as conn:
        run(conn, q.revoke_maintenance_connect())
    with connect(admin, database) as conn:
        if _is_superuser(conn):
            run(conn, q.revoke_large_object_creation())


def _hardening_drift(admin: AdminConnection, database: str) -> list[str]:
    drift: list[str] = []
    with connect(admin, q.MAINTENANCE_DATABASE) as conn:
        if exists(
            conn,
            "SELECT 1 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
            "WHERE d.datname = ANY(%s) AND a.grantee = 0 AND a.privilege_type = 'CONNECT'",
            list(q.MAINTENANCE_DATABASES),
        ):
            drift.append("maintenance_connect")
    with connect(admin, database) as conn:
        if _is_superuser(conn) and exists(
            conn,
            "SELECT 1 FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a "
            "WHERE p.oid = ANY(%s::regprocedure[]) AND a.grantee = 0",
            [f"pg_catalog.{name}({args})" for name, args in q.LARGE_OBJECT_CREATORS],
        ):
            drift.append("large_objects")
    return drift


def _is_superuser(conn: psycopg.Connection[Any]) -> bool:
    return exists(conn, "SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper")


def _pooled_rls_drift(conn: psycopg.Connection[Any], props: Props) -> list[str]:
    drift: list[str] = []
    for table in tables_of(props):
        row = conn.execute(
            "SELECT c.relrowsecurity, c.relforcerowsecurity FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
            (q.POOLED_SCHEMA, table.name),
        ).fetchone()
        if row is None:
            drift.append(f"table:{table.name}")
            continue
        if not (row[0] and row[1]):
            drift.append(f"rls:{table.name}")
        if not exists(
            conn,
            "SELECT 1 FROM pg_policies WHERE schemaname = %s AND tablename = %s AND policyname = %s "
            "AND qual LIKE %s AND with_check LIKE %s",
            q.POOLED_SCHEMA,
            table.name,
            q.POOLED_POLICY,
            *[q.POOLED_POLICY_FORM] * 2,
        ):
            drift.append(f"policy:{table.name}")
    return drift
