"""Crash recovery: finish or roll back every operation whose owner died (``kill -9``, a lost host).

For each stale operation: take it over, drop the locks its owner held, clear the stacks' DIY locks (only
when the holding CLI process is gone) and pending operations (undoing half-done creates through the
resources' own providers), then finish it from the registry through :attr:`Operations.finishers`: an
onboarding or a suspend/resume is re-applied; a migration not yet switched is rolled back to the source,
one already switched tears the source down; an offboarding completes.

Before that, processes left by dead engine runs (a provider host whose CLI was killed before the provider
code loaded, the wrapper shell) are killed: :func:`paybill_infra.lifeline.reap_orphans`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from paybill_infra import lifeline
from paybill_infra.controlplane.models import OperationKind, OperationResult, OperationStatus, TenantState
from paybill_infra.controlplane.operation_runner import OperationRunner
from paybill_infra.controlplane.operations import Operations
from paybill_infra.controlplane.placement import infra_stack
from paybill_infra.controlplane.reconcile import Reconciler
from paybill_infra.controlplane.registry import OperationRow, TenantRow
from paybill_infra.controlplane.runtime import Runtime
from paybill_infra.errors import PaybillError


class Recovery:
    def __init__(self, rt: Runtime, reconciler: Reconciler, operations: Operations, runner: OperationRunner) -> None:
        self.rt = rt
        self.rec = reconciler
        self.operations = operations
        self.runner = runner

    def recover(self) -> list[OperationResult]:
        rt = self.rt
        lifeline.reap_orphans()
        recovered: list[OperationResult] = []
        for stale in rt.journal.stale():
            row = rt.journal.adopt(stale.id)
            rt.locks.release_all(row.id)
            self.runner.audit(
                row.actor, "operation.recovering", row.tenant, row.id, {"phase": row.phase, "kind": row.kind.value}
            )
            with rt.locks.hold(f"tenant:{row.tenant}", row.id, rt.settings.lock_timeout_s):
                repaired = self.repair_stacks(row.tenant)
                rt.journal.phase(row.id, "recovering", repaired=repaired, recovered=True)
                status, error = self.finish_interrupted(row)
                result = rt.journal.finish(row.id, status, error=error)
            self.runner.audit(row.actor, f"{row.kind.value}.{status.value}", row.tenant, row.id, {"recovered": True})
            recovered.append(result)
        return recovered

    def finish_interrupted(self, row: OperationRow) -> tuple[OperationStatus, str | None]:
        """Finish the operation ``row`` whose owner died, from the registry (a failure marks the tenant
        failed, from where it can be offboarded or onboarded again)."""
        try:
            return self.operations.finishers[OperationKind(row.kind)](row)
        except PaybillError as err:
            self.rt.mark(row.tenant, TenantState.FAILED)
            return OperationStatus.FAILED, str(err)

    def repair_stacks(self, slug: str) -> dict[str, list[str]]:
        rt = self.rt
        with rt.registry.transaction() as session:
            row = session.get(TenantRow, slug)
            stacks = {s for s in (row.stack, row.target_stack) if s} if row else set()
            stacks |= {
                o["source_stack"]
                for o in session.scalars(select(OperationRow.summary).where(OperationRow.tenant == slug))
                if isinstance(o, dict) and o.get("source_stack")
            }
            if row is not None:
                stacks |= {
                    self._platform_of(row.cloud, row.region),
                    *([self._platform_of(row.target_cloud, row.target_region)] if row.target_cloud else []),
                }
        repaired: dict[str, list[str]] = {}
        for stack in sorted(stacks):
            if not rt.stacks.exists(stack):
                continue
            cleared = rt.stacks.clear_stale_lock(stack)
            pending = rt.stacks.clear_pending(stack, self._server_input(stack))
            if cleared or pending:
                repaired[stack] = [*(["lock"] if cleared else []), *pending]
            twin = infra_stack(stack)
            if rt.stacks.exists(twin) and rt.stacks.clear_stale_lock(twin):
                repaired.setdefault(twin, []).append("lock")
        return repaired

    def _platform_of(self, cloud: Any, region: str | None) -> str:
        from paybill_infra.controlplane.placement import platform_stack

        return platform_stack(self.rt.target(cloud), region or self.rt.target(cloud).default_region)

    def _server_input(self, stack: str) -> dict[str, Any]:
        """The ``server`` property the stack's providers get to undo pending creates (the checkpoint holds
        it encrypted)."""
        with self.rt.registry.transaction() as session:
            spec = self.rec.spec(session, stack)
        infra = self.rec.infra_outputs(spec) if spec.members or spec.kind.value == "platform" else None
        if infra is None:
            return self.rt.server.as_input()
        return {"url": self.rec.admin(spec, infra).url("postgres")}
