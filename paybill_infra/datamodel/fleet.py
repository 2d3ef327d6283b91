"""The fleet's schema: its units, the plan of a new schema file, a sequential migration, and the status.

:class:`SchemaFleet` is what ``ControlPlane.plan_schema`` / ``migrate_schema`` / ``schema_status`` and
``paybill db plan|status`` use, and what a wave-based rollout builds on: :meth:`SchemaFleet.units` lists
every unit with the version its marker records, :meth:`SchemaFleet.prepare` validates and records a new
version, and :meth:`SchemaFleet.migrate` brings one unit up to a version through
:func:`~paybill_infra.datamodel.apply.migrate_unit`, one recorded step at a time, recording each result in
the registry (tenants' and pools' ``schema_version``) and the audit log.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_acl import AclPolicy
from paybill_infra.controlplane.reconcile import Reconciler
from paybill_infra.controlplane.registry import PoolRow, SchemaVersionRow, TenantRow, utcnow
from paybill_infra.controlplane.runtime import Runtime
from paybill_infra.datamodel import backup, versions
from paybill_infra.datamodel.apply import UnitResult, VersionStep, migrate_unit, rollback_unit, unit_version
from paybill_infra.datamodel.backup import BackupManifest
from paybill_infra.datamodel.changes import Change, diff
from paybill_infra.datamodel.render import render_unit
from paybill_infra.datamodel.source import SchemaFile, load_schema_file
from paybill_infra.datamodel.units import Unit, UnitKind
from paybill_infra.errors import ControlPlaneError
from paybill_infra.schema.enums import Isolation

_ACTIVE_STATES = ("provisioning", "active", "suspended", "migrating")
_KINDS = {Isolation.POOLED: UnitKind.POOL, Isolation.BRIDGE: UnitKind.BRIDGE, Isolation.SILO: UnitKind.SILO}


class UnitPlan(BaseModel):
    """One unit's part of a plan: the SQL it would run, per step from its version to the target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: str
    kind: UnitKind
    members: tuple[str, ...]
    from_version: int
    to_version: int
    sql: str


class SchemaPlan(BaseModel):
    """A dry run: the changes of the new file, and the SQL per unit grouped by topology."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    from_version: int
    to_version: int
    recorded: bool
    """Whether the target version already existed in the registry (a plan never records one)."""
    changes: tuple[Change, ...]
    units: dict[UnitKind, tuple[UnitPlan, ...]]


class VersionGroup(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    units: tuple[str, ...]
    tenants: tuple[str, ...]


class SchemaStatus(BaseModel):
    """The fleet grouped by schema version (from the units' markers), with the newest recorded version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    newest: int
    versions: tuple[VersionGroup, ...]


class SchemaFleet:
    """Schema versions across the fleet of one control plane (see the module docstring)."""

    def __init__(
        self,
        rt: Runtime,
        reconciler: Reconciler,
        file: SchemaFile,
        *,
        backup_retention: timedelta,
        acl: AclPolicy | None = None,
    ) -> None:
        self.rt = rt
        self.reconciler = reconciler
        self.file = file
        self.acl = acl
        self.backup_dir = rt.export_dir / "schema"
        self.backup_retention = backup_retention

    # --- versions ------------------------------------------------------------------------------------------

    def newest(self) -> int:
        """The newest recorded version, recording the configured schema file as version 1 on first use."""
        return versions.ensure_baseline(self.rt.registry, self.file)

    def newest_file(self) -> tuple[int, SchemaFile]:
        number = self.newest()
        with self.rt.registry.transaction() as session:
            return number, versions.load(session, number)

    def step(self, from_version: int, to_version: int, *, allow_destructive: bool) -> VersionStep:
        """The recorded step between two consecutive versions, validated again with ``allow_destructive``."""
        with self.rt.registry.transaction() as session:
            old, new = versions.load(session, from_version), versions.load(session, to_version)
        return VersionStep(
            from_version=from_version,
            to_version=to_version,
            diff=diff(old, new, allow_destructive=allow_destructive),
        )

    def prepare(self, path: str | Path | None, *, allow_destructive: bool) -> int:
        """Validate the schema file at ``path`` (the configured one by default) against the newest version and
        record it as the next version; returns that number (the newest one when nothing changed). A refused
        file raises a typed error and records nothing.

        Every rollout and migration starts here, so this is also where the exports older than the backup
        retention are deleted (:func:`~paybill_infra.datamodel.backup.prune`)."""
        backup.prune(self.backup_dir, self.backup_retention, utcnow())
        newest, current = self.newest_file()
        new = load_schema_file(path) if path is not None else self.file
        if new.content_hash == current.content_hash:
            return newest
        diff(current, new, allow_destructive=allow_destructive)
        return versions.record(self.rt.registry, new)

    # --- units ---------------------------------------------------------------------------------------------

    def units(self) -> list[Unit]:
        """Every unit of the fleet (pools once, bridge and silo tenants each), with the version its marker
        records, sorted by key. Tenants without a placement yet (being provisioned) are not listed."""
        units: dict[str, Unit] = {}
        pooled: dict[str, list[TenantRow]] = defaultdict(list)
        with self.rt.registry.transaction() as session:
            rows = session.scalars(
                select(TenantRow).where(TenantRow.state.in_(_ACTIVE_STATES), TenantRow.stack.is_not(None))
            ).all()
            for row in rows:
                placement = self.reconciler.placement(session, row)
                kind = _KINDS[placement.isolation]
                owner = row.role or ""
                if kind is UnitKind.POOL:
                    pool = session.get(PoolRow, row.pool_id)
                    owner = pool.owner if pool is not None else owner
                unit = Unit(
                    kind=kind,
                    database=placement.database,
                    schema_name=placement.schema,
                    owner=owner,
                    server=placement.server,
                )
                pooled[unit.key].append(row)
                units.setdefault(unit.key, unit)
        out = []
        for key, unit in sorted(units.items()):
            members = sorted(pooled[key], key=lambda r: r.slug)
            listed = unit.model_copy(
                update={"members": tuple(r.slug for r in members), "roles": tuple(r.role or "" for r in members)}
            )
            out.append(listed.model_copy(update={"version": unit_version(listed)}))
        return out

    def _record(self, session: Session, unit: Unit, version: int) -> None:
        for slug in unit.members:
            row = session.get(TenantRow, slug)
            if row is None:
                continue
            row.schema_version = version
            if unit.kind is UnitKind.POOL and row.pool_id is not None:
                pool = session.get(PoolRow, row.pool_id)
                if pool is not None:
                    pool.schema_version = version

    def migrate(self, unit: Unit, to_version: int, *, allow_destructive: bool, actor: str) -> list[UnitResult]:
        """Bring ``unit`` from its version up to ``to_version``, one recorded step at a time (each exactly once,
        see :func:`~paybill_infra.datamodel.apply.migrate_unit`), recording every step in the registry and
        the audit log. A failure raises after the steps before it were recorded."""
        if unit.version > to_version:
            raise ControlPlaneError(f"{unit.key} is at version {unit.version}, newer than {to_version}")
        results: list[UnitResult] = []
        for version in range(unit.version, to_version):
            step = self.step(version, version + 1, allow_destructive=allow_destructive)
            result = migrate_unit(unit, step, backup_dir=self.backup_dir, acl=self.acl)
            with self.rt.registry.transaction() as session:
                self._record(session, unit, result.to_version)
                detail = result.model_dump(mode="json", include={"unit", "from_version", "to_version", "outcome"})
                if result.backup is not None:
                    detail["backup"] = str(result.backup.path)
                self.rt.registry.audit(session, actor=actor, action="schema.migrate_unit", detail=detail)
            results.append(result)
            unit = unit.model_copy(update={"version": version + 1})
        return results

    def rollback(
        self, unit: Unit, manifest: BackupManifest | None, *, actor: str, allow_destructive: bool = True
    ) -> UnitResult:
        """Undo the last step of ``unit`` (from its version to the one before), restoring the data its
        destructive changes removed from ``manifest`` (the :attr:`UnitResult.backup` of that step), and
        record the unit back at the previous version (see :func:`~paybill_infra.datamodel.apply.rollback_unit`)."""
        if unit.version <= 1:
            raise ControlPlaneError(f"{unit.key} is at version {unit.version}: there is no step to roll back")
        step = self.step(unit.version - 1, unit.version, allow_destructive=allow_destructive)
        result = rollback_unit(unit, step, manifest, backup_dir=self.backup_dir, acl=self.acl)
        with self.rt.registry.transaction() as session:
            self._record(session, unit, step.from_version)
            detail = result.model_dump(
                mode="json", include={"unit", "from_version", "to_version", "outcome", "restored"}
            )
            self.rt.registry.audit(session, actor=actor, action="schema.rollback_unit", detail=detail)
        return result

    # --- the sequential surface ------------------------------------------------------------------------------

    def plan(self, path: str | Path | None, *, allow_destructive: bool) -> SchemaPlan:
        """The dry run of moving the fleet to the file at ``path``: validated like :meth:`prepare`, nothing
        recorded or applied; each unit's SQL for the step from the newest version."""
        newest, current = self.newest_file()
        new = load_schema_file(path) if path is not None else self.file
        change = diff(current, new, allow_destructive=allow_destructive)
        with self.rt.registry.transaction() as session:
            recorded = session.scalar(
                select(SchemaVersionRow.number).where(SchemaVersionRow.content_hash == new.content_hash)
            )
        target = recorded if recorded is not None else newest + 1
        grouped: dict[UnitKind, list[UnitPlan]] = defaultdict(list)
        if not change.empty:
            steps = {newest: VersionStep(from_version=newest, to_version=target, diff=change)}
            for unit in self.units():
                for version in range(unit.version, newest):
                    if version not in steps:
                        steps[version] = self.step(version, version + 1, allow_destructive=allow_destructive)
                scripts = [
                    render_unit(steps[v].diff, unit, steps[v].to_version, acl=self.acl)
                    for v in range(unit.version, newest + 1)
                ]
                grouped[unit.kind].append(
                    UnitPlan(
                        unit=unit.key,
                        kind=unit.kind,
                        members=unit.members,
                        from_version=unit.version,
                        to_version=target,
                        sql="".join(script.text() for script in scripts),
                    )
                )
        return SchemaPlan(
            source=new.source,
            from_version=newest,
            to_version=target,
            recorded=recorded is not None,
            changes=change.changes,
            units={kind: tuple(plans) for kind, plans in grouped.items()},
        )

    def migrate_all(self, path: str | Path | None, *, allow_destructive: bool, actor: str) -> list[UnitResult]:
        """Record the file at ``path`` as the next version and migrate every unit to it, one after another
        (stops at the first failure: finished units are at the new version, the rest unchanged)."""
        target = self.prepare(path, allow_destructive=allow_destructive)
        results: list[UnitResult] = []
        for unit in self.units():
            results += self.migrate(unit, target, allow_destructive=allow_destructive, actor=actor)
        return results

    def status(self) -> SchemaStatus:
        newest = self.newest()
        groups: dict[int, list[Unit]] = defaultdict(list)
        for unit in self.units():
            groups[unit.version].append(unit)
        return SchemaStatus(
            newest=newest,
            versions=tuple(
                VersionGroup(
                    version=version,
                    units=tuple(u.key for u in units),
                    tenants=tuple(sorted(t for u in units for t in u.members)),
                )
                for version, units in sorted(groups.items())
            ),
        )
