"""``ControlPlane``: tenant lifecycle on the Automation API, on every target, with a durable journal.

Contract of every mutating call (``onboard``, ``change_plan``, ``move``, ``suspend``, ``resume``,
``offboard``):

1. the request is validated at the edge and checked against the catalog, the target (cloud, region,
   isolation), the billing gate, the plan limits and the tenant's lifecycle state
   (:mod:`~paybill_infra.controlplane.transitions`) **before** any operation is recorded or stack touched;
   a refusal raises a typed error and is written to the audit log;
2. the tenant's lock is taken (one operation per tenant, across processes), the operation is journaled,
   the registry's intent is updated (:mod:`~paybill_infra.controlplane.operation_runner`), and the affected
   stacks are converged to it (:mod:`~paybill_infra.controlplane.reconcile`): the target's infrastructure,
   then the one database layer on the server it exposes;
3. the call returns the journaled :class:`OperationResult`, or raises a typed error after the operation
   was recorded as failed or rolled back. An idempotency key replays the first result. ``operation_id``
   names the operation (a UUID the caller chose, e.g. the product backend's queued operation): the journal
   row and every event carry it, and calling again with it replays the first result.

Stacks are converged *from the registry*, never edited piecemeal, so a retry, a concurrent caller or a
recovery after ``kill -9`` (:mod:`~paybill_infra.controlplane.recovery`) all end in the same state.
Synchronous methods block the calling thread; the ``a*`` counterparts run them in a worker thread and never
block the event loop. Engine runs are bounded by ``workers`` whatever the number of callers.

This class is a facade: the rules, placement, reconciliation, operation bodies, recovery, reviews and
reads live in the modules named above.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from paybill_infra.controlplane.billing import BillingAdapter, BillingEvent, InDatabaseBilling
from paybill_infra.controlplane.billing_flow import BillingFlow
from paybill_infra.controlplane.events import Sink
from paybill_infra.controlplane.inputs import valid_actor, valid_key, valid_plan, valid_slug
from paybill_infra.controlplane.jobs import Gathering, result_of
from paybill_infra.controlplane.migration import DataMover
from paybill_infra.controlplane.models import (
    AuditEntry,
    DriftReport,
    FleetStatus,
    OnboardRequest,
    OperationKind,
    OperationResult,
    PreviewResult,
    RetentionPolicy,
    StackChange,
    SubscriptionView,
    TenantCredentials,
    TenantPage,
    TenantState,
    TenantView,
    UsageReport,
    validate,
)
from paybill_infra.controlplane.operation_runner import OperationRunner
from paybill_infra.controlplane.operations import Operations
from paybill_infra.controlplane.reads import Reads
from paybill_infra.controlplane.reconcile import Reconciler
from paybill_infra.controlplane.recovery import Recovery
from paybill_infra.controlplane.review import Review
from paybill_infra.controlplane.runtime import build_runtime
from paybill_infra.controlplane.settings import ControlPlaneSettings
from paybill_infra.datamodel.apply import UnitResult
from paybill_infra.datamodel.fleet import SchemaFleet, SchemaPlan, SchemaStatus
from paybill_infra.errors import FieldProblem, InvalidInputError, PaybillError, UnknownRolloutError
from paybill_infra.local.server import AdminConnection, ServerSpec, admin_connection
from paybill_infra.rollouts.journal import RolloutJournal
from paybill_infra.rollouts.models import RolloutEvent, RolloutKind, RolloutRequest, RolloutView
from paybill_infra.rollouts.runner import RolloutRunner
from paybill_infra.rollouts.schema import SchemaSource
from paybill_infra.rollouts.stacks import StackSource
from paybill_infra.schema.enums import Cloud
from paybill_infra.targets import InfraRunner

__all__ = ["ControlPlane", "ControlPlaneSettings"]

K = OperationKind
S = TenantState
P = ParamSpec("P")
R = TypeVar("R")


def _threaded(method: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """The ``a*`` counterpart of a blocking method: it runs in a worker thread (``asyncio.to_thread``)."""

    @functools.wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(method, *args, **kwargs)

    return run


class ControlPlane:
    """The tenant control plane (see the module docstring for the contract).

    ``infra`` runs the cloud targets' infrastructure stacks: the real engine by default; a
    :class:`~paybill_infra.targets.MockInfraRunner` for tests and offline reviews. ``locate_engine=False``
    defers looking for the Pulumi CLI to the first engine run, for a process that only plans and reads (the
    product backend's API); by default a missing CLI fails here.
    """

    def __init__(
        self,
        settings: ControlPlaneSettings,
        *,
        on_event: Sink | None = None,
        billing: BillingAdapter | None = None,
        data_mover: DataMover | None = None,
        infra: InfraRunner | None = None,
        recover: bool = True,
        locate_engine: bool = True,
    ) -> None:
        self.settings = settings
        self.runtime = build_runtime(settings, infra=infra, data_mover=data_mover, locate_engine=locate_engine)
        self.registry, self.catalog, self.stacks = self.runtime.registry, self.runtime.catalog, self.runtime.stacks
        self.journal, self.events = self.runtime.journal, self.runtime.events
        if on_event is not None:
            self.events.add_sink(on_event)
        self.billing_store = InDatabaseBilling(self.registry)
        self.billing: BillingAdapter = billing or self.billing_store
        self.reconciler = Reconciler(self.runtime)
        runner = OperationRunner(self.runtime)
        self._operations = Operations(self.runtime, self.reconciler, runner)
        self._recovery = Recovery(self.runtime, self.reconciler, self._operations, runner)
        self._review = Review(self.runtime, self.reconciler)
        self._rollouts = RolloutRunner(
            self.runtime,
            RolloutJournal(self.registry),
            {
                RolloutKind.INFRA: lambda _request, rollout_id: StackSource(
                    self._review, self.reconciler, rollout_id or "rollout"
                ),
                RolloutKind.SCHEMA: self._schema_source,
            },
            runner.audit,
        )
        self._reads = Reads(self.registry, self.stacks)
        self._billing = BillingFlow(self.runtime, self._operations, self._reads, self.billing, self.billing_store)
        self._audit = runner.audit
        schema = settings.schema_file()
        self.schema = SchemaFleet(
            self.runtime, self.reconciler, schema, acl=settings.acl(schema), backup_retention=settings.backup_retention
        )
        """The fleet's data schema versions: the per-unit API a wave-based rollout builds on."""
        self.schema.newest()  # a fresh registry records the configured file as version 1: new stacks use it
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="paybill-heartbeat", daemon=True)
        self._heartbeat.start()
        if recover:
            self.recover()

    # --- lifecycle ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop heartbeating, release the registry connections and stop the shared provider host (running
        operations are not stopped: one still running fails once the host is gone)."""
        self._stop.set()
        self._heartbeat.join(timeout=5)
        self.registry.engine.dispose()
        self.stacks.close()

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _beat(self) -> None:
        interval = max(1.0, self.settings.lease_ttl_s / 4)
        while not self._stop.wait(interval):
            try:
                self.runtime.locks.heartbeat()
            except Exception:  # noqa: S112 - a missed beat is retried; the lease TTL absorbs it
                continue

    def admin(self) -> AdminConnection:
        """Superuser connection to the local target's server (started on demand)."""
        server = self.runtime.server
        return admin_connection(ServerSpec(url=server.url, embedded_dir=server.embedded_dir))

    # --- tenant operations -------------------------------------------------------------------------------

    def onboard(
        self,
        request: OnboardRequest | dict[str, Any],
        *,
        actor: str = "system",
        idempotency_key: str | None = None,
        on_event: Sink | None = None,
        operation_id: str | None = None,
    ) -> OperationResult:
        """Create the tenant, its subscription and its infrastructure on its target (the request's cloud and
        region, or the defaults). Pooled tenants join the first pool of their (plan, cloud, region) with room.
        Onboarding a tenant that exists with the same plan returns its onboarding result (``deduplicated``)."""
        req = _request(request)
        with self.events.watching(on_event, req.slug):
            return self._operations.onboard(req, valid_actor(actor), idempotency_key, operation_id)

    def change_plan(
        self,
        slug: str,
        plan: str,
        *,
        actor: str = "system",
        idempotency_key: str | None = None,
        on_event: Sink | None = None,
        operation_id: str | None = None,
    ) -> OperationResult:
        """Move the tenant to ``plan``: in place within one isolation (and pool), else a migration (provision
        the target, move the data, verify, switch, tear down the source; rolled back on failure)."""
        slug = valid_slug(slug)
        with self.events.watching(on_event, slug):
            return self._operations.change_plan(
                slug, valid_plan(plan), valid_actor(actor), idempotency_key, operation_id
            )

    def move(
        self,
        slug: str,
        *,
        cloud: Cloud | str,
        region: str | None = None,
        actor: str = "system",
        idempotency_key: str | None = None,
        on_event: Sink | None = None,
        operation_id: str | None = None,
    ) -> OperationResult:
        """Move the tenant, on its plan, to another region or cloud (data residency): the same migration as a
        topology change, with the same verification and rollback."""
        where, slug = _cloud(cloud), valid_slug(slug)
        with self.events.watching(on_event, slug):
            return self._operations.move(slug, where, region, valid_actor(actor), idempotency_key, operation_id)

    def suspend(
        self,
        slug: str,
        *,
        actor: str = "system",
        reason: str = "",
        idempotency_key: str | None = None,
        on_event: Sink | None = None,
        operation_id: str | None = None,
    ) -> OperationResult:
        """Keep the tenant's data, but its role can no longer log in."""
        return self._toggle(K.SUSPEND, slug, actor, reason, idempotency_key, on_event, operation_id)

    def resume(
        self,
        slug: str,
        *,
        actor: str = "system",
        reason: str = "",
        idempotency_key: str | None = None,
        on_event: Sink | None = None,
        operation_id: str | None = None,
    ) -> OperationResult:
        """Let a suspended tenant log in again (its subscription must be trialing or active)."""
        return self._toggle(K.RESUME, slug, actor, reason, idempotency_key, on_event, operation_id)

    def _toggle(
        self,
        kind: OperationKind,
        slug: str,
        actor: str,
        reason: str,
        key: str | None,
        on_event: Sink | None,
        operation_id: str | None,
    ) -> OperationResult:
        slug = valid_slug(slug)
        with self.events.watching(on_event, slug):
            return self._operations.toggle(kind, slug, valid_actor(actor), reason, key, operation_id)

    def offboard(
        self,
        slug: str,
        *,
        retention: RetentionPolicy = RetentionPolicy.EXPORT,
        actor: str = "system",
        idempotency_key: str | None = None,
        on_event: Sink | None = None,
        operation_id: str | None = None,
    ) -> OperationResult:
        """Export the tenant's rows (unless ``retention`` is ``none``), then remove every resource of it.
        The registry keeps the tenant as ``offboarded`` (and the audit trail) forever."""
        slug = valid_slug(slug)
        with self.events.watching(on_event, slug):
            return self._operations.offboard(slug, retention, valid_actor(actor), idempotency_key, operation_id)

    def onboard_many(
        self, requests: Sequence[OnboardRequest | dict[str, Any]], *, actor: str = "system"
    ) -> list[OperationResult | PaybillError]:
        """Onboard many tenants; one outcome per request, in order.

        Batched by construction: every request records its intent (validation, placement, journal) first,
        while stack runs are held at the reconciler's gate; then each affected stack runs once for all of
        its new members (k pooled tenants placed in one pool: one ``up`` of that pool). Engine runs stay
        bounded by ``workers``; a request waiting at the gate costs an idle thread, not an engine run.
        """
        gate = self.reconciler.gate
        first: dict[str, int] = {}
        for i, request in enumerate(requests):
            first.setdefault(_slug_of(request), i)

        def one(gathering: Gathering, i: int, request: OnboardRequest | dict[str, Any]) -> OperationResult:
            with gate.enlist(gathering):
                slug = _slug_of(request)
                if slug and first[slug] != i:  # it would wait for the first one's tenant lock while that waits here
                    problem = FieldProblem(
                        f"requests[{i}].slug", f"{slug!r} is requested earlier, by requests[{first[slug]}]"
                    )
                    raise InvalidInputError("onboard_many", [problem])
                return self.onboard(request, actor=actor)

        with (
            ThreadPoolExecutor(max(1, len(requests)), thread_name_prefix="paybill-onboard") as pool,
            gate.gather(len(requests)) as gathering,
        ):
            futures = [pool.submit(one, gathering, i, request) for i, request in enumerate(requests)]
        outcomes: list[OperationResult | PaybillError] = []
        for future in futures:
            error = future.exception()
            if error is None:
                outcomes.append(future.result())
            elif isinstance(error, PaybillError):
                outcomes.append(error)
            else:
                raise error
        return outcomes

    def report_usage(self, slug: str, usage: UsageReport | dict[str, Any], *, actor: str = "system") -> TenantView:
        """Record the tenant's usage; plan downgrades are checked against it."""
        slug, actor = valid_slug(slug), valid_actor(actor)
        report = usage if isinstance(usage, UsageReport) else validate(UsageReport, usage, "usage report")
        with self.registry.transaction() as session:
            row = self.runtime.tenant(session, slug)
            row.seats_used, row.storage_gb_used = report.seats, report.storage_gb
            self.registry.audit(session, actor=actor, action="usage.reported", tenant=slug, detail=report.model_dump())
        return self.show(slug)

    # --- reads ---------------------------------------------------------------------------------------------

    def show(self, slug: str) -> TenantView:
        return self._reads.show(slug)

    def tenants(
        self, state: TenantState | None = None, *, plan: str | None = None, cloud: Cloud | str | None = None
    ) -> list[TenantView]:
        """Every tenant matching the filters, in slug order (one statement)."""
        return self._reads.tenants(state, plan=plan, cloud=cloud)

    def tenant_page(
        self,
        *,
        state: TenantState | str | None = None,
        plan: str | None = None,
        cloud: Cloud | str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> TenantPage:
        """A page of at most ``limit`` tenants after ``cursor`` (the previous page's ``next_cursor``)."""
        return self._reads.tenant_page(state=state, plan=plan, cloud=cloud, cursor=cursor, limit=limit)

    def operations(self, slug: str | None = None, *, limit: int = 100) -> list[OperationResult]:
        return self._reads.operations(slug, limit=limit)

    def operation(self, operation_id: str) -> OperationResult:
        row = self.journal.get(operation_id)
        if row is None:
            raise InvalidInputError("operation", [FieldProblem("id", f"no operation {operation_id!r}")])
        return result_of(row)

    def audit_log(self, slug: str | None = None) -> list[AuditEntry]:
        return self._reads.audit_log(slug)

    def status(self) -> FleetStatus:
        return self._reads.status()

    def credentials(self, slug: str) -> TenantCredentials:
        """The tenant's connection details from its stack's outputs (the password stays a ``SecretStr``)."""
        return self._reads.credentials(slug)

    # --- reviews, drift and convergence --------------------------------------------------------------------

    def preview(self, slug: str, plan: str, *, offline: bool = False) -> PreviewResult:
        """A dry run of moving ``slug`` to ``plan`` (``offline``: cloud infrastructure under mocks, no
        credentials). Nothing is recorded."""
        return self._review.preview(valid_slug(slug), valid_plan(plan), offline=offline)

    def preview_onboard(self, request: OnboardRequest | dict[str, Any], *, offline: bool = False) -> PreviewResult:
        """What onboarding ``request`` would create, and its monthly price. Nothing is recorded."""
        return self._review.preview_onboard(_request(request), offline=offline)

    def drift(self, slug: str | None = None) -> DriftReport:
        return self._review.drift(valid_slug(slug) if slug is not None else None)

    def preview_fleet(self) -> list[StackChange]:
        return self._review.preview_fleet()

    def converge(self, slug: str | None = None) -> list[StackChange]:
        return self._review.converge(valid_slug(slug) if slug is not None else None)

    # --- the tenant data schema ----------------------------------------------------------------------------

    def plan_schema(self, path: str | Path | None = None, *, allow_destructive: bool = False) -> SchemaPlan:
        """Dry run of moving the fleet to the schema file at ``path`` (default: the configured one): its changes
        and, per unit grouped by topology, the SQL. A refused change raises a typed error; nothing is recorded."""
        return self.schema.plan(path, allow_destructive=allow_destructive)

    def migrate_schema(
        self, path: str | Path | None = None, *, allow_destructive: bool = False, actor: str = "system"
    ) -> list[UnitResult]:
        """Record the schema file at ``path`` as the next version and migrate every unit to it, one unit after
        another; each unit exactly once (:func:`~paybill_infra.datamodel.apply.migrate_unit`). Tenants
        onboarded afterwards get the new version."""
        return self.schema.migrate_all(path, allow_destructive=allow_destructive, actor=valid_actor(actor))

    def schema_status(self) -> SchemaStatus:
        """The fleet grouped by the schema version its units' markers record."""
        return self.schema.status()

    # --- billing -------------------------------------------------------------------------------------------

    def subscription(self, slug: str) -> SubscriptionView | None:
        return self.billing.subscription(valid_slug(slug))

    def record_billing_event(self, event: BillingEvent | dict[str, Any]) -> SubscriptionView:
        """Apply a billing event (see :mod:`~paybill_infra.controlplane.billing_flow`)."""
        return self._billing.record(
            event if isinstance(event, BillingEvent) else validate(BillingEvent, event, "billing event")
        )

    def handle_billing_webhook(self, body: bytes, signature: str) -> SubscriptionView:
        return self._billing.webhook(body, signature)

    def enforce_billing(self, now: datetime | None = None) -> list[OperationResult]:
        """Billing's grace and retention periods, enforced (a periodic job; idempotent)."""
        return self._billing.enforce(now)

    # --- recovery ------------------------------------------------------------------------------------------

    def recover(self) -> list[OperationResult]:
        """Finish or roll back every operation whose owner died (see :mod:`~paybill_infra.controlplane.recovery`),
        then run on every rollout whose owner died (see :mod:`~paybill_infra.rollouts.runner`)."""
        results = self._recovery.recover()
        self._rollouts.recover()
        return results

    # --- rollouts in waves ---------------------------------------------------------------------------------

    def plan_rollout(
        self, request: RolloutRequest | dict[str, Any], *, actor: str = "system", idempotency_key: str | None = None
    ) -> RolloutView:
        """Record a rollout, queued: the fleet's units assigned to its waves (nothing is applied yet). The
        same idempotency key replays the first rollout."""
        req = request if isinstance(request, RolloutRequest) else validate(RolloutRequest, request, "rollout request")
        key = valid_key(idempotency_key) if idempotency_key is not None else None
        if req.kind is RolloutKind.SCHEMA and req.to_version is None:
            target = self.schema.prepare(req.schema_file, allow_destructive=req.allow_destructive)
            req = req.model_copy(update={"to_version": target})
        return self._rollouts.plan(req, valid_actor(actor), key)

    def _schema_source(self, request: RolloutRequest, rollout_id: str) -> SchemaSource:
        target = request.to_version or self.schema.newest()
        actor = f"rollout:{rollout_id}" if rollout_id else "rollout"
        return SchemaSource(self.schema, target, allow_destructive=request.allow_destructive, actor=actor)

    def run_rollout(self, rollout_id: str) -> RolloutView:
        """Run the rollout's waves (or run on, after a halt or a crash) until it ends."""
        return self._rollouts.run(rollout_id)

    def rollout(
        self, request: RolloutRequest | dict[str, Any], *, actor: str = "system", idempotency_key: str | None = None
    ) -> RolloutView:
        """Plan and run a rollout: its waves in order, stopping beyond the error budget."""
        planned = self.plan_rollout(request, actor=actor, idempotency_key=idempotency_key)
        return self.run_rollout(planned.id)

    def resume_rollout(self, rollout_id: str | None = None, *, kind: RolloutKind | None = None) -> RolloutView:
        """Run on ``rollout_id``, or on the newest rollout (of ``kind``); a no-op on one that succeeded."""
        if rollout_id is None:
            rollout_id = self._rollouts.journal.latest(kind)
            if rollout_id is None:
                raise UnknownRolloutError(f"(no {kind.value + ' ' if kind else ''}rollout yet)")
        return self._rollouts.run(rollout_id)

    def rollout_view(self, rollout_id: str) -> RolloutView:
        return self._rollouts.journal.view(rollout_id)

    def rollouts(self, limit: int = 50) -> list[RolloutView]:
        return self._rollouts.journal.recent(limit)

    def rollout_events(self, rollout_id: str, after: int = 0) -> list[RolloutEvent]:
        return self._rollouts.journal.events(rollout_id, after)

    # --- async counterparts: the same calls in a worker thread, never blocking the event loop ----------------

    aonboard = _threaded(onboard)
    achange_plan = _threaded(change_plan)
    amove = _threaded(move)
    asuspend = _threaded(suspend)
    aresume = _threaded(resume)
    aoffboard = _threaded(offboard)
    apreview = _threaded(preview)
    adrift = _threaded(drift)
    astatus = _threaded(status)
    atenants = _threaded(tenants)
    ashow = _threaded(show)


def _request(request: OnboardRequest | dict[str, Any]) -> OnboardRequest:
    return request if isinstance(request, OnboardRequest) else validate(OnboardRequest, request, "onboard request")


def _cloud(value: Cloud | str) -> Cloud:
    try:
        return Cloud(value)
    except ValueError:
        expected = ", ".join(c.value for c in Cloud)
        raise InvalidInputError("move", [FieldProblem("cloud", f"expected one of {expected}")]) from None


def _slug_of(request: OnboardRequest | dict[str, Any]) -> str:
    """The request's slug, or ``""`` when it has none yet (validation names that problem)."""
    slug = request.slug if isinstance(request, OnboardRequest) else request.get("slug")
    return slug if isinstance(slug, str) else ""
