"""A fleet of 12 tenants (6 pooled in one pool, 3 bridge, 3 silo) provisioned from a user's schema file by the
local providers, then taken through three successive schema versions on real PostgreSQL:

1. v1 -> v2: a column and a table added (and a type widened);
2. v2 -> v3: a column renamed, expand step (new column backfilled, data kept; until the contract a trigger
   copies writes to either column into the other);
3. v3 -> v4: contract (the sync trigger dropped, the old column and another one dropped, backed up first),
   then rolled back (the trigger back).

After each version the columns in ``information_schema``, the units' markers, the agent's column grants
(the differential check of ``tests/agent_acl``) and pooled row isolation are checked.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from agent_acl import Names, Privilege, explain_access
from agent_acl.roles import create_role, grant_matrix, grant_usage
from paybill_infra.datamodel.apply import UnitOutcome, VersionStep, migrate_unit, rollback_unit, unit_version
from paybill_infra.datamodel.backup import prune
from paybill_infra.datamodel.changes import diff
from paybill_infra.datamodel.source import DataModel, SchemaFile, load_policy_over, load_schema_file
from paybill_infra.datamodel.units import Unit, UnitKind
from paybill_infra.errors import (
    DataSchemaError,
    DestructiveChangeError,
    RenameWithoutExpandError,
    SchemaMigrationError,
    UncastableTypeChangeError,
)
from paybill_infra.local import sql as q
from paybill_infra.local.provider import (
    BridgeSchemaProvider,
    LoginRoleProvider,
    PooledMembershipProvider,
    SharedPlatformProvider,
    SiloDatabaseProvider,
)
from paybill_infra.local.server import AdminConnection
from tests.agent_acl.conftest import actual_privileges

pytestmark = pytest.mark.postgres

SCHEMAS = Path(__file__).resolve().parent / "schemas"
POOLED = [f"dmp{i}" for i in range(6)]
BRIDGE = [f"dmb{i}" for i in range(3)]
SILO = [f"dms{i}" for i in range(3)]
POOL_DB, POOL_OWNER = "dm_pool", "dm_pool_owner"
BRIDGE_DB, BRIDGE_OWNER = "dm_bridge", "dm_bridge_owner"


def schema(version: int) -> SchemaFile:
    return load_schema_file(SCHEMAS / f"v{version}.yaml")


def role_of(slug: str) -> str:
    return f"dm_r_{slug}"


def _props(admin: AdminConnection, **extra: Any) -> dict[str, Any]:
    model = DataModel(1, schema(1).document())
    return {"server": {}, **model.inputs(), **extra}


def _connect(admin: AdminConnection, database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(admin.conninfo(database), autocommit=True)


@pytest.fixture(scope="module")
def fleet(pg_admin: AdminConnection) -> list[Unit]:
    """The 12 tenants through the local providers, a reviewer agent role per tenant with its v1 grants, and
    two accounts with an order each per tenant."""
    admin = pg_admin
    policy = load_policy_over(SCHEMAS / "policy.yaml", schema(1))
    names = Names(policy.name)
    for slug, search in [*((s, q.POOLED_SCHEMA) for s in POOLED), *((s, f"s_{s}") for s in BRIDGE)]:
        LoginRoleProvider()._create(
            admin,
            {"role": role_of(slug), "connection_limit": 5, "statement_timeout_ms": 30000, "search_path": [search]},
        )
    for slug in SILO:
        LoginRoleProvider()._create(
            admin, {"role": role_of(slug), "connection_limit": 5, "statement_timeout_ms": 30000, "search_path": ["app"]}
        )
    SharedPlatformProvider()._create(admin, _props(admin, database=POOL_DB, owner=POOL_OWNER))
    SharedPlatformProvider()._create(admin, _props(admin, database=BRIDGE_DB, owner=BRIDGE_OWNER))
    for slug in POOLED:
        PooledMembershipProvider()._create(admin, _props(admin, database=POOL_DB, role=role_of(slug), tenant=slug))
    for slug in BRIDGE:
        BridgeSchemaProvider()._create(
            admin, _props(admin, database=BRIDGE_DB, schema=f"s_{slug}", owner=role_of(slug))
        )
    for slug in SILO:
        SiloDatabaseProvider()._create(admin, _props(admin, database=f"dm_silo_{slug}", owner=role_of(slug)))
    units = [
        Unit(
            kind=UnitKind.POOL,
            database=POOL_DB,
            schema_name=q.POOLED_SCHEMA,
            owner=POOL_OWNER,
            members=tuple(POOLED),
            roles=tuple(role_of(s) for s in POOLED),
            server=admin,
        ),
        *(
            Unit(
                kind=UnitKind.BRIDGE,
                database=BRIDGE_DB,
                schema_name=f"s_{s}",
                owner=role_of(s),
                members=(s,),
                roles=(role_of(s),),
                server=admin,
            )
            for s in BRIDGE
        ),
        *(
            Unit(
                kind=UnitKind.SILO,
                database=f"dm_silo_{s}",
                schema_name="app",
                owner=role_of(s),
                members=(s,),
                roles=(role_of(s),),
                server=admin,
            )
            for s in SILO
        ),
    ]
    matrix = explain_access(policy, "reviewer")
    for unit in units:
        with _connect(admin, "postgres") as conn:
            for tenant in unit.members:
                for statement in create_role(names.agent_role(tenant, "reviewer")):
                    conn.execute(statement.as_string(conn))
        with _connect(admin, unit.database) as conn, conn.transaction():
            for tenant in unit.members:
                role = names.agent_role(tenant, "reviewer")
                for statement in [*grant_usage(unit.schema_name, role), *grant_matrix(matrix, unit.schema_name, role)]:
                    conn.execute(statement.as_string(conn))
                for n in range(2):
                    account = conn.execute(
                        sql.SQL("INSERT INTO {t} (tenant_id, name) VALUES (%s, %s) RETURNING id").format(
                            t=sql.Identifier(unit.schema_name, "accounts")
                        ),
                        (tenant, f"{tenant} account {n}"),
                    ).fetchone()
                    assert account is not None
                    conn.execute(
                        sql.SQL(
                            "INSERT INTO {t} (tenant_id, account_id, total_cents, legacy_code) VALUES (%s, %s, %s, %s)"
                        ).format(t=sql.Identifier(unit.schema_name, "orders")),
                        (tenant, account[0], 100 * (n + 1), f"L-{tenant}-{n}"),
                    )
    return units


def columns(admin: AdminConnection, unit: Unit) -> dict[str, tuple[tuple[str, str], ...]]:
    with _connect(admin, unit.database) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = %s "
            "ORDER BY table_name, ordinal_position",
            (unit.schema_name,),
        ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        out.setdefault(table, []).append((column, data_type))
    return {table: tuple(cols) for table, cols in out.items()}


def declared(version: SchemaFile) -> dict[str, list[str]]:
    """Column names per table (a migration appends columns, so only the set is the same as provisioning's)."""
    return {t.name: sorted(c.name for c in t.columns) for t in version.data.tables}


def agent_table_grants(admin: AdminConnection, unit: Unit, tenant: str) -> set[tuple[Any, ...]]:
    role = Names("dm").agent_role(tenant, "reviewer")
    with _connect(admin, unit.database) as conn:
        held = actual_privileges(conn, role)
    return {p for p in held if p[0] == unit.schema_name and p[1] is not None}


def expected_grants(version: SchemaFile, unit: Unit) -> set[tuple[Any, ...]]:
    policy = load_policy_over(SCHEMAS / "policy.yaml", version)
    return {
        (unit.schema_name, e.table, None if e.privilege is Privilege.DELETE else e.column, e.privilege.value)
        for e in explain_access(policy, "reviewer").entries
    }


def check_version(admin: AdminConnection, units: list[Unit], version: int) -> None:
    file = schema(version)
    for unit in units:
        assert unit_version(unit) == version, unit.key
        found = columns(admin, unit)
        assert {t: sorted(c for c, _ in cols) for t, cols in found.items()} == declared(file), unit.key
        for tenant in unit.members:
            assert agent_table_grants(admin, unit, tenant) == expected_grants(file, unit), (unit.key, tenant)
    pool = units[0]
    with _connect(admin, POOL_DB) as conn:
        for tenant in POOLED:
            conn.execute(sql.SQL("SET ROLE {r}").format(r=sql.Identifier(role_of(tenant))))
            seen = conn.execute("SELECT DISTINCT tenant_id FROM pooled.accounts").fetchall()
            conn.execute("RESET ROLE")
            assert seen == [(tenant,)], f"{pool.key}: {tenant} sees {seen}"


def step(old: int, new: int, *, allow_destructive: bool = False) -> VersionStep:
    return VersionStep(
        from_version=old, to_version=new, diff=diff(schema(old), schema(new), allow_destructive=allow_destructive)
    )


def row_counts(admin: AdminConnection, units: list[Unit]) -> dict[str, int]:
    counts = {}
    for unit in units:
        with _connect(admin, unit.database) as conn:
            for table in ("accounts", "orders"):
                row = conn.execute(
                    sql.SQL("SELECT count(*) FROM {t}").format(t=sql.Identifier(unit.schema_name, table))
                ).fetchone()
                assert row is not None
                counts[f"{unit.key}:{table}"] = row[0]
    return counts


def sync_triggers(admin: AdminConnection, unit: Unit) -> list[tuple[str, str]]:
    """The rename sync triggers on the unit's tables and their functions' names."""
    with _connect(admin, unit.database) as conn:
        rows = conn.execute(
            "SELECT t.tgname, p.proname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY t.tgname",
            (unit.schema_name,),
        ).fetchall()
    return [(str(name), str(function)) for name, function in rows]


def check_rename_sync(admin: AdminConnection, unit: Unit) -> None:
    """Writes through either name of the renamed column reach the other (rolled back afterwards)."""
    accounts = sql.Identifier(unit.schema_name, "accounts")
    tenant = unit.members[0]
    with _connect(admin, unit.database) as conn, conn.transaction(force_rollback=True):

        def pair(key: Any) -> tuple[Any, ...]:
            row = conn.execute(
                sql.SQL("SELECT name, display_name FROM {t} WHERE id = %s").format(t=accounts), (key,)
            ).fetchone()
            assert row is not None
            return tuple(row)

        def insert(column: str, value: str) -> Any:
            row = conn.execute(
                sql.SQL("INSERT INTO {t} (tenant_id, {c}) VALUES (%s, %s) RETURNING id").format(
                    t=accounts, c=sql.Identifier(column)
                ),
                (tenant, value),
            ).fetchone()
            assert row is not None
            return row[0]

        def update(key: Any, column: str, value: str) -> None:
            conn.execute(
                sql.SQL("UPDATE {t} SET {c} = %s WHERE id = %s").format(t=accounts, c=sql.Identifier(column)),
                (value, key),
            )

        old_writer, new_writer = insert("name", "via old"), insert("display_name", "via new")
        assert (pair(old_writer), pair(new_writer)) == (("via old", "via old"), ("via new", "via new")), unit.key
        update(old_writer, "name", "old renamed")
        update(new_writer, "display_name", "new renamed")
        assert pair(old_writer) == ("old renamed", "old renamed"), unit.key
        assert pair(new_writer) == ("new renamed", "new renamed"), unit.key
        update(old_writer, "display_name", "crossed")
        assert pair(old_writer) == ("crossed", "crossed"), unit.key


def test_three_versions_across_pooled_bridge_and_silo(
    fleet: list[Unit], pg_admin: AdminConnection, tmp_path: Path
) -> None:
    admin, units = pg_admin, fleet
    policy = load_policy_over(SCHEMAS / "policy.yaml", schema(1))
    assert sum(len(u.members) for u in units) == 12
    check_version(admin, units, 1)

    for old, new in ((1, 2), (2, 3)):
        results = [migrate_unit(u, step(old, new), backup_dir=tmp_path, acl=policy) for u in units]
        assert [r.outcome for r in results] == [UnitOutcome.MIGRATED] * len(units)
        assert all(r.backup is None for r in results)
        check_version(admin, units, new)
    assert dict(columns(admin, units[0])["orders"])["total_cents"] == "bigint"
    for unit in units:
        with _connect(admin, unit.database) as conn:
            pairs = conn.execute(
                sql.SQL("SELECT name, display_name FROM {t}").format(t=sql.Identifier(unit.schema_name, "accounts"))
            ).fetchall()
        assert pairs and all(name == display for name, display in pairs), unit.key
        assert sync_triggers(admin, unit) == [("paybill_rename_accounts_display_name",) * 2], unit.key
        check_rename_sync(admin, unit)

    # a re-run (a crash after commit, or a peer) applies nothing twice
    again = migrate_unit(units[1], step(2, 3), backup_dir=tmp_path, acl=policy)
    assert again.outcome is UnitOutcome.ALREADY_APPLIED and again.statements == 0
    with pytest.raises(SchemaMigrationError, match="at version 3, not 1"):
        migrate_unit(units[1], step(1, 2), backup_dir=tmp_path, acl=policy)

    before = row_counts(admin, units)
    contract = step(3, 4, allow_destructive=True)
    results = [migrate_unit(u, contract, backup_dir=tmp_path, acl=policy) for u in units]
    check_version(admin, units, 4)
    assert row_counts(admin, units) == before
    assert all(sync_triggers(admin, u) == [] for u in units)
    for unit, result in zip(units, results, strict=True):
        assert result.backup is not None
        assert result.backup.path.stat().st_mode & 0o777 == 0o600
        members = len(unit.members)
        assert result.backup.counts == {"accounts": 2 * members, "orders": 2 * members}
        saved = json.loads(result.backup.path.read_text())
        assert saved["tables"]["orders"]["columns"] == ["id", "tenant_id", "legacy_code"]

    silo = units[-1]
    rolled = rollback_unit(silo, contract, results[-1].backup, backup_dir=tmp_path, acl=policy)
    assert rolled.outcome is UnitOutcome.ROLLED_BACK and rolled.restored == {"accounts": 2, "orders": 2}
    assert unit_version(silo) == 3
    with _connect(admin, silo.database) as conn:
        codes = conn.execute("SELECT legacy_code FROM app.orders ORDER BY legacy_code").fetchall()
        names = conn.execute("SELECT count(*) FROM app.accounts WHERE name = display_name").fetchone()
        nullable = conn.execute(
            "SELECT is_nullable FROM information_schema.columns WHERE table_schema = 'app' AND column_name = 'name'"
        ).fetchone()
    assert codes == [(f"L-{silo.members[0]}-0",), (f"L-{silo.members[0]}-1",)]
    assert names == (2,) and nullable == ("YES",)
    assert sync_triggers(admin, silo) == [("paybill_rename_accounts_display_name",) * 2]
    check_rename_sync(admin, silo)

    # the exports expire under the retention setting (a controlled clock; a foreign file is never touched)
    exports = sorted(tmp_path.glob("schema-*.json"))
    assert {r.backup.path for r in results if r.backup is not None} == set(exports)
    (tmp_path / "operator-notes.txt").write_text("not an export")
    now = datetime.now(UTC)
    assert prune(tmp_path, timedelta(days=30), now + timedelta(days=29)) == []
    assert sorted(tmp_path.glob("schema-*.json")) == exports
    assert prune(tmp_path, timedelta(days=30), now + timedelta(days=30, minutes=5)) == exports
    assert [p.name for p in tmp_path.iterdir()] == ["operator-notes.txt"]
    assert agent_table_grants(admin, silo, silo.members[0]) == expected_grants(schema(3), silo)


def test_a_unit_born_mid_rename_keeps_both_columns_in_sync(fleet: list[Unit], pg_admin: AdminConnection) -> None:
    """A bridge tenant provisioned at the expand version (onboarded mid-rename) gets the sync trigger that the
    migrated units got, so writes through either column name reach the other until the contract."""
    admin, slug = pg_admin, "dmlate"
    LoginRoleProvider()._create(
        admin,
        {"role": role_of(slug), "connection_limit": 5, "statement_timeout_ms": 30000, "search_path": [f"s_{slug}"]},
    )
    inputs = DataModel(3, schema(3).document()).inputs()
    props = {"server": {}, **inputs, "database": BRIDGE_DB, "schema": f"s_{slug}", "owner": role_of(slug)}
    BridgeSchemaProvider()._create(admin, props)
    unit = Unit(
        kind=UnitKind.BRIDGE,
        database=BRIDGE_DB,
        schema_name=f"s_{slug}",
        owner=role_of(slug),
        members=(slug,),
        roles=(role_of(slug),),
        version=3,
        server=admin,
    )
    assert sync_triggers(admin, unit) == [("paybill_rename_accounts_display_name",) * 2]
    check_rename_sync(admin, unit)


@pytest.mark.parametrize(
    ("old", "bad", "error", "path"),
    [
        (1, "bad_no_tenant_column", DataSchemaError, "tables[2].columns"),
        (3, "v4", DestructiveChangeError, "tables[0].columns (drops 'name')"),
        (1, "bad_rename_without_expand", RenameWithoutExpandError, "tables[0].columns[2].renamed_from"),
        (1, "bad_uncastable_type", UncastableTypeChangeError, "tables[1].columns[3].type"),
    ],
)
def test_bad_schema_files_are_refused_with_their_path(old: int, bad: str, error: type[Exception], path: str) -> None:
    with pytest.raises(error) as caught:
        diff(schema(old), load_schema_file(SCHEMAS / f"{bad}.yaml"))
    assert path in str(caught.value)
    assert bad in str(caught.value)
