"""The tenant operations: each request's rules and registry intent, and its body, which converges stacks.

Every body is resumable: it converges from the registry, so running it again after a crash finishes the
work (see :mod:`paybill_infra.controlplane.recovery`, which dispatches through :attr:`Operations.finishers`).

Migrations (a plan change across isolations or pools, and a move to another region or cloud) run the same
five steps on every target: provision the target, freeze writes through the source role and copy the data,
verify it, switch the tenant's record, tear the source down. A failure before the switch rolls back to the
source and lifts the freeze.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from paybill_infra.controlplane import transitions as rules
from paybill_infra.controlplane.jobs import result_of
from paybill_infra.controlplane.models import (
    OnboardRequest,
    OperationKind,
    OperationResult,
    OperationStatus,
    RetentionPolicy,
    TenantState,
)
from paybill_infra.controlplane.operation_runner import OperationRunner
from paybill_infra.controlplane.placement import newest_version, place
from paybill_infra.controlplane.reconcile import Reconciler
from paybill_infra.controlplane.registry import OperationRow, PoolRow, SubscriptionRow, TenantRow, utcnow
from paybill_infra.controlplane.runtime import Runtime
from paybill_infra.errors import (
    ControlPlaneError,
    MigrationError,
    PaybillError,
    TenantExistsError,
)
from paybill_infra.schema.enums import Cloud, SubscriptionStatus
from paybill_infra.schema.plan import Plan
from paybill_infra.topology.naming import tenant_role

S = TenantState
K = OperationKind


class Operations:
    def __init__(self, rt: Runtime, reconciler: Reconciler, runner: OperationRunner) -> None:
        self.rt = rt
        self.rec = reconciler
        self.runner = runner
        self.finishers: dict[OperationKind, Callable[[OperationRow], tuple[OperationStatus, str | None]]] = {
            K.ONBOARD: lambda row: self._done(self.provision(row.id)),
            K.SUSPEND: lambda row: self._done(self.apply_toggle(row.id, row.tenant, suspended=True)),
            K.RESUME: lambda row: self._done(self.apply_toggle(row.id, row.tenant, suspended=False)),
            K.CHANGE_PLAN: self._resume_migration,
            K.MOVE: self._resume_migration,
            K.OFFBOARD: lambda row: self._done(
                self.offboard_body(row.id, RetentionPolicy((row.request or {}).get("retention", "export")))
            ),
        }
        """Finishes an operation whose owner died, per kind: the same bodies, from the registry."""

    # --- requests --------------------------------------------------------------------------------------------

    def onboard(
        self, req: OnboardRequest, actor: str, key: str | None, operation_id: str | None = None
    ) -> OperationResult:
        rt = self.rt
        plan = rt.plan(req.plan, req.slug)
        cloud = req.cloud or rt.settings.default_cloud

        def check(session: Session) -> OperationResult | None:
            row = session.get(TenantRow, req.slug)
            existing = (row.state, row.plan, row.display_name) if row is not None else None
            replay = rules.check_onboard(req.slug, req.subscription, existing, req.plan, req.display_name)
            self.rec.resolve(req.slug, req.display_name, plan.name, dict(req.tags), cloud, req.region)
            if not replay:
                return None
            first = session.scalars(
                select(OperationRow)
                .where(
                    OperationRow.tenant == req.slug,
                    OperationRow.kind == K.ONBOARD,
                    OperationRow.status != OperationStatus.QUEUED,
                )
                .order_by(OperationRow.created_at.desc())
            ).first()
            if first is None:
                raise TenantExistsError(req.slug, existing[0].value if existing else "", req.plan)
            return result_of(first, deduplicated=True)

        def prepare(session: Session, operation_id: str) -> None:
            row = session.get(TenantRow, req.slug)
            if row is None:
                row = TenantRow(slug=req.slug, generation=0, seats_used=0, storage_gb_used=0)
                session.add(row)
            target = rt.target(cloud)
            region = req.region or target.default_region
            row.display_name, row.plan, row.isolation = req.display_name, plan.name, plan.isolation
            row.cloud, row.region = cloud, region
            row.tags, row.state, row.suspended = dict(req.tags), S.PROVISIONING, False
            row.role = tenant_role(req.slug, row.generation)
            row.target_plan = row.target_isolation = row.target_stack = row.target_role = None
            row.target_pool_id, row.target_cloud, row.target_region = None, None, None
            row.stack, row.pool_id = place(session, req.slug, plan, target, region, rt.settings.pool_shard_size)
            pool = session.get(PoolRow, row.pool_id) if row.pool_id is not None else None
            row.schema_version = pool.schema_version if pool is not None else newest_version(session)
            sub = session.get(SubscriptionRow, req.slug)
            if sub is None:
                sub = SubscriptionRow(tenant=req.slug)
                session.add(sub)
            sub.plan, sub.status, sub.external_id = plan.name, req.subscription, req.external_billing_id
            sub.past_due_since = sub.canceled_at = None

        return self.runner.operate(
            K.ONBOARD,
            req.slug,
            actor,
            req.model_dump(mode="json"),
            key,
            check=check,
            prepare=prepare,
            body=self.provision,
            operation_id=operation_id,
        )

    def change_plan(
        self, slug: str, plan_name: str, actor: str, key: str | None, operation_id: str | None = None
    ) -> OperationResult:
        target = self.rt.plan(plan_name, slug)

        def check(session: Session) -> OperationResult | None:
            row = self.rt.tenant(session, slug)
            sub = session.get(SubscriptionRow, slug)
            rules.check_change_plan(
                slug,
                row.state,
                self.rt.catalog[row.plan],
                target,
                sub.status if sub else None,
                row.seats_used,
                row.storage_gb_used,
            )
            self.rec.resolve(slug, row.display_name, target.name, dict(row.tags or {}), row.cloud, row.region)
            return None

        def prepare(session: Session, operation_id: str) -> None:
            row = self.rt.tenant(session, slug)
            if rules.stays_in_place(row.plan, row.isolation, target):
                row.plan = target.name
                return
            self._plan_migration(session, row, target, row.cloud, row.region)

        return self.runner.operate(
            K.CHANGE_PLAN,
            slug,
            actor,
            {"plan": target.name},
            key,
            check=check,
            prepare=prepare,
            body=self.change,
            operation_id=operation_id,
        )

    def move(
        self,
        slug: str,
        cloud: Cloud,
        region: str | None,
        actor: str,
        key: str | None,
        operation_id: str | None = None,
    ) -> OperationResult:
        """Move the tenant, on its plan, to another region or cloud: a migration like a topology change."""
        _, where = rules.move_destination(cloud, region, self.rt.target(cloud).default_region)

        def check(session: Session) -> OperationResult | None:
            row = self.rt.tenant(session, slug)
            rules.check_move(slug, row.state, (row.cloud, row.region), (cloud, where))
            self.rec.resolve(slug, row.display_name, row.plan, dict(row.tags or {}), cloud, where)
            return None

        def prepare(session: Session, operation_id: str) -> None:
            row = self.rt.tenant(session, slug)
            self._plan_migration(session, row, self.rt.catalog[row.plan], cloud, where)

        request = {"cloud": cloud.value, "region": where}
        return self.runner.operate(
            K.MOVE, slug, actor, request, key, check=check, prepare=prepare, body=self.change, operation_id=operation_id
        )

    def _plan_migration(self, session: Session, row: TenantRow, plan: Plan, cloud: Cloud, region: str) -> None:
        row.state = S.MIGRATING
        row.target_plan, row.target_isolation = plan.name, plan.isolation
        row.target_cloud, row.target_region = cloud, region
        row.target_role = tenant_role(row.slug, row.generation + 1)
        row.target_stack, row.target_pool_id = place(
            session, row.slug, plan, self.rt.target(cloud), region, self.rt.settings.pool_shard_size
        )
        sub = session.get(SubscriptionRow, row.slug)
        if sub is not None:
            sub.plan = plan.name

    def toggle(
        self,
        kind: OperationKind,
        slug: str,
        actor: str,
        reason: str,
        key: str | None,
        operation_id: str | None = None,
    ) -> OperationResult:
        suspend = kind is K.SUSPEND

        def check(session: Session) -> OperationResult | None:
            row = self.rt.tenant(session, slug)
            sub = session.get(SubscriptionRow, slug)
            rules.check_toggle(slug, kind, row.state, sub.status if sub else None)
            return None

        def prepare(session: Session, operation_id: str) -> None:
            self.rt.tenant(session, slug).suspended = suspend

        def body(operation_id: str) -> dict[str, Any]:
            try:
                return self.apply_toggle(operation_id, slug, suspended=suspend)
            except PaybillError:
                with self.rt.registry.transaction() as session:
                    self.rt.tenant(session, slug).suspended = not suspend
                self.rec.sync(self._stack_of(slug), operation_id)
                raise

        return self.runner.operate(
            kind,
            slug,
            actor,
            {"reason": reason[:200]},
            key,
            check=check,
            prepare=prepare,
            body=body,
            operation_id=operation_id,
        )

    def offboard(
        self,
        slug: str,
        retention: RetentionPolicy,
        actor: str,
        key: str | None,
        operation_id: str | None = None,
    ) -> OperationResult:
        def check(session: Session) -> OperationResult | None:
            rules.check_offboard(slug, self.rt.tenant(session, slug, include_offboarded=True).state)
            return None

        def prepare(session: Session, operation_id: str) -> None:
            self.rt.tenant(session, slug).state = S.OFFBOARDING

        return self.runner.operate(
            K.OFFBOARD,
            slug,
            actor,
            {"retention": retention.value},
            key,
            check=check,
            prepare=prepare,
            body=lambda op: self.offboard_body(op, retention),
            operation_id=operation_id,
        )

    # --- bodies ------------------------------------------------------------------------------------------------

    def provision(self, operation_id: str) -> dict[str, Any]:
        slug = self._op_tenant(operation_id)
        with self.rt.registry.transaction() as session:
            row = self.rt.tenant(session, slug)
            stack, isolation, cloud, region = row.stack or "", row.isolation, row.cloud, row.region
        target = self.rt.target(cloud)
        try:
            if self.rec.needs_platform(target, region, isolation):
                self.rec.ensure_platform(target, region, operation_id)
            change = self.rec.sync(stack, operation_id)
        except PaybillError:
            self.undo_onboarding(operation_id, slug)
            raise
        self.rt.mark(slug, S.ACTIVE)
        return {"stack": stack, "changes": change.changes}

    def undo_onboarding(self, operation_id: str, slug: str) -> None:
        """A failed onboarding leaves no half-applied stack: the tenant leaves its placement (its stack is
        converged without it) and is marked failed, from where it can be onboarded again."""
        with self.rt.registry.transaction() as session:
            row = self.rt.tenant(session, slug)
            stack = row.stack
            row.stack, row.pool_id, row.state = None, None, S.FAILED
        if stack:
            try:
                self.rec.sync(stack, operation_id)
            except PaybillError as err:
                self.rt.journal.phase(operation_id, "cleanup-failed", cleanup_error=str(err)[:500])

    def apply_toggle(self, operation_id: str, slug: str, *, suspended: bool) -> dict[str, Any]:
        change = self.rec.sync(self._stack_of(slug), operation_id)
        self.rt.mark(slug, S.SUSPENDED if suspended else S.ACTIVE)
        return {"stack": change.stack, "changes": change.changes}

    def change(self, operation_id: str) -> dict[str, Any]:
        slug = self._op_tenant(operation_id)
        with self.rt.registry.transaction() as session:
            row = self.rt.tenant(session, slug)
            migrating, stack = row.target_stack is not None, row.stack or ""
        if not migrating:
            change = self.rec.sync(stack, operation_id)
            return {"stack": stack, "changes": change.changes, "migration": False}
        return self.migrate(operation_id, slug)

    def migrate(self, operation_id: str, slug: str) -> dict[str, Any]:
        rt = self.rt
        with rt.registry.transaction() as session:
            row = rt.tenant(session, slug)
            source = self.rec.placement(session, row)
            source_stack, target_stack = row.stack or "", row.target_stack or ""
            from_plan, to_plan = row.plan, row.target_plan or ""
            to_cloud, to_region = row.target_cloud or row.cloud, row.target_region or row.region
            source_role = row.role
        described_target = f"{to_plan} ({to_cloud.value}/{to_region})"
        rt.journal.phase(operation_id, "provision", source_stack=source_stack, target_stack=target_stack)
        phase = "provision"
        try:
            target_of = rt.target(to_cloud)
            if self.rec.needs_platform(target_of, to_region, row.target_isolation or row.isolation):
                self.rec.ensure_platform(target_of, to_region, operation_id)
            self.rec.sync(target_stack, operation_id)
            with rt.registry.transaction() as session:
                target = self.rec.placement(session, rt.tenant(session, slug), target=True)
            described_target = str(target)
            phase = "move"
            rt.journal.phase(operation_id, phase)
            if source_role:
                rt.mover.freeze(source_role, source)
            copied = rt.mover.copy(slug, source, target)
            phase = "verify"
            rt.journal.phase(operation_id, phase, copied=copied)
            check = rt.mover.verify(slug, source, target)
            if not check.ok:
                raise MigrationError(
                    slug, str(source), str(target), phase, f"mismatch in {', '.join(check.mismatches())}", False
                )
        except (PaybillError, OSError, ValueError) as err:
            rolled_back = self.rollback_migration(operation_id, slug, source_role, source)
            reason = err.reason if isinstance(err, MigrationError) else str(err)
            raise MigrationError(slug, str(source), described_target, phase, reason[:1000], rolled_back) from err
        except Exception as err:  # psycopg errors and the like: the source is intact, undo the target
            rolled_back = self.rollback_migration(operation_id, slug, source_role, source)
            raise MigrationError(slug, str(source), described_target, phase, str(err)[:1000], rolled_back) from err
        with rt.registry.transaction() as session:
            row = rt.tenant(session, slug)
            row.plan, row.isolation, row.role = to_plan, row.target_isolation or row.isolation, row.target_role
            row.cloud, row.region = to_cloud, to_region
            row.stack, row.pool_id, row.generation = row.target_stack, row.target_pool_id, row.generation + 1
            row.target_plan = row.target_isolation = row.target_stack = row.target_role = None
            row.target_pool_id, row.target_cloud, row.target_region = None, None, None
        rt.journal.phase(operation_id, "switched", rows=check.target_counts)
        summary = self.finish_migration(operation_id, slug, source_stack)
        return {
            "migration": True,
            "from": f"{from_plan} ({source})",
            "to": f"{to_plan} ({target})",
            "rows": check.target_counts,
            **summary,
        }

    def finish_migration(self, operation_id: str, slug: str, source_stack: str) -> dict[str, Any]:
        """After the switch: tear the source down. Its failure leaves the tenant on the target (data is
        safe) and is recorded; the next ``converge`` removes the leftover."""
        summary: dict[str, Any] = {}
        self.rt.journal.phase(operation_id, "teardown")
        if source_stack:
            try:
                summary["teardown"] = self.rec.sync(source_stack, operation_id).changes
            except PaybillError as err:
                summary["teardown_error"] = str(err)[:500]
        self.rt.mark(slug, S.ACTIVE)
        return summary

    def rollback_migration(self, operation_id: str, slug: str, source_role: str | None, source: Any) -> bool:
        """Lift the source's write freeze, forget the target placement and converge the target stack
        without the tenant. The source was never written to. Returns whether the target is gone."""
        if source_role:
            self.rt.mover.thaw(source_role, source)
        with self.rt.registry.transaction() as session:
            row = self.rt.tenant(session, slug)
            target_stack = row.target_stack
            row.target_plan = row.target_isolation = row.target_stack = row.target_role = None
            row.target_pool_id, row.target_cloud, row.target_region = None, None, None
            row.state = S.ACTIVE
            sub = session.get(SubscriptionRow, slug)
            if sub is not None:
                sub.plan = row.plan
        self.rt.journal.phase(operation_id, "rollback")
        if not target_stack:
            return True
        try:
            self.rec.sync(target_stack, operation_id)
        except PaybillError as err:
            self.rt.journal.phase(operation_id, "rollback-incomplete", rollback_error=str(err)[:500])
            return False
        return True

    def offboard_body(self, operation_id: str, retention: RetentionPolicy) -> dict[str, Any]:
        rt = self.rt
        slug = self._op_tenant(operation_id)
        summary: dict[str, Any] = {"retention": retention.value}
        done = (rt.journal.get(operation_id) or OperationRow()).summary or {}
        with rt.registry.transaction() as session:
            row = rt.tenant(session, slug)
            stack = row.stack
            export = retention is RetentionPolicy.EXPORT and stack is not None and "export" not in done
            placement = self.rec.placement(session, row) if export else None
        if placement is not None:
            manifest = rt.mover.export(slug, placement, rt.export_dir)
            summary["export"] = {"path": str(manifest.path), "sha256": manifest.sha256, "rows": manifest.counts}
            rt.journal.phase(operation_id, "exported", **summary)
        with rt.registry.transaction() as session:
            row = rt.tenant(session, slug)
            row.stack, row.pool_id = None, None
        if stack:
            summary["changes"] = self.rec.sync(stack, operation_id).changes
        with rt.registry.transaction() as session:
            row = rt.tenant(session, slug)
            row.state, row.suspended = S.OFFBOARDED, False
            sub = session.get(SubscriptionRow, slug)
            if sub is not None and sub.status is not SubscriptionStatus.CANCELED:
                sub.status, sub.canceled_at = SubscriptionStatus.CANCELED, utcnow()
        return summary

    # --- recovery --------------------------------------------------------------------------------------------

    def _resume_migration(self, row: OperationRow) -> tuple[OperationStatus, str | None]:
        with self.rt.registry.transaction() as session:
            tenant = self.rt.tenant(session, row.tenant)
            switched, source_role = tenant.target_stack is None, tenant.role
            source = None if switched else self.rec.placement(session, tenant)
        if not switched:  # the crash may have come after the write freeze: rollback lifts it
            self.rollback_migration(row.id, row.tenant, source_role, source)
            return OperationStatus.ROLLED_BACK, "interrupted before the switch; rolled back to the source"
        self.finish_migration(row.id, row.tenant, str((row.summary or {}).get("source_stack", "")))
        return OperationStatus.SUCCEEDED, None

    @staticmethod
    def _done(_summary: dict[str, Any]) -> tuple[OperationStatus, str | None]:
        return OperationStatus.SUCCEEDED, None

    # --- small helpers -----------------------------------------------------------------------------------------

    def _stack_of(self, slug: str) -> str:
        with self.rt.registry.transaction() as session:
            stack = self.rt.tenant(session, slug).stack
        if stack is None:
            raise ControlPlaneError(f"tenant '{slug}' has no stack")
        return stack

    def _op_tenant(self, operation_id: str) -> str:
        row = self.rt.journal.get(operation_id)
        if row is None:
            raise ControlPlaneError(f"operation {operation_id} is not journaled")
        return row.tenant
