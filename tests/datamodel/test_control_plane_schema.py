"""The schema file through the control plane and the real engine: tenants provisioned from the user's file on
all three topologies, a plan, a sequential migration recorded in the registry, a refused file that records
and applies nothing, and a tenant onboarded after the new version that gets it."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from paybill_infra.controlplane import ControlPlaneSettings
from paybill_infra.controlplane.registry import SchemaVersionRow, TenantRow
from paybill_infra.datamodel.backup import STAMP
from paybill_infra.datamodel.units import UnitKind
from paybill_infra.errors import RenameWithoutExpandError
from tests.controlplane.conftest import Env, paybill

pytestmark = pytest.mark.postgres

SCHEMAS = Path(__file__).resolve().parent / "schemas"


@pytest.fixture(scope="module")
def env(engine_available: None) -> Iterator[Env]:
    root = Path(tempfile.mkdtemp(prefix="paybill-dm-"))
    environment = Env(root)
    shutil.copy(SCHEMAS / "v1.yaml", root / "schema.yaml")
    (root / "paybill.yaml").write_text("control_plane:\n  data_schema: schema.yaml\n")
    environment.settings = ControlPlaneSettings.for_root(root, workers=4, lease_ttl_s=10)
    yield environment
    environment.server.stop()
    shutil.rmtree(root, ignore_errors=True)


def columns(env: Env, database: str, schema: str, table: str) -> list[str]:
    rows = env.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "ORDER BY column_name",
        schema,
        table,
        dbname=database,
    )
    return [r[0] for r in rows]


def test_the_users_schema_file_drives_provisioning_and_migration(env: Env) -> None:
    with env.plane() as plane:
        for slug, plan in (("dma", "starter"), ("dmb", "growth"), ("dmc", "enterprise")):
            plane.onboard({"slug": slug, "display_name": slug.upper(), "plan": plan})
        units = {u.kind: u for u in plane.schema.units()}
        assert set(units) == {UnitKind.POOL, UnitKind.BRIDGE, UnitKind.SILO}
        for unit in units.values():
            assert unit.version == 1
            assert columns(env, unit.database, unit.schema_name, "orders") == sorted(
                ["id", "tenant_id", "account_id", "total_cents", "legacy_code"]
            )

        plan = plane.plan_schema(SCHEMAS / "v2.yaml")
        assert (plan.from_version, plan.to_version, plan.recorded) == (1, 2, False)
        assert set(plan.units) == {UnitKind.POOL, UnitKind.BRIDGE, UnitKind.SILO}
        assert "ADD COLUMN phone TEXT" in plan.units[UnitKind.SILO][0].sql
        with pytest.raises(RenameWithoutExpandError):  # v1 -> v4 would rename accounts.name in one step
            plane.migrate_schema(SCHEMAS / "v4.yaml")
        with plane.registry.transaction() as session:
            assert session.scalars(select(SchemaVersionRow.number)).all() == [1]

        expired, kept = (
            plane.schema.backup_dir / "schema-silo-t_x-v1-20200101T000000000000Z.json",
            (plane.schema.backup_dir / f"schema-silo-t_x-v1-{datetime.now(UTC).strftime(STAMP)}.json"),
        )
        plane.schema.backup_dir.mkdir(parents=True, exist_ok=True)
        for path in (expired, kept):
            path.write_text("{}")
        results = plane.migrate_schema(SCHEMAS / "v2.yaml", actor="test")
        assert (expired.exists(), kept.exists()) == (False, True)  # 30 days of retention by default
        assert sorted(r.unit for r in results) == sorted(u.key for u in units.values())
        status = plane.schema_status()
        assert status.newest == 2
        assert [(g.version, g.tenants) for g in status.versions] == [(2, ("dma", "dmb", "dmc"))]
        with plane.registry.transaction() as session:
            assert {r.slug: r.schema_version for r in session.scalars(select(TenantRow))} == {
                "dma": 2,
                "dmb": 2,
                "dmc": 2,
            }
        silo = units[UnitKind.SILO]
        assert "phone" in columns(env, silo.database, silo.schema_name, "accounts")

        plane.onboard({"slug": "dmd", "display_name": "DMD", "plan": "enterprise"})
        late = next(u for u in plane.schema.units() if u.members == ("dmd",))
        assert late.version == 2
        assert "notes" in {
            r[0]
            for r in env.query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                late.schema_name,
                dbname=late.database,
            )
        }


def test_db_plan_and_status_commands(env: Env) -> None:
    status = paybill(env, "db", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert [(g["version"], g["tenants"]) for g in json.loads(status.stdout)["versions"]] == [
        (2, ["dma", "dmb", "dmc", "dmd"])
    ]
    plan = paybill(env, "db", "plan", str(SCHEMAS / "v3.yaml"), "--json")
    assert plan.returncode == 0, plan.stderr
    planned = json.loads(plan.stdout)
    assert (planned["from_version"], planned["to_version"]) == (2, 3)
    assert sorted(planned["units"]) == ["bridge", "pool", "silo"]
    assert all(
        "UPDATE" in u["sql"] and "display_name" in u["sql"] for units in planned["units"].values() for u in units
    )
    refused = paybill(env, "db", "plan", str(SCHEMAS / "bad_rename_without_expand.yaml"))
    assert refused.returncode == 2
    assert "tables[0].columns[2].renamed_from" in refused.stderr


def test_a_unit_rolls_back_and_the_registry_follows(env: Env) -> None:
    with env.plane() as plane:
        silo = next(u for u in plane.schema.units() if u.members == ("dmc",))
        result = plane.schema.rollback(silo, None, actor="test")
        assert (result.from_version, result.to_version, result.outcome.value) == (2, 1, "rolled_back")
        assert result.backup is not None and result.backup.counts == {"accounts": 0, "notes": 0, "orders": 0}
        assert "phone" not in columns(env, silo.database, silo.schema_name, "accounts")
        status = plane.schema_status()
        assert [(g.version, g.tenants) for g in status.versions] == [(1, ("dmc",)), (2, ("dma", "dmb", "dmd"))]
        with plane.registry.transaction() as session:
            row = session.get(TenantRow, "dmc")
            assert row is not None and row.schema_version == 1
        assert "schema.rollback_unit" in [e.action for e in plane.audit_log()]
        assert [
            r.outcome.value
            for r in plane.schema.migrate(
                silo.model_copy(update={"version": 1}), 2, allow_destructive=False, actor="test"
            )
        ] == ["migrated"]
