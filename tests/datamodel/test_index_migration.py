"""Index declarations rolled out on real PostgreSQL: v4 -> v5 (``schemas/v5.yaml``) adds two indexes on
existing columns (``CREATE INDEX CONCURRENTLY`` before the unit's transaction) and one on a column v5 adds
(built in the transaction). A pool of two tenants, a bridge and a silo tenant provisioned at v4, plus a silo
provisioned at v5 (provisioning creates the declared indexes itself).

Checked: the indexes exist and are valid (``pg_index.indisvalid``) after the step; a re-run is a no-op; an
index step already done before a crash is harmless; a unique build failing over duplicate rows leaves the
marker at v4 and an INVALID index, which the re-run (duplicates removed) drops and rebuilds; a rollback drops
the indexes again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from paybill_infra.datamodel.apply import UnitOutcome, VersionStep, migrate_unit, rollback_unit, unit_version
from paybill_infra.datamodel.changes import ChangeKind, diff
from paybill_infra.datamodel.source import DataModel, load_schema_file
from paybill_infra.datamodel.units import Unit, UnitKind
from paybill_infra.errors import SchemaMigrationError
from paybill_infra.local import sql as q
from paybill_infra.local.provider import (
    BridgeSchemaProvider,
    LoginRoleProvider,
    PooledMembershipProvider,
    SharedPlatformProvider,
    SiloDatabaseProvider,
)
from paybill_infra.local.server import AdminConnection

pytestmark = pytest.mark.postgres

SCHEMAS = Path(__file__).resolve().parent / "schemas"
INDEXES = ("accounts_display_name_key", "accounts_email_idx", "orders_account_total_idx")
POOLED, BRIDGE, SILO, LATE = ("dxp0", "dxp1"), "dxb0", "dxs0", "dxs1"
POOL_DB, BRIDGE_DB = "dx_pool", "dx_bridge"


def _props(version: int, **extra: Any) -> dict[str, Any]:
    model = DataModel(version, load_schema_file(SCHEMAS / f"v{version}.yaml").document())
    return {"server": {}, **model.inputs(), **extra}


def _connect(admin: AdminConnection, database: str) -> psycopg.Connection[Any]:
    return psycopg.connect(admin.conninfo(database), autocommit=True)


def _role(slug: str) -> str:
    return f"dx_r_{slug}"


def _unit(admin: AdminConnection, kind: UnitKind, database: str, schema: str, owner: str, *slugs: str) -> Unit:
    roles = tuple(_role(s) for s in slugs)
    return Unit(kind=kind, database=database, schema_name=schema, owner=owner, members=slugs, roles=roles, server=admin)


@pytest.fixture(scope="module")
def units(pg_admin: AdminConnection) -> dict[str, Unit]:
    """The units at v4 (the late silo at v5), two accounts per tenant; the silo's two share a display name."""
    admin = pg_admin
    for slug in (*POOLED, BRIDGE):
        path = q.POOLED_SCHEMA if slug in POOLED else f"s_{slug}"
        LoginRoleProvider()._create(
            admin, {"role": _role(slug), "connection_limit": 5, "statement_timeout_ms": 30000, "search_path": [path]}
        )
    for slug in (SILO, LATE):
        LoginRoleProvider()._create(
            admin, {"role": _role(slug), "connection_limit": 5, "statement_timeout_ms": 30000, "search_path": ["app"]}
        )
    SharedPlatformProvider()._create(admin, _props(4, database=POOL_DB, owner="dx_pool_owner"))
    SharedPlatformProvider()._create(admin, _props(4, database=BRIDGE_DB, owner="dx_bridge_owner"))
    for slug in POOLED:
        PooledMembershipProvider()._create(admin, _props(4, database=POOL_DB, role=_role(slug), tenant=slug))
    BridgeSchemaProvider()._create(admin, _props(4, database=BRIDGE_DB, schema=f"s_{BRIDGE}", owner=_role(BRIDGE)))
    SiloDatabaseProvider()._create(admin, _props(4, database=f"dx_silo_{SILO}", owner=_role(SILO)))
    SiloDatabaseProvider()._create(admin, _props(5, database=f"dx_silo_{LATE}", owner=_role(LATE)))
    out = {
        "pool": _unit(admin, UnitKind.POOL, POOL_DB, q.POOLED_SCHEMA, "dx_pool_owner", *POOLED),
        "bridge": _unit(admin, UnitKind.BRIDGE, BRIDGE_DB, f"s_{BRIDGE}", _role(BRIDGE), BRIDGE),
        "silo": _unit(admin, UnitKind.SILO, f"dx_silo_{SILO}", "app", _role(SILO), SILO),
        "late": _unit(admin, UnitKind.SILO, f"dx_silo_{LATE}", "app", _role(LATE), LATE),
    }
    for name in ("pool", "bridge", "silo"):
        unit = out[name]
        with _connect(admin, unit.database) as conn:
            for tenant in unit.members:
                for n in range(2):
                    display = f"{tenant} account" if name == "silo" else f"{tenant} account {n}"
                    conn.execute(
                        sql.SQL("INSERT INTO {t} (tenant_id, display_name) VALUES (%s, %s)").format(
                            t=sql.Identifier(unit.schema_name, "accounts")
                        ),
                        (tenant, display),
                    )
    return out


def indexes(admin: AdminConnection, unit: Unit) -> dict[str, tuple[int, bool]]:
    """The declared indexes present in the unit: name -> (oid, valid)."""
    with _connect(admin, unit.database) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.oid, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = ANY(%s)",
            (unit.schema_name, list(INDEXES)),
        ).fetchall()
    return {str(name): (int(oid), bool(valid)) for name, oid, valid in rows}


def step() -> VersionStep:
    return VersionStep(
        from_version=4,
        to_version=5,
        diff=diff(load_schema_file(SCHEMAS / "v4.yaml"), load_schema_file(SCHEMAS / "v5.yaml")),
    )


def test_index_changes_are_additive() -> None:
    change = step().diff
    assert [(c.kind, c.index) for c in change.changes if c.index] == [
        (ChangeKind.ADD_INDEX, "accounts_display_name_key"),
        (ChangeKind.ADD_INDEX, "accounts_email_idx"),
        (ChangeKind.ADD_INDEX, "orders_account_total_idx"),
    ]
    assert not change.destructive
    reverse = diff(change.new, change.old, allow_destructive=True)
    assert {c.kind for c in reverse.changes if c.index} == {ChangeKind.DROP_INDEX}
    assert [c.kind for c in reverse.destructive] == [ChangeKind.DROP_COLUMN]


def test_indexes_roll_out_concurrently_and_recover_from_an_invalid_build(
    units: dict[str, Unit], pg_admin: AdminConnection, tmp_path: Path
) -> None:
    admin = pg_admin
    assert {name: valid for name, (_, valid) in indexes(admin, units["late"]).items()} == dict.fromkeys(INDEXES, True)
    assert unit_version(units["late"]) == 5

    # the bridge's index step already ran before a crash (marker still at 4): the migration goes through
    bridge = units["bridge"]
    with _connect(admin, bridge.database) as conn:
        conn.execute(
            sql.SQL("CREATE INDEX CONCURRENTLY {i} ON {t} (account_id, total_cents)").format(
                i=sql.Identifier("orders_account_total_idx"), t=sql.Identifier(bridge.schema_name, "orders")
            )
        )

    for name in ("pool", "bridge"):
        result = migrate_unit(units[name], step(), backup_dir=tmp_path)
        assert result.outcome is UnitOutcome.MIGRATED, name
        assert unit_version(units[name]) == 5
        found = indexes(admin, units[name])
        assert {n: valid for n, (_, valid) in found.items()} == dict.fromkeys(INDEXES, True), name

    before = indexes(admin, units["pool"])
    again = migrate_unit(units["pool"], step(), backup_dir=tmp_path)
    assert again.outcome is UnitOutcome.ALREADY_APPLIED and again.statements == 0
    assert indexes(admin, units["pool"]) == before

    silo = units["silo"]
    with pytest.raises(SchemaMigrationError, match="could not create unique index"):
        migrate_unit(silo, step(), backup_dir=tmp_path)
    assert unit_version(silo) == 4
    left = indexes(admin, silo)
    assert left["accounts_display_name_key"][1] is False
    assert "accounts_email_idx" not in left
    with _connect(admin, silo.database) as conn:
        conn.execute("UPDATE app.accounts SET display_name = display_name || ' ' || id::text")
    assert migrate_unit(silo, step(), backup_dir=tmp_path).outcome is UnitOutcome.MIGRATED
    rebuilt = indexes(admin, silo)
    assert {n: valid for n, (_, valid) in rebuilt.items()} == dict.fromkeys(INDEXES, True)
    assert rebuilt["accounts_display_name_key"][0] != left["accounts_display_name_key"][0]
    assert unit_version(silo) == 5

    rolled = rollback_unit(bridge, step(), None, backup_dir=tmp_path)
    assert rolled.outcome is UnitOutcome.ROLLED_BACK
    assert unit_version(bridge) == 4 and indexes(admin, bridge) == {}
