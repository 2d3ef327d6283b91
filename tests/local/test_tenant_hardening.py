"""Issue 10's attacks, replayed against the local target's real provisioning code on a real PostgreSQL.

Tenants are provisioned by the same dynamic providers the engine drives (``create``/``read``/``update`` with
the props a Pulumi program passes), on an embedded server of this module's own: the hardening revokes
CONNECT on ``postgres`` from PUBLIC, which must not leak into other modules' session server. Every attack
logs in with the tenant's own generated credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors

from paybill_infra.controlplane.stacks import is_transient
from paybill_infra.errors import EngineError, ProvisioningBusyError
from paybill_infra.local import provider as prov
from paybill_infra.local import sql as q
from paybill_infra.local.provider import sessions
from paybill_infra.local.server import AdminConnection, EmbeddedServer
from paybill_infra.schema import Cloud, Isolation
from paybill_infra.topology.naming import NameKind, names_for

pytestmark = pytest.mark.postgres

SHARED = q.SHARED_DATABASE
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


@dataclass(frozen=True)
class Login:
    slug: str
    isolation: Isolation
    role: str
    password: str
    database: str
    schema: str


class Fleet:
    """Provisions tenants through the providers, as the engine would, and logs in as them."""

    def __init__(self, admin: AdminConnection) -> None:
        self.admin = admin
        self.server = {"url": admin.url("postgres")}
        self.logins: dict[str, Login] = {}

    def platform(self) -> None:
        prov.SharedPlatformProvider().create({"server": self.server, "database": SHARED, "owner": q.OWNER_ROLE})

    def tenant(self, slug: str, isolation: Isolation) -> Login:
        names = names_for(Cloud.LOCAL, slug)
        role = names[NameKind.DB_USER]
        schema = {Isolation.SILO: q.SILO_SCHEMA, Isolation.BRIDGE: names[NameKind.SCHEMA]}.get(
            isolation, q.POOLED_SCHEMA
        )
        created = prov.LoginRoleProvider().create(self.role_props(role, schema))
        database = names[NameKind.DATABASE] if isolation is Isolation.SILO else SHARED
        base = {"server": self.server, "owner": role, "database": database}
        if isolation is Isolation.SILO:
            prov.SiloDatabaseProvider().create(base)
        elif isolation is Isolation.BRIDGE:
            prov.BridgeSchemaProvider().create({**base, "schema": schema})
        else:
            prov.PooledMembershipProvider().create({**base, "role": role, "tenant": slug})
        login = Login(slug, isolation, role, str((created.outs or {})["password"]), database, schema)
        self.logins[slug] = login
        return login

    def role_props(self, role: str, schema: str) -> dict[str, Any]:
        return {
            "server": self.server,
            "role": role,
            "connection_limit": 20,
            "statement_timeout_ms": 30_000,
            "search_path": [schema],
            "login": True,
        }

    def connect(self, slug: str, dbname: str | None = None) -> psycopg.Connection[Any]:
        login = self.logins[slug]
        url = self.admin.url(dbname or login.database, user=login.role, password=login.password)
        return psycopg.connect(url, autocommit=True)

    def query(self, statement: str, *params: object, dbname: str = SHARED) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.admin.conninfo(dbname), autocommit=True) as conn:
            cur = conn.execute(statement, params or None)
            return cur.fetchall() if cur.description else []


@pytest.fixture(scope="module")
def fleet(server_scratch: Path) -> Iterator[Fleet]:
    server = EmbeddedServer(server_scratch / "hardening")
    fleet = Fleet(server.ensure_running())
    fleet.platform()
    fleet.tenant("zeta", Isolation.POOLED)
    fleet.tenant("zeta-app", Isolation.BRIDGE)
    fleet.tenant("acme", Isolation.SILO)
    fleet.query("INSERT INTO pooled.customers (tenant_id, name) VALUES ('zeta', 'zeta-secret')")
    yield fleet
    server.stop()


def test_a_slug_cannot_capture_another_tenants_search_path(fleet: Fleet) -> None:
    """The issue's attack: ``zeta-app`` (bridge) baits ``zeta`` (pooled) with a table, a function and an
    INSERT target, all in a schema it shares with PUBLIC. None of ``zeta``'s unqualified statements reach it."""
    attacker, victim = fleet.logins["zeta-app"], fleet.logins["zeta"]
    assert attacker.schema != victim.role, "names of two tenants collide"
    bait = attacker.schema
    try:
        _capture_attempt(fleet, bait)
    finally:
        with fleet.connect("zeta-app") as conn:
            conn.execute(f'DROP TABLE IF EXISTS "{bait}".loot')
            conn.execute(f'DROP FUNCTION IF EXISTS "{bait}".current_tenant()')
            conn.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{bait}" FROM PUBLIC')
            conn.execute(f'REVOKE ALL ON SCHEMA "{bait}" FROM PUBLIC')
            conn.execute(f'DELETE FROM "{bait}".customers')
        fleet.query("DELETE FROM pooled.customers WHERE name <> 'zeta-secret'")


def _capture_attempt(fleet: Fleet, bait: str) -> None:
    with fleet.connect("zeta-app") as conn:
        conn.execute(f'CREATE TABLE "{bait}".loot (tenant_id text, name text)')
        conn.execute(f"INSERT INTO \"{bait}\".customers (tenant_id, name) VALUES ('zeta', 'attacker-bait')")
        conn.execute("SET check_function_bodies = off")  # the body only runs as the victim, who may read pooled
        conn.execute(
            f'CREATE FUNCTION "{bait}".current_tenant() RETURNS text LANGUAGE sql AS '
            f"$$ INSERT INTO \"{bait}\".loot SELECT tenant_id, name FROM pooled.customers; SELECT 'zeta' $$"
        )
        conn.execute(f'GRANT USAGE ON SCHEMA "{bait}" TO PUBLIC')
        conn.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA "{bait}" TO PUBLIC')
    with fleet.connect("zeta") as conn:
        assert conn.execute("SHOW search_path").fetchone() == ("pg_catalog, pooled",)
        assert conn.execute("SELECT name FROM customers").fetchall() == [("zeta-secret",)]
        with pytest.raises(errors.UndefinedFunction):
            conn.execute("SELECT current_tenant()")
        conn.execute("INSERT INTO customers (tenant_id, name) VALUES ('zeta', 'zeta-new')")
        # Even a victim that widens its own path the old way finds no schema named after its role.
        conn.execute('SET search_path = "$user", public, pooled')
        conn.execute("INSERT INTO customers (tenant_id, name) VALUES ('zeta', 'zeta-newer')")
        assert {r[0] for r in conn.execute("SELECT name FROM customers")} == {"zeta-secret", "zeta-new", "zeta-newer"}
    assert fleet.query(f'SELECT count(*) FROM "{bait}".loot') == [(0,)]
    assert fleet.query(f'SELECT name FROM "{bait}".customers') == [("attacker-bait",)]


def test_a_schema_named_like_a_role_is_still_not_searched(fleet: Fleet) -> None:
    """Defence in depth: the pinned path alone defeats the old collision (a schema carrying the victim's role
    name, owned by the attacker), whatever the naming scheme."""
    victim, attacker = fleet.logins["zeta"], fleet.logins["zeta-app"]
    fleet.query(f'CREATE SCHEMA "{victim.role}" AUTHORIZATION "{attacker.role}"')
    try:
        with fleet.connect("zeta-app") as conn:
            conn.execute(f'CREATE TABLE "{victim.role}".customers (tenant_id text, name text)')
            conn.execute(f"INSERT INTO \"{victim.role}\".customers VALUES ('zeta', 'captured')")
            conn.execute(f'GRANT USAGE ON SCHEMA "{victim.role}" TO PUBLIC')
            conn.execute(f'GRANT ALL ON "{victim.role}".customers TO PUBLIC')
        with fleet.connect("zeta") as conn:
            assert "captured" not in {r[0] for r in conn.execute("SELECT name FROM customers")}
            conn.execute("INSERT INTO customers (tenant_id, name) VALUES ('zeta', 'mine')")
        assert fleet.query(f'SELECT name FROM "{victim.role}".customers') == [("captured",)]
    finally:
        fleet.query(f'DROP SCHEMA "{victim.role}" CASCADE')


def test_a_tenant_holding_every_advisory_lock_it_can_take_does_not_delay_provisioning(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "LOCK_TIMEOUT_MS", 2_000)
    monkeypatch.setattr(sessions, "PROVISIONING_LOCK_TIMEOUT_MS", 2_000)
    held: list[psycopg.Connection[Any]] = []
    try:
        for slug in ("zeta", "zeta-app", "acme"):
            for dbname in ("postgres", "template1"):
                with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
                    fleet.connect(slug, dbname)
            conn = fleet.connect(slug)
            held.append(conn)
            # The old provisioning lock, then a sweep of both key spaces (try: tenants sharing a database
            # share its advisory keys, and whoever comes first keeps them).
            conn.execute("SELECT pg_try_advisory_lock(hashtext('paybill:shared-acl'))")
            conn.execute("SELECT pg_try_advisory_lock(k) FROM generate_series(-5000, 5000) AS k")
            conn.execute(
                "SELECT pg_try_advisory_lock(k, j) FROM generate_series(-30, 30) k, generate_series(-30, 30) j"
            )
            reach = f"SELECT has_schema_privilege(%s, '{q.LOCK_SCHEMA}', 'USAGE')"
            assert fleet.query(reach, fleet.logins[slug].role, dbname="postgres") == [(False,)]
        fleet.tenant("newco", Isolation.POOLED)  # a lock wait longer than 2 s would raise instead
        fleet.tenant("newco-b", Isolation.BRIDGE)
        prov.PooledMembershipProvider().delete("", {"server": fleet.server, "database": SHARED, **_member("newco")})
        held_keys = fleet.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
        assert held_keys[0][0] > 10_000, "the tenants did not hold the locks the test is about"
    finally:
        for conn in held:
            conn.close()
    assert fleet.query("SELECT tenant_id FROM paybill.tenant_roles ORDER BY 1") == [("zeta",)]


def _member(slug: str) -> dict[str, str]:
    return {"role": names_for(Cloud.LOCAL, slug)[NameKind.DB_USER], "tenant": slug}


def test_a_stuck_provisioning_lock_fails_typed_and_retryable_never_hangs(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions, "PROVISIONING_LOCK_TIMEOUT_MS", 300)
    props = {"server": fleet.server, "database": SHARED, **_member("lockco")}
    role = fleet.role_props(props["role"], q.POOLED_SCHEMA)
    prov.LoginRoleProvider().create(role)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(fleet.admin.conninfo("postgres")) as conn:
            conn.execute(f'LOCK TABLE "{q.LOCK_SCHEMA}"."{q.LOCK_TABLE}" IN EXCLUSIVE MODE')
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(ProvisioningBusyError) as info:
            prov.PooledMembershipProvider().create(props)
    finally:
        release.set()
        holder.join()
    assert info.value.database == "postgres" and "lock timeout" in info.value.reason
    assert is_transient(EngineError("pool", "up", "program_error", f"Exception: {info.value}"))
    prov.PooledMembershipProvider().create(props)  # the retry succeeds once the lock is free
    prov.PooledMembershipProvider().delete("", props)
    prov.LoginRoleProvider().delete(props["role"], role)


def test_what_a_tenant_login_can_reach_is_pinned(fleet: Fleet) -> None:
    """A regression that widens any of these sets fails here; what stays listable is in the threat model."""
    expected = {
        "zeta": {
            "databases": [SHARED],
            "usage": ["paybill", "pooled"],
            "create": [],
            "relations": ["paybill.tenant_roles", "pooled.customers", "pooled.invoices"],
            "functions": [],
        },
        "zeta-app": {
            "databases": [SHARED],
            "usage": ["s_zeta_app"],
            "create": ["s_zeta_app"],
            "relations": ["s_zeta_app.customers", "s_zeta_app.invoices"],
            "functions": [],
        },
        "acme": {
            "databases": ["d_acme"],
            "usage": ["app", "public"],  # its own database: it owns ``public`` as pg_database_owner
            "create": ["app", "public"],
            "relations": ["app.customers", "app.invoices"],
            "functions": [],
        },
    }
    skip = sql_list(SYSTEM_SCHEMAS)
    for slug, want in expected.items():
        with fleet.connect(slug) as conn:
            got = {
                "databases": column(
                    conn,
                    "SELECT datname FROM pg_database WHERE datallowconn AND has_database_privilege(oid, 'CONNECT')",
                ),
                "usage": column(
                    conn,
                    f"SELECT nspname FROM pg_namespace WHERE nspname NOT IN {skip} AND nspname NOT LIKE 'pg_temp%%' "
                    "AND nspname NOT LIKE 'pg_toast_temp%%' AND has_schema_privilege(oid, 'USAGE')",
                ),
                "create": column(
                    conn,
                    f"SELECT nspname FROM pg_namespace WHERE nspname NOT IN {skip} "
                    "AND has_schema_privilege(oid, 'CREATE')",
                ),
                "relations": column(
                    conn,
                    "SELECT n.nspname || '.' || c.relname FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    f"WHERE n.nspname NOT IN {skip} AND c.relkind IN ('r', 'v', 'm', 'p', 'f', 'S') AND "
                    "has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')",
                ),
                "functions": column(
                    conn,
                    "SELECT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    f"WHERE n.nspname NOT IN {skip} AND has_function_privilege(p.oid, 'EXECUTE')",
                ),
            }
            assert got == want, slug
            if fleet.logins[slug].database == SHARED:  # a silo tenant owns its database: TEMP and lo_* are its own
                temp = conn.execute("SELECT has_database_privilege(current_database(), 'TEMP')").fetchone()
                assert temp == (False,)
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute("SELECT lo_create(0)")
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute("SELECT lo_from_bytea(0, 'x')")


def test_the_residual_catalog_exposure_is_what_the_threat_model_says(fleet: Fleet) -> None:
    """What PostgreSQL lets every login list (docs/threat-model.md, "Residual channels"): pinned, so the
    document is revisited if the server or the provisioning ever changes it."""
    with fleet.connect("zeta") as conn, fleet.connect("zeta-app") as other:
        other.execute("SELECT 'zeta-app is busy with a secret query'")
        roles = set(column(conn, "SELECT rolname FROM pg_roles"))
        assert {"r_zeta", "r_zeta_app", "r_acme"} <= roles, "other tenants' roles are listable"
        assert {SHARED, "d_acme"} <= set(column(conn, "SELECT datname FROM pg_database"))
        assert "s_zeta_app" in column(conn, "SELECT nspname FROM pg_namespace")
        settings = column(
            conn, "SELECT unnest(setconfig) FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole"
        )
        assert "search_path=pg_catalog, s_zeta_app" in settings, "per-role settings are listable"
        activity = conn.execute("SELECT query FROM pg_stat_activity WHERE usename = 'r_zeta_app'").fetchall()
        assert activity and all(row[0] == "<insufficient privilege>" for row in activity), "query text is hidden"


def test_hardening_drift_is_detected_and_converged(fleet: Fleet) -> None:
    platform = {"server": fleet.server, "database": SHARED, "owner": q.OWNER_ROLE}
    role = fleet.role_props(fleet.logins["zeta"].role, q.POOLED_SCHEMA)
    fleet.query("GRANT CONNECT ON DATABASE postgres TO PUBLIC")
    fleet.query("GRANT EXECUTE ON FUNCTION pg_catalog.lo_create(oid) TO PUBLIC")
    fleet.query(f'ALTER ROLE "{role["role"]}" RESET search_path')
    assert {"maintenance_connect", "large_objects"} <= set(
        prov.SharedPlatformProvider().read(SHARED, platform).outs["drift"]
    )
    assert "search_path" in prov.LoginRoleProvider().read(role["role"], role).outs["drift"]
    prov.SharedPlatformProvider().update(SHARED, {**platform, "drift": ["maintenance_connect"]}, platform)
    olds = {**role, "verifier": fleet.query("SELECT rolpassword FROM pg_authid WHERE rolname = %s", role["role"])[0][0]}
    prov.LoginRoleProvider().update(role["role"], olds, role)
    assert prov.SharedPlatformProvider().read(SHARED, platform).outs["drift"] == []
    assert prov.LoginRoleProvider().read(role["role"], olds).outs["drift"] == []


def column(conn: psycopg.Connection[Any], statement: str) -> list[str]:
    return sorted(str(row[0]) for row in conn.execute(statement))


def sql_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def test_a_policy_in_the_old_function_form_is_drift_and_converges(fleet: Fleet) -> None:
    """Platforms created before issue 13 carry ``tenant_id = (SELECT paybill.current_tenant())``: reading the
    platform reports it, and converging rewrites it to the sub-select form, which calls no function."""
    platform = {"server": fleet.server, "database": SHARED, "owner": q.OWNER_ROLE}
    fleet.query(
        "CREATE FUNCTION paybill.current_tenant() RETURNS text LANGUAGE sql STABLE SET search_path = pg_catalog "
        "AS 'SELECT tenant_id FROM paybill.tenant_roles WHERE role_name = current_user'"
    )
    fleet.query("GRANT EXECUTE ON FUNCTION paybill.current_tenant() TO PUBLIC")
    fleet.query("DROP POLICY tenant_isolation ON pooled.invoices")
    fleet.query(
        "CREATE POLICY tenant_isolation ON pooled.invoices USING (tenant_id = (SELECT paybill.current_tenant()))"
        " WITH CHECK (tenant_id = (SELECT paybill.current_tenant()))"
    )
    try:
        assert prov.SharedPlatformProvider().read(SHARED, platform).outs["drift"] == ["policy:invoices"]
        prov.SharedPlatformProvider().update(SHARED, {**platform, "drift": ["policy:invoices"]}, platform)
        assert prov.SharedPlatformProvider().read(SHARED, platform).outs["drift"] == []
        functions = fleet.query(
            "SELECT count(*) FROM pg_depend WHERE classid = 'pg_policy'::regclass AND refclassid = 'pg_proc'::regclass"
        )
        assert functions == [(0,)]
    finally:
        fleet.query("DROP FUNCTION IF EXISTS paybill.current_tenant() CASCADE")
