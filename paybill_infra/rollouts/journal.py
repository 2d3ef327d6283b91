"""The rollout journal: rollouts, their units and their steps as registry rows.

Every transition is its own short transaction, written *before* the work it announces is considered done:
a unit is ``running`` before it is applied and ``succeeded`` only after its application committed. A crash
therefore leaves at most ``workers`` units ``running``; resuming applies them again, which the unit itself
makes a no-op when its change had committed (see :class:`~paybill_infra.rollouts.units.UnitSource`).
"""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from paybill_infra.controlplane.jobs import request_hash
from paybill_infra.controlplane.models import OperationKind
from paybill_infra.controlplane.registry import (
    Registry,
    RolloutEventRow,
    RolloutRow,
    RolloutUnitRow,
    utcnow,
)
from paybill_infra.errors import IdempotencyConflictError, UnknownRolloutError
from paybill_infra.rollouts.models import (
    RolloutEvent,
    RolloutKind,
    RolloutRequest,
    RolloutStatus,
    RolloutView,
    UnitStatus,
    UnitView,
)
from paybill_infra.rollouts.waves import Wave

EVENT_PAGE = 500


def digest(request: RolloutRequest) -> str:
    return request_hash(OperationKind.CONVERGE, "*", {"rollout": request.model_dump(mode="json")})


class RolloutJournal:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def create(self, request: RolloutRequest, actor: str, key: str | None, waves: list[Wave]) -> tuple[str, bool]:
        """Record a queued rollout with its units in their waves; ``(id, created)``. The same key with the
        same request is the first rollout (``created`` false); with another request it is refused."""
        with self.registry.transaction() as session:
            if key is not None:
                earlier = session.scalars(select(RolloutRow).where(RolloutRow.idempotency_key == key)).one_or_none()
                if earlier is not None:
                    if earlier.request_hash != digest(request):
                        raise IdempotencyConflictError(key, earlier.id)
                    return earlier.id, False
            rollout_id = str(uuid.uuid4())
            session.add(
                RolloutRow(
                    id=rollout_id,
                    kind=request.kind,
                    status=RolloutStatus.QUEUED,
                    actor=actor,
                    idempotency_key=key,
                    request_hash=digest(request),
                    request=request.model_dump(mode="json"),
                    attempts=0,
                    failures=0,
                    created_at=utcnow(),
                )
            )
            session.flush()
            for wave in waves:
                for unit in wave.units:
                    session.add(
                        RolloutUnitRow(
                            rollout_id=rollout_id,
                            key=unit.key,
                            group=unit.group,
                            label=unit.label,
                            wave=wave.index,
                            wave_label=wave.label,
                            status=UnitStatus.PENDING,
                            attempts=0,
                            applications=0,
                        )
                    )
            plan = ", ".join(f"{w.label}: {len(w.units)}" for w in waves) or "no units"
            self._event(session, rollout_id, "rollout.queued", None, None, f"{request.kind.value} rollout ({plan})")
            return rollout_id, True

    def request(self, rollout_id: str) -> RolloutRequest:
        with self.registry.transaction() as session:
            return RolloutRequest.model_validate(self._row(session, rollout_id).request)

    def start(self, rollout_id: str, owner: str) -> None:
        """Owned by ``owner`` from now on: one more attempt; units left ``running`` by a dead owner and the
        failed ones go back to ``pending`` (a resume retries them, with the budget counted anew)."""
        with self.registry.transaction() as session:
            row = self._row(session, rollout_id)
            row.status, row.owner, row.attempts, row.failures = RolloutStatus.RUNNING, owner, row.attempts + 1, 0
            row.started_at = row.started_at or utcnow()
            row.finished_at = row.error = None
            session.execute(
                update(RolloutUnitRow)
                .where(
                    RolloutUnitRow.rollout_id == rollout_id,
                    RolloutUnitRow.status.in_([UnitStatus.RUNNING.value, UnitStatus.FAILED.value]),
                )
                .values(status=UnitStatus.PENDING)
            )
            self._event(session, rollout_id, "rollout.started", None, None, f"attempt {row.attempts} by {owner}")

    def pending(self, rollout_id: str) -> list[tuple[int, str, list[str]]]:
        """The waves with units still to apply, in order: ``(wave, label, unit keys)``."""
        with self.registry.transaction() as session:
            rows = session.scalars(
                select(RolloutUnitRow)
                .where(RolloutUnitRow.rollout_id == rollout_id, RolloutUnitRow.status == UnitStatus.PENDING.value)
                .order_by(RolloutUnitRow.wave, RolloutUnitRow.key)
            ).all()
        waves: dict[int, tuple[str, list[str]]] = {}
        for r in rows:
            waves.setdefault(r.wave, (r.wave_label, []))[1].append(r.key)
        return [(wave, label, keys) for wave, (label, keys) in sorted(waves.items())]

    def wave(self, rollout_id: str, wave: int, label: str, size: int) -> None:
        with self.registry.transaction() as session:
            self._row(session, rollout_id).current_wave = wave
            self._event(session, rollout_id, "wave.started", wave, None, f"wave {label}: {size} units")

    def unit_started(self, rollout_id: str, key: str) -> None:
        with self.registry.transaction() as session:
            row = self._unit(session, rollout_id, key)
            row.status, row.attempts, row.started_at, row.error = UnitStatus.RUNNING, row.attempts + 1, utcnow(), None
            self._event(session, rollout_id, "unit.started", row.wave, key, row.label)

    def unit_finished(self, rollout_id: str, key: str, *, actor: str, changed: bool, error: str | None) -> int:
        """Record the unit's outcome, and audit it in the same transaction; returns the rollout's failures so
        far (this attempt)."""
        with self.registry.transaction() as session:
            row = self._unit(session, rollout_id, key)
            row.status = UnitStatus.FAILED if error is not None else UnitStatus.SUCCEEDED
            row.applications += int(changed)
            row.finished_at, row.error = utcnow(), error
            rollout = self._row(session, rollout_id)
            if error is not None:
                rollout.failures += 1
            outcome = f"failed: {error}" if error is not None else ("applied" if changed else "already applied")
            self._event(session, rollout_id, f"unit.{row.status.value}", row.wave, key, f"{row.label}: {outcome}")
            detail: dict[str, object] = {"unit": key, "changed": changed}
            if error is not None:
                detail["error"] = error[:500]
            self.registry.audit(
                session, actor=actor, action=f"rollout.unit.{row.status.value}", operation_id=rollout_id, detail=detail
            )
            return rollout.failures

    def finish(self, rollout_id: str, status: RolloutStatus, error: str | None = None) -> None:
        with self.registry.transaction() as session:
            row = self._row(session, rollout_id)
            row.status, row.finished_at, row.error = status, utcnow(), error
            self._event(session, rollout_id, f"rollout.{status.value}", row.current_wave, None, error or status.value)

    def running(self) -> list[RolloutRow]:
        with self.registry.transaction() as session:
            return list(
                session.scalars(
                    select(RolloutRow)
                    .where(RolloutRow.status == RolloutStatus.RUNNING.value)
                    .order_by(RolloutRow.created_at)
                )
            )

    def latest(self, kind: RolloutKind | None = None) -> str | None:
        """The newest rollout (of ``kind``)."""
        query = select(RolloutRow.id).order_by(RolloutRow.created_at.desc())
        if kind is not None:
            query = query.where(RolloutRow.kind == kind.value)
        with self.registry.transaction() as session:
            return session.scalars(query).first()

    def view(self, rollout_id: str, *, deduplicated: bool = False) -> RolloutView:
        with self.registry.transaction() as session:
            row = self._row(session, rollout_id)
            units = session.scalars(
                select(RolloutUnitRow)
                .where(RolloutUnitRow.rollout_id == rollout_id)
                .order_by(RolloutUnitRow.wave, RolloutUnitRow.key)
            ).all()
            request = RolloutRequest.model_validate(row.request)
            return RolloutView(
                id=row.id,
                kind=row.kind,
                status=row.status,
                actor=row.actor,
                waves=request.waves,
                error_budget=request.error_budget,
                workers=request.workers,
                failures=row.failures,
                current_wave=row.current_wave,
                created_at=row.created_at,
                started_at=row.started_at,
                finished_at=row.finished_at,
                error=row.error,
                counts=dict(Counter(u.status.value for u in units)),
                units=tuple(UnitView.model_validate(u) for u in units),
                deduplicated=deduplicated,
            )

    def recent(self, limit: int = 50) -> list[RolloutView]:
        with self.registry.transaction() as session:
            ids = session.scalars(select(RolloutRow.id).order_by(RolloutRow.created_at.desc()).limit(limit)).all()
        return [self.view(i) for i in ids]

    def events(self, rollout_id: str, after: int = 0) -> list[RolloutEvent]:
        with self.registry.transaction() as session:
            self._row(session, rollout_id)
            rows = session.scalars(
                select(RolloutEventRow)
                .where(RolloutEventRow.rollout_id == rollout_id, RolloutEventRow.id > after)
                .order_by(RolloutEventRow.id)
                .limit(EVENT_PAGE)
            ).all()
            return [
                RolloutEvent(
                    id=r.id, rollout=rollout_id, at=r.at, kind=r.kind, wave=r.wave, unit=r.unit, message=r.message
                )
                for r in rows
            ]

    @staticmethod
    def _row(session: Session, rollout_id: str) -> RolloutRow:
        row = session.get(RolloutRow, rollout_id)
        if row is None:
            raise UnknownRolloutError(rollout_id)
        return row

    @staticmethod
    def _unit(session: Session, rollout_id: str, key: str) -> RolloutUnitRow:
        row = session.get(RolloutUnitRow, (rollout_id, key))
        if row is None:
            raise UnknownRolloutError(f"{rollout_id} unit {key}")
        return row

    @staticmethod
    def _event(session: Session, rollout_id: str, kind: str, wave: int | None, unit: str | None, message: str) -> None:
        session.add(
            RolloutEventRow(rollout_id=rollout_id, at=utcnow(), kind=kind, wave=wave, unit=unit, message=message[:2000])
        )
