"""A schema change rolled out to a fleet in waves, against the same DDL applied by a plain sequential script.

The fleet is a realistic mix of ``--tenants`` tenants on one PostgreSQL: 60% pooled (pools of
``--pool-size``), 25% bridge (a schema each in one bridge database) and 15% silo (a database each). A pool
is one unit however many tenants it holds, so the rollout migrates far fewer units than tenants; the
rate is reported in tenants per second (tenants moved to the new version, pools counted once as units).

Sides, interleaved in one loop (each round runs every side once, rotating which goes first; the fleet is
put back to the old version between sides, untimed):

- ``rollout-Nw``: the rollout core (:class:`~paybill_infra.rollouts.runner.RolloutRunner`, waves
  ``canary,10%,50%,100%``, a SQLite registry journaling every unit) applying each unit through
  :func:`~paybill_infra.datamodel.apply.migrate_unit` (marker lock and check, DDL, marker, one transaction),
  ``N`` units at once within a wave;
- ``plain-script``: one connection per unit, the same rendered statements in one transaction, one unit
  after another: no journal, no marker check, no waves.

CPU seconds are this process's (the client); the server's work is the same DDL on every side.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql

from benchmarks.report import scratch_server, write_section
from paybill_infra.controlplane import ControlPlane, ControlPlaneSettings
from paybill_infra.datamodel.apply import VersionStep, ensure_marker, migrate_unit
from paybill_infra.datamodel.changes import diff
from paybill_infra.datamodel.render import render_unit, set_marker_key
from paybill_infra.datamodel.source import DEFAULT_SCHEMA_FILE, SchemaFile, parse_schema_file
from paybill_infra.datamodel.units import MARKER_SCHEMA, MARKER_TABLE, Unit, UnitKind
from paybill_infra.local.app_schema import tables_in
from paybill_infra.local.server import AdminConnection
from paybill_infra.local.sql import create_control_schema, create_tables, enable_pooled_rls
from paybill_infra.rollouts.journal import RolloutJournal
from paybill_infra.rollouts.models import Applied, RolloutKind, RolloutRequest, RolloutStatus
from paybill_infra.rollouts.runner import RolloutRunner
from paybill_infra.rollouts.waves import UnitRef

BEGIN, END = "<!-- rollout_waves:begin -->", "<!-- rollout_waves:end -->"
OWNER = "bench_owner"
WAVES = "canary,10%,50%,100%"


def schemas() -> tuple[SchemaFile, SchemaFile]:
    """The shipped default schema, and the same plus a column and a table (an additive change)."""
    document = yaml.safe_load(DEFAULT_SCHEMA_FILE.read_text())
    old = parse_schema_file(document, "v1")
    new_doc = yaml.safe_load(DEFAULT_SCHEMA_FILE.read_text())
    new_doc["tables"][0]["columns"].append({"name": "phone", "type": "text", "sensitivity": "pii"})
    new_doc["tables"].append(
        {
            "name": "notes",
            "primary_key": ["id"],
            "columns": [
                {"name": "id", "type": "uuid", "nullable": False, "generated": "uuidv7"},
                {"name": "tenant_id", "type": "text", "nullable": False},
                {"name": "body", "type": "text", "nullable": False},
            ],
        }
    )
    return old, parse_schema_file(new_doc, "v2")


def build_fleet(admin: AdminConnection, tenants: int, pool_size: int, old: SchemaFile) -> list[Unit]:
    """Create the fleet's databases and schemas at the old version (marker at 1); returns its units."""
    pooled, bridge = round(tenants * 0.60), round(tenants * 0.25)
    silo = tenants - pooled - bridge
    units: list[Unit] = []
    with psycopg.connect(admin.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(OWNER)))
        databases = [f"bench_pool_{i}" for i in range(-(-pooled // pool_size))]
        databases += ["bench_bridge"] + [f"bench_silo_{i}" for i in range(silo)]
        for name in databases:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(OWNER)))
    for i, database in enumerate(d for d in databases if d.startswith("bench_pool_")):
        members = tuple(f"pooled-{j}" for j in range(i * pool_size, min(pooled, (i + 1) * pool_size)))
        units.append(_unit(admin, UnitKind.POOL, database, "pooled", members, old))
    for j in range(bridge):
        units.append(_unit(admin, UnitKind.BRIDGE, "bench_bridge", f"t_bridge_{j}", (f"bridge-{j}",), old))
    for j in range(silo):
        units.append(_unit(admin, UnitKind.SILO, f"bench_silo_{j}", "app", (f"silo-{j}",), old))
    return units


def _unit(
    admin: AdminConnection, kind: UnitKind, database: str, schema: str, members: tuple[str, ...], old: SchemaFile
) -> Unit:
    unit = Unit(kind=kind, database=database, schema_name=schema, owner=OWNER, members=members, server=admin)
    with psycopg.connect(admin.conninfo(database), autocommit=True) as conn:
        ensure_marker(conn)
        with conn.transaction():
            conn.execute(
                sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(sql.Identifier(schema), sql.Identifier(OWNER))
            )
            setup = create_control_schema(OWNER) if kind is UnitKind.POOL else []
            setup += create_tables(schema, OWNER, data=old.data)
            if kind is UnitKind.POOL:
                setup += enable_pooled_rls(tables_in(None, old.data), tenant_column=old.data.tenant_column)
            for statement in setup:
                conn.execute(statement.as_string(conn))
            for statement in set_marker_key(unit.marker_key, 1, old.content_hash):
                conn.execute(statement.as_string(conn))
    return unit


def reset(units: list[Unit]) -> None:
    """Put every unit back to the old version (untimed): drop what the change added, marker to 1."""
    for unit in units:
        with psycopg.connect(unit.server.conninfo(unit.database), autocommit=True) as conn, conn.transaction():
            schema = sql.Identifier(unit.schema_name)
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}.notes").format(schema))
            conn.execute(sql.SQL("ALTER TABLE {}.customers DROP COLUMN IF EXISTS phone").format(schema))
            conn.execute(
                sql.SQL("UPDATE {} SET version = 1 WHERE unit = %s").format(
                    sql.Identifier(MARKER_SCHEMA, MARKER_TABLE)
                ),
                (unit.marker_key,),
            )


class BenchSource:
    """The fleet's units as a rollout source, each applied by ``migrate_unit``."""

    def __init__(self, units: list[Unit], step: VersionStep, backup_dir: Path) -> None:
        self.by_key = {u.key: u for u in units}
        self.step = step
        self.backup_dir = backup_dir

    def units(self) -> list[UnitRef]:
        return [UnitRef(key=u.key, group=u.kind.value, label=u.key) for u in self.by_key.values()]

    def apply(self, key: str) -> Applied:
        result = migrate_unit(self.by_key[key], self.step, backup_dir=self.backup_dir)
        return Applied(changed=result.outcome.value == "migrated")


def rollout_side(plane: ControlPlane, source: BenchSource, workers: int) -> Callable[[], None]:
    runner = RolloutRunner(
        plane.runtime, RolloutJournal(plane.registry), {RolloutKind.SCHEMA: lambda _r, _i: source}, plane._audit
    )

    def run() -> None:
        view = runner.plan(RolloutRequest(kind=RolloutKind.SCHEMA, waves=WAVES, workers=workers), "bench", None)
        done = runner.run(view.id)
        if done.status is not RolloutStatus.SUCCEEDED:
            errors = [u.error for u in done.units if u.error]
            raise RuntimeError(f"rollout {done.status}: {done.error} {errors[:2]}")

    return run


def plain_side(units: list[Unit], step: VersionStep) -> Callable[[], None]:
    def run() -> None:
        for unit in units:
            script = render_unit(step.diff, unit, step.to_version)
            with psycopg.connect(unit.server.conninfo(unit.database), autocommit=True) as conn, conn.transaction():
                for statement in script.statements:
                    conn.execute(statement.as_string(conn))

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--pool-size", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    old, new = schemas()
    step = VersionStep(from_version=1, to_version=2, diff=diff(old, new, allow_destructive=False))
    load_before = os.getloadavg()[0]
    with scratch_server("paybill-bench-rollout-") as admin, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "plans.yaml").write_text(Path("plans.yaml").read_text())
        units = build_fleet(admin, args.tenants, args.pool_size, old)
        source = BenchSource(units, step, root / "backups")
        with ControlPlane(ControlPlaneSettings(root=root), recover=False) as plane:
            sides: dict[str, Callable[[], None]] = {
                **{f"rollout-{w}w": rollout_side(plane, source, w) for w in (1, 2, 4)},
                "plain-script": plain_side(units, step),
            }
            wall: dict[str, list[float]] = {name: [] for name in sides}
            cpu: dict[str, float] = dict.fromkeys(sides, 0.0)
            names = list(sides)
            for r in range(args.rounds):
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    reset(units)
                    started, cpu_started = time.perf_counter(), time.process_time()
                    sides[name]()
                    wall[name].append(time.perf_counter() - started)
                    cpu[name] += time.process_time() - cpu_started
    load_after = os.getloadavg()[0]
    text = report(args, units, wall, cpu, (load_before, load_after))
    print(text)
    if not args.no_write:
        write_section(Path("BENCHMARKS.md"), BEGIN, END, text)


def report(
    args: Any, units: list[Unit], wall: dict[str, list[float]], cpu: dict[str, float], load: tuple[float, float]
) -> str:
    kinds = {k: sum(1 for u in units if u.kind is k) for k in UnitKind}
    plain = sorted(wall["plain-script"])[len(wall["plain-script"]) // 2]
    lines = [
        "## Schema rollout in waves",
        "",
        f"Command: `.venv/bin/python -m benchmarks.rollout_waves --tenants {args.tenants} --pool-size {args.pool_size}"
        f" --rounds {args.rounds}` (embedded PostgreSQL 18, 2 CPUs shared with other work).",
        "",
        f"Fleet: {args.tenants} tenants in {len(units)} units ({kinds[UnitKind.POOL]} pools, "
        f"{kinds[UnitKind.BRIDGE]} bridge schemas, {kinds[UnitKind.SILO]} silo databases); the change adds a column"
        " and a table. Sides interleaved in one loop, rotating the first; median wall time of "
        f"{args.rounds} rounds; CPU is this process's, summed over the rounds. Load average (1 min): "
        f"{load[0]:.2f} before, {load[1]:.2f} after.",
        "",
        "| side | median wall s | tenants/s | units/s | vs plain script | client CPU s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, samples in wall.items():
        median = sorted(samples)[len(samples) // 2]
        lines.append(
            f"| `{name}` | {median:.2f} | {args.tenants / median:.1f} | {len(units) / median:.1f} |"
            f" {median / plain:.2f}x | {cpu[name]:.2f} |"
        )
    lines += [
        "",
        f"- `rollout-Nw`: the rollout core, waves `{WAVES}`, N units at once within a wave; each unit journaled"
        " (running, then succeeded) in a SQLite registry, applied by `migrate_unit` (marker lock and check, DDL,"
        " marker update, one transaction).",
        "- `plain-script`: the same rendered statements per unit, one transaction each, one unit after another.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
