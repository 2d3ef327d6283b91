"""Backups before destructive steps, and their restore on rollback.

Before a unit's destructive changes run, the affected data is exported the way offboarding exports a
tenant (:meth:`paybill_infra.controlplane.migration.PostgresDataMover.export`): a JSON file of mode 0600
under the control plane's export directory (its retention setting), with per-table row counts and a
SHA-256. A dropped table is exported whole; a dropped or narrowed column with the key and tenant columns.
The export is read inside the unit's migration transaction, so it is the data the DDL then removes.

:func:`restore` puts the rows back after the columns/tables were re-created by the rollback.

The exports hold tenant data, so they are not kept forever: :func:`prune` deletes the ones older than the
control plane's ``backup_retention`` setting, and a rollout or migration calls it when it starts
(:meth:`paybill_infra.datamodel.fleet.SchemaFleet.prepare`). An export's age is the UTC time in its name,
written when it was taken, so moving or copying the directory does not renew it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from pydantic import BaseModel, ConfigDict

from paybill_infra.datamodel.changes import ChangeKind, SchemaDiff
from paybill_infra.datamodel.source import KEY_COLUMN
from paybill_infra.datamodel.units import Unit

BACKED_UP = frozenset({ChangeKind.DROP_COLUMN, ChangeKind.DROP_TABLE, ChangeKind.NARROW_TYPE})
"""Changes that can lose values (``SET NOT NULL`` fails rather than losing any)."""
STAMP = "%Y%m%dT%H%M%S%fZ"
NAME = re.compile(r"^schema-.+-v\d+-(?P<stamp>\d{8}T\d{12}Z)\.json$")
"""An export's file name (:func:`export`); ``stamp`` is when it was taken, in :data:`STAMP` format (UTC)."""


class BackupManifest(BaseModel):
    """Where a unit's backup is, and what it holds (``columns`` per table; empty: every column)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    unit: str
    from_version: int
    counts: dict[str, int]
    sha256: str


def affected(diff: SchemaDiff) -> dict[str, tuple[str, ...]]:
    """Per table, the columns a destructive change of ``diff`` can lose (``()`` for a whole table)."""
    out: dict[str, tuple[str, ...]] = {}
    for change in diff.changes:
        if change.kind not in BACKED_UP:
            continue
        if change.kind is ChangeKind.DROP_TABLE:
            out[change.table] = ()
        elif out.get(change.table) != ():
            out[change.table] = (*out.get(change.table, ()), change.column)
    return out


def export(
    conn: psycopg.Connection[Any], unit: Unit, diff: SchemaDiff, from_version: int, directory: Path
) -> BackupManifest | None:
    """Export what ``diff``'s destructive changes touch in ``unit`` (``None`` when nothing is at risk)."""
    targets = affected(diff)
    if not targets:
        return None
    tenant = diff.old.data.tenant_column
    document: dict[str, Any] = {"unit": unit.key, "from_version": from_version, "tables": {}}
    counts: dict[str, int] = {}
    for name, columns in sorted(targets.items()):
        table = diff.old.data.table(name)
        wanted = [c.name for c in table.columns] if not columns else [KEY_COLUMN, tenant, *columns]
        rows = conn.execute(
            sql.SQL("SELECT {cols} FROM {t} ORDER BY {key}").format(
                cols=sql.SQL(", ").join(sql.Identifier(c) for c in wanted),
                t=sql.Identifier(unit.schema_name, name),
                key=sql.Identifier(KEY_COLUMN),
            )
        ).fetchall()
        document["tables"][name] = {"whole": not columns, "columns": wanted, "rows": [list(r) for r in rows]}
        counts[name] = len(rows)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime(STAMP)
    body = json.dumps(document, default=str, sort_keys=True).encode()
    safe = unit.key.replace(":", "-").replace("/", "-")
    path = directory / f"schema-{safe}-v{from_version}-{stamp}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(body)
    return BackupManifest(
        path=path, unit=unit.key, from_version=from_version, counts=counts, sha256=hashlib.sha256(body).hexdigest()
    )


def restore(conn: psycopg.Connection[Any], unit: Unit, manifest: BackupManifest) -> dict[str, int]:
    """Write the backed-up values back into ``unit`` (whose tables/columns exist again): whole tables are
    re-inserted, columns updated by key. Runs in the caller's transaction; returns rows restored per table.
    A file whose SHA-256 no longer matches the manifest is refused."""
    body = manifest.path.read_bytes()
    if hashlib.sha256(body).hexdigest() != manifest.sha256:
        raise ValueError(f"backup {manifest.path} does not match its manifest's SHA-256")
    document = json.loads(body)
    restored: dict[str, int] = {}
    for name, saved in document["tables"].items():
        table = sql.Identifier(unit.schema_name, name)
        columns: list[str] = saved["columns"]
        if saved["whole"]:
            statement = sql.SQL("INSERT INTO {t} ({cols}) OVERRIDING SYSTEM VALUE VALUES ({vals})").format(
                t=table,
                cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                vals=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            )
            rows = [list(r) for r in saved["rows"]]
        else:
            values = columns[2:]
            statement = sql.SQL("UPDATE {t} SET {sets} WHERE {key} = %s").format(
                t=table,
                sets=sql.SQL(", ").join(sql.SQL("{c} = %s").format(c=sql.Identifier(c)) for c in values),
                key=sql.Identifier(KEY_COLUMN),
            )
            rows = [[*r[2:], r[0]] for r in saved["rows"]]
        with conn.cursor() as cur:
            cur.executemany(statement, rows)
        restored[name] = len(rows)
    return restored


def prune(directory: Path, retention: timedelta, now: datetime) -> list[Path]:
    """Delete the exports under ``directory`` taken more than ``retention`` before ``now``; returns them.
    Files not named like an export are left alone, and a missing directory has nothing to prune."""
    if not directory.is_dir():
        return []
    expired = []
    for path in sorted(directory.iterdir()):
        match = NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        taken = datetime.strptime(match["stamp"], STAMP).replace(tzinfo=UTC)
        if now - taken > retention:
            path.unlink(missing_ok=True)
            expired.append(path)
    return expired
