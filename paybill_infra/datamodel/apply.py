"""Migrating one unit from schema version N to N+1, exactly once, and rolling it back.

:func:`migrate_unit` is the one function a rollout (sequential here, in waves elsewhere) calls per unit;
:func:`rollback_unit` undoes a step, restoring the data its destructive changes removed from the backup.
Both run everything of the unit in one transaction of its database, under a lock on the unit's version
marker, so concurrent or repeated calls for the same unit serialise, and the outcome is read from the
marker, never assumed from the registry. The one exception is the step's index changes of existing tables:
``CREATE/DROP INDEX CONCURRENTLY`` cannot run in a transaction block, so they run first, each on its own,
and are idempotent, so a crash between them and the transaction is repaired by the re-run.
"""

from __future__ import annotations

import enum
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field

from agent_acl import AclPolicy
from paybill_infra.datamodel import backup as backups
from paybill_infra.datamodel.backup import BackupManifest
from paybill_infra.datamodel.changes import SchemaDiff, diff
from paybill_infra.datamodel.render import ConcurrentIndex, drop_index_concurrently, marker_setup, render_unit
from paybill_infra.datamodel.units import BASELINE_VERSION, MARKER_SCHEMA, MARKER_TABLE, Unit, UnitKind
from paybill_infra.errors import SchemaMigrationError


class VersionStep(BaseModel):
    """The change from recorded version ``from_version`` to ``to_version`` (its diff, already validated)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_version: int = Field(ge=1)
    to_version: int = Field(ge=1)
    diff: SchemaDiff


class UnitOutcome(enum.Enum):
    MIGRATED = "migrated"
    ALREADY_APPLIED = "already_applied"
    """The unit's marker already said ``to_version``: nothing ran (a re-run after a crash or by a peer)."""
    ROLLED_BACK = "rolled_back"


class UnitResult(BaseModel):
    """What one call did to one unit; ``backup`` is the export taken before destructive changes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: str
    kind: UnitKind
    members: tuple[str, ...]
    from_version: int
    to_version: int
    outcome: UnitOutcome
    statements: int
    backup: BackupManifest | None = None
    restored: dict[str, int] = {}
    seconds: float


def _marker_version(conn: psycopg.Connection[Any], unit: Unit) -> int:
    row = conn.execute(
        sql.SQL("SELECT version FROM {t} WHERE unit = %s").format(t=sql.Identifier(MARKER_SCHEMA, MARKER_TABLE)),
        (unit.marker_key,),
    ).fetchone()
    return int(row[0]) if row is not None else BASELINE_VERSION


def ensure_marker(conn: psycopg.Connection[Any]) -> None:
    """Create the marker table once per database (autocommit): a concurrent creator's duplicate is as good."""
    if conn.execute("SELECT to_regclass(%s)", (f"{MARKER_SCHEMA}.{MARKER_TABLE}",)).fetchone() != (None,):
        return
    for statement in marker_setup():
        with suppress(pg_errors.UniqueViolation, pg_errors.DuplicateObject, pg_errors.InternalError_):
            conn.execute(statement.as_string(conn))


def _already_at(conn: psycopg.Connection[Any], unit: Unit, from_version: int, to_version: int) -> bool:
    """Whether the unit's marker already says ``to_version``; any version but that and ``from_version`` is
    refused (:class:`SchemaMigrationError`)."""
    current = _marker_version(conn, unit)
    if current not in (from_version, to_version):
        raise SchemaMigrationError(
            unit.key, from_version, to_version, f"the unit is at version {current}, not {from_version}"
        )
    return current == to_version


def _invalid_index(conn: psycopg.Connection[Any], schema_name: str, name: str) -> bool:
    """Whether ``schema_name.name`` is an index a failed or interrupted concurrent build left INVALID."""
    row = conn.execute(
        "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = %s",
        (schema_name, name),
    ).fetchone()
    return row is not None and bool(row[0])


def _run_concurrent(conn: psycopg.Connection[Any], changes: tuple[ConcurrentIndex, ...]) -> None:
    """The index changes, each in its own implicit transaction (``conn`` is in autocommit). ``IF NOT EXISTS``
    would keep an INVALID index as it is, so one is dropped (concurrently) and built again."""
    for change in changes:
        if change.creates and _invalid_index(conn, change.schema_name, change.name):
            conn.execute(drop_index_concurrently(change.schema_name, change.name).as_string(conn))
        conn.execute(change.statement.as_string(conn))


def unit_version(unit: Unit) -> int:
    """The version ``unit``'s marker records (:data:`BASELINE_VERSION` when it has none)."""
    with psycopg.connect(unit.server.conninfo(unit.database), autocommit=True, connect_timeout=30) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f"{MARKER_SCHEMA}.{MARKER_TABLE}",)).fetchone() == (None,):
            return BASELINE_VERSION
        return _marker_version(conn, unit)


def _step(
    unit: Unit,
    change: SchemaDiff,
    from_version: int,
    to_version: int,
    *,
    acl: AclPolicy | None,
    backup_dir: Path,
    restore_from: BackupManifest | None,
    outcome: UnitOutcome,
) -> UnitResult:
    started = time.monotonic()
    script = render_unit(change, unit, to_version, acl=acl, defer_not_null=restore_from is not None)

    def result(done: UnitOutcome, **extra: Any) -> UnitResult:
        return UnitResult(
            unit=unit.key,
            kind=unit.kind,
            members=unit.members,
            from_version=from_version,
            to_version=to_version,
            outcome=done,
            seconds=round(time.monotonic() - started, 3),
            **extra,
        )

    try:
        with psycopg.connect(unit.server.conninfo(unit.database), autocommit=True, connect_timeout=30) as conn:
            ensure_marker(conn)
            if script.concurrent:
                if _already_at(conn, unit, from_version, to_version):
                    return result(UnitOutcome.ALREADY_APPLIED, statements=0)
                _run_concurrent(conn, script.concurrent)
            with conn.transaction():
                conn.execute(
                    sql.SQL("LOCK TABLE {t} IN SHARE ROW EXCLUSIVE MODE").format(
                        t=sql.Identifier(MARKER_SCHEMA, MARKER_TABLE)
                    )
                )
                if _already_at(conn, unit, from_version, to_version):
                    return result(UnitOutcome.ALREADY_APPLIED, statements=0)
                manifest = backups.export(conn, unit, change, from_version, backup_dir) if change.destructive else None
                for statement in script.statements:
                    conn.execute(statement.as_string(conn))
                restored = backups.restore(conn, unit, restore_from) if restore_from is not None else {}
                for statement in script.after_restore:
                    conn.execute(statement.as_string(conn))
    except psycopg.Error as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SchemaMigrationError(unit.key, from_version, to_version, reason) from None
    count = len(script.concurrent) + len(script.statements)
    return result(outcome, statements=count, backup=manifest, restored=restored)


def migrate_unit(unit: Unit, step: VersionStep, *, backup_dir: Path, acl: AclPolicy | None = None) -> UnitResult:
    """Migrate ONE unit (a pool, a bridge schema or a silo database) from ``step.from_version`` to
    ``step.to_version``. The contract a rollout builds on:

    - **atomic**: the DDL, backfills, the agent ACL's regenerated grants (``acl``: every agent role of
      every member tenant gets exactly its matrix over the new schema) and the unit's version marker commit
      in one transaction, or nothing does;
    - **indexes concurrently, first**: index changes of existing tables run before that transaction as
      ``CREATE INDEX CONCURRENTLY IF NOT EXISTS`` / ``DROP INDEX CONCURRENTLY IF EXISTS`` (writes go on
      meanwhile; PostgreSQL refuses CONCURRENTLY in a transaction block). A failure there or in the
      transaction leaves the marker at ``from_version``, possibly with the index step done: the re-run
      repeats it as a no-op, and rebuilds an INVALID index an interrupted or failed build left behind;
    - **exactly once / idempotent**: the marker is read under a lock in that transaction; a unit already at
      ``to_version`` returns :attr:`UnitOutcome.ALREADY_APPLIED` and runs nothing, so a re-run after a
      crash (or a concurrent caller) never applies a step twice;
    - **ordered**: a unit at any version other than ``from_version``/``to_version`` is refused;
    - **backed up**: destructive changes are preceded by an export of the data they remove, under
      ``backup_dir`` (returned in :attr:`UnitResult.backup`, the input of :func:`rollback_unit`).

    Raises :class:`~paybill_infra.errors.SchemaMigrationError` (the unit is unchanged, still at
    ``from_version``) on any database error, e.g. a lock not obtained within the lock timeout. The registry
    is not touched: the caller records the result.
    """
    return _step(
        unit,
        step.diff,
        step.from_version,
        step.to_version,
        acl=acl,
        backup_dir=backup_dir,
        restore_from=None,
        outcome=UnitOutcome.MIGRATED,
    )


def rollback_unit(
    unit: Unit,
    step: VersionStep,
    manifest: BackupManifest | None,
    *,
    backup_dir: Path,
    acl: AclPolicy | None = None,
) -> UnitResult:
    """Undo ``step`` on ``unit``: the reverse diff (dropped tables and columns re-created, added ones
    dropped after being exported too), the backed-up values written back, NOT NULL re-applied after them,
    grants regenerated for the old schema and the marker set back to ``step.from_version``; one transaction,
    idempotent like :func:`migrate_unit`."""
    reverse = diff(step.diff.new, step.diff.old, allow_destructive=True)
    return _step(
        unit,
        reverse,
        step.to_version,
        step.from_version,
        acl=acl,
        backup_dir=backup_dir,
        restore_from=manifest,
        outcome=UnitOutcome.ROLLED_BACK,
    )
