"""The migration SQL of each step, per topology, pinned in golden files (the fleet test runs the same
statements on real PostgreSQL). Regenerate on purpose with ``UPDATE_GOLDEN=1`` and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paybill_infra.datamodel.changes import diff
from paybill_infra.datamodel.render import render_unit
from paybill_infra.datamodel.source import load_policy_over, load_schema_file
from paybill_infra.datamodel.units import Unit, UnitKind
from paybill_infra.local.server import AdminConnection

SCHEMAS = Path(__file__).resolve().parent / "schemas"
GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "datamodel"
NOWHERE = AdminConnection(host="localhost", port=5432, user="golden", password="unused")
UNITS = {
    UnitKind.POOL: Unit(
        kind=UnitKind.POOL,
        database="pool_starter_1",
        schema_name="pooled",
        owner="pool_owner",
        members=("acme", "globex"),
        roles=("r_acme", "r_globex"),
        server=NOWHERE,
    ),
    UnitKind.BRIDGE: Unit(
        kind=UnitKind.BRIDGE,
        database="paybill_bridge",
        schema_name="s_initech",
        owner="r_initech",
        members=("initech",),
        roles=("r_initech",),
        server=NOWHERE,
    ),
    UnitKind.SILO: Unit(
        kind=UnitKind.SILO,
        database="t_umbrella",
        schema_name="app",
        owner="r_umbrella",
        members=("umbrella",),
        roles=("r_umbrella",),
        server=NOWHERE,
    ),
}


@pytest.mark.parametrize("kind", list(UnitKind), ids=lambda k: k.value)
@pytest.mark.parametrize("old", [1, 2, 3, 4])
def test_migration_sql_matches_golden(old: int, kind: UnitKind) -> None:
    before, after = (load_schema_file(SCHEMAS / f"v{v}.yaml") for v in (old, old + 1))
    policy = load_policy_over(SCHEMAS / "policy.yaml", before)
    script = render_unit(diff(before, after, allow_destructive=True), UNITS[kind], old + 1, acl=policy)
    path = GOLDEN / f"v{old}_to_v{old + 1}_{kind.value}.sql"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(script.text())
    assert script.text() == path.read_text()
