"""Running a rollout: its waves in order, each wave's units on a bounded pool, and the error budget.

1. :meth:`RolloutRunner.plan` records the rollout *queued*: the source's units, assigned to waves
   (:func:`~paybill_infra.rollouts.waves.assign`), each a ``pending`` row. An idempotency key replays it.
2. :meth:`RolloutRunner.run` takes the lock ``rollout:<kind>`` (rollouts of one kind never overlap; the
   control plane's heartbeat keeps the lock alive), then applies the pending units wave by wave, at most
   ``workers`` at once. Each unit is journaled ``running`` before and ``succeeded``/``failed`` after.
3. Once failures exceed ``error_budget``, no further unit starts: the units in flight finish, the
   rollout is *halted*, and every unit not started is untouched (still at the old version). A rollout
   whose waves all ran ends *succeeded*, or *degraded* when some units failed within the budget.
4. :meth:`RolloutRunner.recover` (run at control-plane start) finds running rollouts whose owner died
   (their lock is stale) and runs them on; :meth:`RolloutRunner.run` on a halted or degraded rollout
   retries its failed units and continues (``paybill db resume``), with the budget counted anew.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from paybill_infra.controlplane.models import ProgressPhase
from paybill_infra.controlplane.runtime import Runtime
from paybill_infra.errors import FieldProblem, InvalidInputError, RolloutBusyError
from paybill_infra.rollouts.journal import RolloutJournal
from paybill_infra.rollouts.models import RolloutKind, RolloutRequest, RolloutStatus, RolloutView
from paybill_infra.rollouts.units import UnitSource
from paybill_infra.rollouts.waves import assign, parse_waves

SourceFactory = Callable[[RolloutRequest, str], UnitSource]
"""The source of a kind of rollout, for its request and its id (``""`` while it is being planned)."""
Audit = Callable[[str, str, str | None, str | None, dict[str, object]], None]


class RolloutRunner:
    def __init__(
        self, rt: Runtime, journal: RolloutJournal, sources: Mapping[RolloutKind, SourceFactory], audit: Audit
    ) -> None:
        self.rt = rt
        self.journal = journal
        self.sources = sources
        self.audit = audit

    def plan(self, request: RolloutRequest, actor: str, key: str | None) -> RolloutView:
        """Record ``request`` as a queued rollout over the source's current units (see the module docstring)."""
        busy = [r for r in self.journal.running() if r.kind is request.kind]
        if busy:
            raise RolloutBusyError(request.kind.value, busy[0].id)
        waves = assign(self.source(request, "").units(), parse_waves(request.waves))
        rollout_id, created = self.journal.create(request, actor, key, waves)
        if created:
            self.audit(actor, "rollout.planned", None, rollout_id, request.model_dump(mode="json"))
        return self.journal.view(rollout_id, deduplicated=not created)

    def run(self, rollout_id: str) -> RolloutView:
        """Run (or run on) the rollout until it ends; a no-op on a succeeded one. Waits up to the lock
        timeout while another rollout of its kind runs."""
        view = self.journal.view(rollout_id)
        if view.status is RolloutStatus.SUCCEEDED:
            return view
        holder = f"rollout-{uuid.uuid4().hex[:12]}"
        with self.rt.locks.hold(f"rollout:{view.kind.value}", holder, self.rt.settings.lock_timeout_s):
            return self._execute(rollout_id)

    def recover(self) -> list[RolloutView]:
        """Run on every rollout whose owner died mid-way (its ``rollout:<kind>`` lock is stale)."""
        recovered = []
        for row in self.journal.running():
            holder = f"rollout-{uuid.uuid4().hex[:12]}"
            name = f"rollout:{row.kind.value}"
            acquired, _ = self.rt.locks.try_acquire(name, holder)
            if not acquired:
                continue
            try:
                self.audit(row.actor, "rollout.recovering", None, row.id, {"attempts": row.attempts})
                recovered.append(self._execute(row.id))
            finally:
                self.rt.locks.release(name, holder)
        return recovered

    def _execute(self, rollout_id: str) -> RolloutView:
        journal, request = self.journal, self.journal.request(rollout_id)
        view = journal.view(rollout_id)
        if view.status is RolloutStatus.SUCCEEDED:
            return view
        actor = view.actor
        journal.start(rollout_id, self.rt.locks.owner)
        self.audit(actor, "rollout.started", None, rollout_id, {"waves": request.waves})
        self._milestone(ProgressPhase.STARTED, rollout_id, None, f"{request.kind.value} rollout {request.waves}")
        source = self.source(request, rollout_id)
        failures = 0
        for wave, label, keys in journal.pending(rollout_id):
            journal.wave(rollout_id, wave, label, len(keys))
            self._milestone(ProgressPhase.STEP, rollout_id, None, f"wave {label}: {len(keys)} units")
            failures = self._wave(rollout_id, actor, source, keys, request)
            if failures > request.error_budget:
                break
        status, error = self._outcome(failures, request.error_budget)
        journal.finish(rollout_id, status, error)
        done = journal.view(rollout_id)
        self.audit(actor, f"rollout.{status.value}", None, rollout_id, {"counts": done.counts})
        phase = ProgressPhase.FINISHED if status is RolloutStatus.SUCCEEDED else ProgressPhase.FAILED
        self._milestone(phase, rollout_id, None, f"rollout {status.value}")
        return done

    @staticmethod
    def _outcome(failures: int, budget: int) -> tuple[RolloutStatus, str | None]:
        if failures > budget:
            return RolloutStatus.HALTED, f"{failures} units failed, beyond the error budget of {budget}"
        if failures:
            return RolloutStatus.DEGRADED, f"{failures} units failed, within the error budget of {budget}"
        return RolloutStatus.SUCCEEDED, None

    def _wave(self, rollout_id: str, actor: str, source: UnitSource, keys: list[str], request: RolloutRequest) -> int:
        """Apply ``keys`` with at most ``workers`` in flight; stop starting units once the failures exceed
        the budget. Returns the rollout's failures so far."""
        todo = iter(keys)
        failures, stop = self.journal.view(rollout_id).failures, False
        with ThreadPoolExecutor(request.workers, thread_name_prefix="paybill-rollout") as pool:
            running: set[Future[int]] = set()
            while True:
                while not stop and len(running) < request.workers:
                    key = next(todo, None)
                    if key is None:
                        break
                    running.add(pool.submit(self._unit, rollout_id, actor, source, key))
                if not running:
                    return failures
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    running.discard(future)
                    failures = max(failures, future.result())
                stop = failures > request.error_budget

    def _unit(self, rollout_id: str, actor: str, source: UnitSource, key: str) -> int:
        self.journal.unit_started(rollout_id, key)
        self._milestone(ProgressPhase.STEP, rollout_id, key, f"applying {key}")
        try:
            applied = source.apply(key)
        except Exception as err:
            error = f"{type(err).__name__}: {err}"[:1000]
            self._milestone(ProgressPhase.FAILED, rollout_id, key, error)
            return self.journal.unit_finished(rollout_id, key, actor=actor, changed=False, error=error)
        self._milestone(
            ProgressPhase.RESOURCE, rollout_id, key, f"{key}: {'applied' if applied.changed else 'already applied'}"
        )
        return self.journal.unit_finished(rollout_id, key, actor=actor, changed=applied.changed, error=None)

    def source(self, request: RolloutRequest, rollout_id: str) -> UnitSource:
        kind = request.kind
        factory = self.sources.get(kind)
        if factory is None:
            known = ", ".join(sorted(k.value for k in self.sources))
            raise InvalidInputError(
                "rollout", [FieldProblem("kind", f"no {kind.value} rollouts here; expected one of {known}")]
            )
        return factory(request, rollout_id)

    def _milestone(self, phase: ProgressPhase, rollout_id: str, unit: str | None, message: str) -> None:
        self.rt.events.milestone(phase, message, operation_id=rollout_id, tenant=None, stack=unit)
