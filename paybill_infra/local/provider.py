"""Dynamic providers that manage the local target's PostgreSQL objects.

Each provider implements the full lifecycle the engine drives: ``create``, ``read`` (refresh: it inspects
PostgreSQL's own catalogs and reports every deviation as ``drift``), ``diff`` (names force a
delete-before-replace; drift or changed settings force an update), ``update`` (converges back to the
declaration) and ``delete`` (removes everything the resource created, data included).

Drift is visible as properties, so ``pulumi refresh --diff`` and ``pulumi preview --diff`` name it: a
provider's ``check`` adds the state it keeps the object in to the inputs (a login role's attributes:
``bypassrls: false`` …), and a refresh that finds drift reports the observed values in the outputs *and*
as the inputs later diffs start from. A ``BYPASSRLS`` granted by hand then shows as
``bypassrls: false => true`` on refresh and ``bypassrls: true => false`` (plus the ``drift`` list) in the
next preview. (The Python dynamic-provider host sends no ``detailed_diff``; the engine diffs inputs.)

The providers run inside the engine's ``pulumi-python`` dynamic-provider process, which every engine run
starts: they import only this package, psycopg and the server module, never the Pulumi program, and they
import them lazily, at the first operation that talks to PostgreSQL (``check``/``diff`` need none of them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, ClassVar

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from paybill_infra._lazy import LazyModule
from paybill_infra.errors import ProvisioningBusyError
from paybill_infra.local.credentials import generate_password, scram_sha256_verifier

if TYPE_CHECKING:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg import sql
    from sqlalchemy import Table

    from agent_acl import DataSchema
    from paybill_infra.datamodel import render, source
    from paybill_infra.local import app_schema, server
    from paybill_infra.local import sql as q
    from paybill_infra.local.server import AdminConnection
else:
    # Lazy: ``check``/``diff`` (all a no-change run asks of this process) need none of them, and
    # SQLAlchemy + agent_acl (behind ``app_schema``/``q``) alone cost seconds of CPU per engine run.
    psycopg = LazyModule("psycopg")
    pg_errors = LazyModule("psycopg.errors")
    sql = LazyModule("psycopg.sql")
    app_schema = LazyModule("paybill_infra.local.app_schema")
    server = LazyModule("paybill_infra.local.server")
    q = LazyModule("paybill_infra.local.sql")
    render = LazyModule("paybill_infra.datamodel.render")
    source = LazyModule("paybill_infra.datamodel.source")

Props = dict[str, Any]
IGNORED_IN_DIFF = frozenset({"server", "drift", "host", "port", "password", "verifier", "__provider"})
OUTPUT_ONLY = frozenset({"drift", "host", "port"})


def _spec(props: Mapping[str, Any]) -> server.ServerSpec:
    given = props["server"]
    return server.ServerSpec(url=given.get("url") or None, embedded_dir=given.get("embedded_dir") or None)


def _data(props: Mapping[str, Any]) -> DataSchema:
    """The tenant data schema a resource provisions: its ``data_schema`` input (the project's schema file, at
    the unit's version), or the shipped default for resources declared without one."""
    document = props.get("data_schema")
    if not document:
        return app_schema.APP_SCHEMA
    return source.parse_schema_file(document, "the data_schema input").data


def _tables(props: Mapping[str, Any]) -> tuple[Table, ...]:
    return app_schema.tables_in(None, _data(props))


def _mark_version(conn: psycopg.Connection[Any], props: Mapping[str, Any], unit: str) -> None:
    """Record the unit's schema version in its marker (in the creating transaction), so a later migration
    knows where it starts; resources declared without a version leave the baseline."""
    if props.get("schema_version") is None:
        return
    data = source.parse_schema_file(props["data_schema"], "the data_schema input")
    _run(conn, render.marker_setup())
    _run(conn, render.set_marker_key(unit, int(props["schema_version"]), data.content_hash))


def _endpoint(admin: AdminConnection) -> Props:
    return {"host": admin.host, "port": admin.port}


LOCK_TIMEOUT_MS = 10_000
"""How long a provisioning statement waits for any lock before failing with a retryable error."""
STATEMENT_TIMEOUT_MS = 300_000
"""How long one provisioning statement may run (``CREATE DATABASE`` included)."""
PROVISIONING_LOCK_TIMEOUT_MS = 120_000
"""How long a provisioner waits for :func:`provisioning_lock`. Only other provisioners hold it, each for a short
section, but a large parallel ``up`` queues many of them; still bounded, so a stuck holder fails retryably."""


@contextmanager
def _connect(admin: AdminConnection, dbname: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
    """A provisioning session: bounded lock waits and statements, so nothing a tenant holds can hang it.

    A timeout becomes :class:`ProvisioningBusyError` (retryable) instead of a hang or an anonymous error.
    """
    conninfo = psycopg.conninfo.make_conninfo(
        admin.conninfo(dbname),
        options=f"-c lock_timeout={int(LOCK_TIMEOUT_MS)} -c statement_timeout={int(STATEMENT_TIMEOUT_MS)}",
    )
    try:
        with psycopg.connect(conninfo, autocommit=autocommit, connect_timeout=30) as conn:
            yield conn
    except (pg_errors.LockNotAvailable, pg_errors.QueryCanceled) as err:
        raise ProvisioningBusyError(dbname, str(err).strip().splitlines()[0]) from None


@contextmanager
def provisioning_lock(admin: AdminConnection) -> Iterator[None]:
    """Serialise changes to shared objects (databases' ACLs, the shared schemas and pooled tables, roles).

    PostgreSQL rewrites an object's ACL in place, so two concurrent GRANTs on one object fail with "tuple
    concurrently updated"; the engine runs tenant resources in parallel, so they take turns here. The lock
    is ``LOCK TABLE ... IN EXCLUSIVE MODE`` on a table of the maintenance database that only the
    provisioner can reach: an advisory lock would do the same job, but any tenant session could take it and
    stall provisioning for as long as it liked (issue 10). One lock for the whole server, because database
    ACLs live in a shared catalog. Held until the ``with`` block ends.
    """
    with _connect(admin, q.MAINTENANCE_DATABASE, autocommit=True) as conn:
        if not _exists(conn, "SELECT 1 WHERE to_regclass(%s) IS NOT NULL", f"{q.LOCK_SCHEMA}.{q.LOCK_TABLE}"):
            for statement in q.create_lock_table():
                # A concurrent provisioner may run the same statement first: its duplicate is as good as ours,
                # whether it shows as a duplicate or, for the schema's ACL, as "tuple concurrently updated".
                with suppress(pg_errors.UniqueViolation, pg_errors.DuplicateObject, pg_errors.InternalError_):
                    conn.execute(statement)
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(PROVISIONING_LOCK_TIMEOUT_MS)}ms",))
            _run(conn, q.take_provisioning_lock())
            yield


def _run(conn: psycopg.Connection[Any], statements: q.Statements) -> None:
    for statement in statements:
        conn.execute(statement)


def _exists(conn: psycopg.Connection[Any], query: str, *params: object) -> bool:
    return conn.execute(query, params).fetchone() is not None


class PostgresProvider(ResourceProvider):
    """Shared lifecycle: subclasses declare which inputs force replacement and implement the SQL."""

    replace_on: ClassVar[tuple[str, ...]] = ()
    secret_outputs: ClassVar[tuple[str, ...]] = ()
    replace_on_drift: ClassVar[bool] = False
    computed: ClassVar[tuple[str, ...]] = ()
    """Outputs the provider computes (inputs carry ``None`` placeholders for them): never a diff."""

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        raise NotImplementedError

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        """Deviations from the declaration (empty when in sync), or ``None`` when the object is gone."""
        raise NotImplementedError

    def _converge(self, admin: AdminConnection, olds: Props, news: Props) -> Props:
        raise NotImplementedError

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        raise NotImplementedError

    def _id(self, props: Props) -> str:
        raise NotImplementedError

    def _desired(self, props: Props) -> Props:
        """Properties the provider keeps the object in, beyond the declared inputs (added by ``check``)."""
        return {}

    def _observed(self, props: Props, drift: list[str]) -> Props:
        """The values of the ``_desired`` properties that ``drift`` shows deviating."""
        return {}

    def check(self, _olds: Props, news: Props) -> CheckResult:
        return CheckResult({**news, **self._desired(news)}, [])

    def create(self, props: Props) -> CreateResult:
        admin = server.admin_connection(_spec(props))
        extra = self._create(admin, props)
        return CreateResult(id_=self._id(props), outs={**props, **extra, **_endpoint(admin), "drift": []})

    def read(self, id_: str, props: Props) -> ReadResult:
        admin = server.admin_connection(_spec(props))
        drift = self._inspect(admin, props)
        if drift is None:
            return ReadResult(None, {})
        observed = self._observed(props, drift)
        outs = {**props, **_endpoint(admin), **observed, "drift": drift}
        if not drift:
            return ReadResult(id_, outs)
        output_only = OUTPUT_ONLY | set(self.secret_outputs) | set(self.computed)
        inputs = {k: v for k, v in props.items() if k not in output_only} | observed | {"drift": drift}
        return ReadResult(id_, outs, inputs)

    def diff(self, _id: str, olds: Props, news: Props) -> DiffResult:
        replaces = [k for k in self.replace_on if olds.get(k) != news.get(k)]
        ignored = IGNORED_IN_DIFF | set(self.secret_outputs) | set(self.computed)
        changed = sorted(k for k in set(olds) | set(news) if k not in ignored and olds.get(k) != news.get(k))
        if olds.get("drift"):
            changed.append("drift")
            if self.replace_on_drift:
                replaces.append("drift")
        return DiffResult(changes=bool(changed), replaces=replaces, stables=[], delete_before_replace=bool(replaces))

    def update(self, _id: str, olds: Props, news: Props) -> UpdateResult:
        admin = server.admin_connection(_spec(news))
        extra = self._converge(admin, olds, news)
        kept = {k: olds[k] for k in self.secret_outputs if k in olds}
        return UpdateResult(outs={**news, **kept, **extra, **_endpoint(admin), "drift": []})

    def delete(self, _id: str, props: Props) -> None:
        self._delete(server.admin_connection(_spec(props)), props)


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
        with _connect(admin, "postgres") as conn:
            _run(
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
                _run(
                    conn,
                    q.alter_login_role(
                        props["role"], verifier, login=False, connection_limit=int(props["connection_limit"])
                    ),
                )
        return {"password": password, "verifier": verifier}

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        with _connect(admin, "postgres") as conn:
            row = conn.execute(
                "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, "
                "rolbypassrls, rolconnlimit, rolpassword FROM pg_authid WHERE rolname = %s",
                (props["role"],),
            ).fetchone()
            path_ok = _exists(
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
        with _connect(admin, "postgres") as conn:
            _run(
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
            _run(conn, q.set_search_path(news["role"], _search_path(news)))
        return {}

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        role = props["role"]
        with _connect(admin, "postgres", autocommit=True) as conn:
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
                with _connect(admin, database) as conn:
                    _run(conn, q.drop_owned(role))
            with _connect(admin, "postgres") as conn:
                if _exists(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", role):
                    _run(conn, q.drop_owned(role))
                    _run(conn, q.drop_role(role))


class SharedPlatformProvider(PostgresProvider):
    """The shared database: owner role, control schema (tenant-role mapping) and pooled tables with
    ENABLE + FORCE row-level security."""

    replace_on = ("database", "owner")

    def _id(self, props: Props) -> str:
        return str(props["database"])

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        with provisioning_lock(admin):
            with _connect(admin, "postgres", autocommit=True) as conn:
                if not _exists(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", props["owner"]):
                    _run(conn, q.create_owner_role(props["owner"]))
                _run(conn, q.create_database(props["database"], props["owner"]))
            try:
                with _connect(admin, props["database"]) as conn:
                    _run(conn, q.lock_public_schema())
                    _run(conn, q.create_control_schema(props["owner"]))
                    _run(conn, q.create_schema(q.POOLED_SCHEMA, props["owner"]))
                    data = _data(props)
                    _run(conn, q.create_tables(q.POOLED_SCHEMA, props["owner"], data=data))
                    _run(conn, q.enable_pooled_rls(_tables(props), tenant_column=data.tenant_column))
                    _mark_version(conn, props, q.POOLED_SCHEMA)
                _harden(admin, props["database"])
            except (psycopg.Error, ProvisioningBusyError):
                self._delete(admin, props)  # CREATE DATABASE cannot share a transaction: undo it by hand
                raise
        return {}

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        with _connect(admin, "postgres") as conn:
            if not _exists(conn, "SELECT 1 FROM pg_database WHERE datname = %s", props["database"]):
                return None
            public_connect = _exists(
                conn,
                "SELECT 1 FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = %s AND a.grantee = 0",
                props["database"],
            )
        drift = ["public_connect"] if public_connect else []
        drift += _hardening_drift(admin, props["database"])
        with _connect(admin, props["database"]) as conn:
            drift += _pooled_rls_drift(conn, props)
            if not _exists(
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
        with _connect(admin, news["database"]) as conn:
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {db} FROM PUBLIC").format(db=sql.Identifier(news["database"])))
            missing = set(_pooled_rls_drift(conn, news))
            for table in _tables(news):
                name = sql.Identifier(q.POOLED_SCHEMA, table.name)
                if f"rls:{table.name}" in missing:
                    conn.execute(sql.SQL("ALTER TABLE {t} ENABLE ROW LEVEL SECURITY").format(t=name))
                    conn.execute(sql.SQL("ALTER TABLE {t} FORCE ROW LEVEL SECURITY").format(t=name))
                if f"policy:{table.name}" in missing:
                    conn.execute(
                        sql.SQL("DROP POLICY IF EXISTS {p} ON {t}").format(p=sql.Identifier(q.POOLED_POLICY), t=name)
                    )
                    _run(conn, q.enable_pooled_rls([table], tenant_column=_data(news).tenant_column)[2:])
        return {}

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        with _connect(admin, "postgres", autocommit=True) as conn:
            _run(conn, q.drop_database(props["database"]))
            if _exists(conn, "SELECT 1 FROM pg_roles WHERE rolname = %s", props["owner"]):
                _run(conn, q.drop_owned(props["owner"]))
                _run(conn, q.drop_role(props["owner"]))


def _harden(admin: AdminConnection, database: str) -> None:
    """Under the provisioning lock: no CONNECT for PUBLIC on the maintenance databases and, where the admin
    is a superuser (the functions belong to the bootstrap superuser), no large-object creation in
    ``database``. A managed server's non-superuser admin cannot revoke the latter: the threat model says so."""
    with _connect(admin, q.MAINTENANCE_DATABASE) as conn:
        _run(conn, q.revoke_maintenance_connect())
    with _connect(admin, database) as conn:
        if _is_superuser(conn):
            _run(conn, q.revoke_large_object_creation())


def _hardening_drift(admin: AdminConnection, database: str) -> list[str]:
    drift: list[str] = []
    with _connect(admin, q.MAINTENANCE_DATABASE) as conn:
        if _exists(
            conn,
            "SELECT 1 FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
            "WHERE d.datname = ANY(%s) AND a.grantee = 0 AND a.privilege_type = 'CONNECT'",
            list(q.MAINTENANCE_DATABASES),
        ):
            drift.append("maintenance_connect")
    with _connect(admin, database) as conn:
        if _is_superuser(conn) and _exists(
            conn,
            "SELECT 1 FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a "
            "WHERE p.oid = ANY(%s::regprocedure[]) AND a.grantee = 0",
            [f"pg_catalog.{name}({args})" for name, args in q.LARGE_OBJECT_CREATORS],
        ):
            drift.append("large_objects")
    return drift


def _is_superuser(conn: psycopg.Connection[Any]) -> bool:
    return _exists(conn, "SELECT 1 FROM pg_roles WHERE rolname = current_user AND rolsuper")


def _pooled_rls_drift(conn: psycopg.Connection[Any], props: Props) -> list[str]:
    drift: list[str] = []
    for table in _tables(props):
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
        if not _exists(
            conn,
            "SELECT 1 FROM pg_policies WHERE schemaname = %s AND tablename = %s AND policyname = %s "
            "AND qual LIKE %s AND with_check LIKE %s",
            q.POOLED_SCHEMA,
            table.name,
            q.POOLED_POLICY,
            *[f"%SELECT {q.CONTROL_SCHEMA}.{q.CURRENT_TENANT_FN}()%"] * 2,
        ):
            drift.append(f"policy:{table.name}")
    return drift


def _table_drift(conn: psycopg.Connection[Any], schema: str, owner: str, props: Props) -> list[str]:
    drift: list[str] = []
    if not _exists(conn, "SELECT 1 FROM pg_namespace WHERE nspname = %s", schema):
        return ["schema"]
    for table in _tables(props):
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
        _run(conn, q.create_schema(schema, owner))
    tables = _tables(props)
    missing = [t for t in tables if f"table:{t.name}" in drift or "schema" in drift]
    if missing:
        _run(conn, q.create_tables(schema, owner, missing, data=_data(props)))
    if "schema" in drift:
        _mark_version(conn, props, schema)
    for table in tables:
        if f"owner:{table.name}" in drift:
            conn.execute(
                sql.SQL("ALTER TABLE {t} OWNER TO {o}").format(
                    t=sql.Identifier(schema, table.name), o=sql.Identifier(owner)
                )
            )
    _run(conn, q.grant_schema_tables(schema, owner, tables))


class SiloDatabaseProvider(PostgresProvider):
    """A silo tenant's own database, owned by its role, with the application tables in schema ``app``."""

    replace_on = ("database", "owner")

    def _id(self, props: Props) -> str:
        return str(props["database"])

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        with _connect(admin, "postgres", autocommit=True) as conn:
            _run(conn, q.create_database(props["database"], props["owner"]))
            _run(conn, q.grant_connect(props["database"], props["owner"]))
        try:
            with _connect(admin, props["database"]) as conn:
                _run(conn, q.lock_public_schema())
                _create_missing_tables(conn, q.SILO_SCHEMA, props["owner"], props)
        except psycopg.Error:
            self._delete(admin, props)
            raise
        return {}

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        with _connect(admin, "postgres") as conn:
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
        with _connect(admin, props["database"]) as conn:
            drift += _table_drift(conn, q.SILO_SCHEMA, props["owner"], props)
        return drift

    def _converge(self, admin: AdminConnection, olds: Props, news: Props) -> Props:
        db = sql.Identifier(news["database"])
        with _connect(admin, "postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {db} FROM PUBLIC").format(db=db))
        with _connect(admin, news["database"]) as conn:
            _create_missing_tables(conn, q.SILO_SCHEMA, news["owner"], news)
        return {}

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        with _connect(admin, "postgres", autocommit=True) as conn:
            _run(conn, q.drop_database(props["database"]))


class BridgeSchemaProvider(PostgresProvider):
    """A bridge tenant's own schema (owned by its role) in the shared database."""

    replace_on = ("database", "schema", "owner")

    def _id(self, props: Props) -> str:
        return f"{props['database']}/{props['schema']}"

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        with provisioning_lock(admin), _connect(admin, props["database"]) as conn:
            _run(conn, q.grant_connect(props["database"], props["owner"]))
            _create_missing_tables(conn, props["schema"], props["owner"], props)
        return {}

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        with _connect(admin, props["database"]) as conn:
            owner = conn.execute(
                "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s", (props["schema"],)
            ).fetchone()
            if owner is None:
                return None
            drift = [] if owner[0] == props["owner"] else ["owner"]
            return drift + _table_drift(conn, props["schema"], props["owner"], props)

    def _converge(self, admin: AdminConnection, olds: Props, news: Props) -> Props:
        with provisioning_lock(admin), _connect(admin, news["database"]) as conn:
            conn.execute(
                sql.SQL("ALTER SCHEMA {s} OWNER TO {o}").format(
                    s=sql.Identifier(news["schema"]), o=sql.Identifier(news["owner"])
                )
            )
            _create_missing_tables(conn, news["schema"], news["owner"], news)
        return {}

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        with provisioning_lock(admin), _connect(admin, props["database"]) as conn:
            _run(conn, q.drop_schema(props["schema"]))
            _run(conn, q.revoke_connect(props["database"], props["owner"]))


class PooledMembershipProvider(PostgresProvider):
    """A pooled tenant's place in the shared tables: its role ↔ tenant mapping and DML grants.

    Deleting it deletes the tenant's rows from every pooled table: offboarding leaves nothing behind.
    """

    replace_on = ("database", "role", "tenant")

    def _id(self, props: Props) -> str:
        return f"{props['database']}/{props['tenant']}"

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        with provisioning_lock(admin), _connect(admin, props["database"]) as conn:
            _run(conn, q.bind_pooled_tenant(props["role"], props["tenant"], _tables(props), database=props["database"]))
        return {}

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        with _connect(admin, props["database"]) as conn:
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
                        (props["role"], f"{q.POOLED_SCHEMA}.{table.name}", privilege),
                    ).fetchone()
                    if row is None or not row[0]:
                        drift.append(f"grant:{table.name}:{privilege.lower()}")
            return drift

    def _converge(self, admin: AdminConnection, olds: Props, news: Props) -> Props:
        with provisioning_lock(admin), _connect(admin, news["database"]) as conn:
            conn.execute(
                sql.SQL("DELETE FROM {t} WHERE role_name = %s").format(
                    t=sql.Identifier(q.CONTROL_SCHEMA, q.TENANT_ROLES_TABLE)
                ),
                (news["role"],),
            )
            _run(conn, q.bind_pooled_tenant(news["role"], news["tenant"], _tables(news), database=news["database"]))
        return {}

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        with provisioning_lock(admin), _connect(admin, props["database"]) as conn:
            data = _data(props)
            _run(conn, q.unbind_pooled_tenant(props["role"], props["tenant"], _tables(props), data.tenant_column))
