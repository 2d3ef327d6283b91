"""``ControlPlane``: tenant lifecycle on the Automation API, with a durable journal and crash recovery.

Contract of every mutating call (``onboard``, ``change_plan``, ``suspend``, ``resume``, ``offboard``):

1. the request is validated at the edge and checked against the catalog, the billing gate, the plan
   limits and the tenant's lifecycle state **before** any operation is recorded or stack touched; a
   refusal raises a typed error and is written to the audit log;
2. the tenant's lock is taken (one operation per tenant, across processes), the operation is journaled,
   the registry's intent is updated, and the affected stacks are converged to it on the real engine;
3. the call returns the journaled :class:`OperationResult`, or raises a typed error after the operation
   was recorded as failed or rolled back. An idempotency key replays the first result.

Stacks are converged *from the registry*, never edited piecemeal, so a retry, a concurrent caller or a
recovery after ``kill -9`` all end in the same state. Synchronous methods block the calling thread; the
``a*`` counterparts run them in a worker thread (``asyncio.to_thread``) and never block the event loop.
Engine runs are bounded by ``workers`` whatever the number of callers.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paybill_infra.catalog import PlanCatalog, load_catalog
from paybill_infra.controlplane import migrations
from paybill_infra.controlplane.billing import (
    BillingAdapter,
    BillingEvent,
    InDatabaseBilling,
    WebhookVerifier,
    allows_provisioning,
    view,
)
from paybill_infra.controlplane.events import EventBus, Sink
from paybill_infra.controlplane.jobs import Batcher, Journal, Locks, new_owner, request_hash, result_of
from paybill_infra.controlplane.migration import DataMover, LocalDataMover, Placement
from paybill_infra.controlplane.models import (
    Actor,
    AuditEntry,
    BillingPolicy,
    DriftedResource,
    DriftReport,
    FleetStatus,
    IdempotencyKey,
    OnboardRequest,
    OperationKind,
    OperationResult,
    OperationStatus,
    PoolView,
    PreviewResult,
    ProgressPhase,
    RetentionPolicy,
    StackChange,
    StackKind,
    SubscriptionView,
    TenantCredentials,
    TenantState,
    TenantView,
    UsageReport,
    validate,
)
from paybill_infra.controlplane.programs import (
    BRIDGE_DATABASE,
    Endpoint,
    MemberSpec,
    ServerConfig,
    platform_program,
    pool_program,
    tenant_program,
)
from paybill_infra.controlplane.registry import (
    AuditRow,
    OperationRow,
    PoolRow,
    Registry,
    StackRow,
    SubscriptionRow,
    TenantRow,
    default_url,
    make_engine,
    utcnow,
)
from paybill_infra.controlplane.stacks import (
    PLATFORM_STACK,
    RetryPolicy,
    SecretsConfig,
    StackManager,
    pool_database,
    pool_owner,
    pool_stack_name,
    tenant_role,
    tenant_stack_name,
)
from paybill_infra.engine.settings import EngineSettings
from paybill_infra.errors import (
    BillingGateError,
    ControlPlaneError,
    FieldProblem,
    IllegalTransitionError,
    InvalidInputError,
    MigrationError,
    OperationFailedError,
    PaybillError,
    PlanLimitError,
    TenantExistsError,
    UnknownPlanError,
    UnknownTenantError,
)
from paybill_infra.local import sql as q
from paybill_infra.local.server import AdminConnection, ServerSpec, admin_connection
from paybill_infra.program import PG_URL_ENV
from paybill_infra.schema.enums import Cloud, Isolation, SubscriptionStatus
from paybill_infra.schema.identifiers import PlanName, Slug
from paybill_infra.schema.plan import Plan
from paybill_infra.schema.tenant import Tenant
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import NameKind, names_for
from paybill_infra.topology.resolve import CloudDefaults, resolve_topology

S = TenantState
PLACED = frozenset({S.PROVISIONING, S.ACTIVE, S.MIGRATING, S.SUSPENDED, S.OFFBOARDING})
_SLUG = TypeAdapter(Slug)
_PLAN = TypeAdapter(PlanName)
_DEFAULTS = CloudDefaults(cloud=Cloud.LOCAL, region="local", allowed_regions=("local",))


def _no_program() -> None:
    """Reading outputs or state never runs a program."""


class ControlPlaneSettings(BaseModel):
    """Where the control plane keeps its registry, state and exports, and how hard it may drive the engine.

    Defaults: registry ``<root>/.paybill/control.db`` (SQLite), state backend ``<root>/.paybill/state``
    (or ``PULUMI_BACKEND_URL``), the embedded PostgreSQL under ``<root>/.paybill/postgres`` (or
    ``PAYBILL_PG_URL``), exports under ``<root>/.paybill/exports``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: Path
    database_url: str | None = None
    catalog: Path | None = None
    backend_url: str | None = None
    postgres_url: SecretStr | None = None
    embedded_dir: Path | None = None
    export_dir: Path | None = None
    project: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")] = "paybill-tenants"
    secrets: SecretsConfig = SecretsConfig()
    workers: Annotated[int, Field(ge=1, le=64)] = 4
    engine_parallel: Annotated[int, Field(ge=1, le=64)] = 8
    retry_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    lock_timeout_s: Annotated[float, Field(gt=0, le=86_400)] = 900
    lease_ttl_s: Annotated[float, Field(ge=5, le=3_600)] = 60
    billing: BillingPolicy = BillingPolicy()
    webhook_secret: SecretStr | None = None

    def server(self) -> ServerConfig:
        url = self.postgres_url.get_secret_value() if self.postgres_url else os.environ.get(PG_URL_ENV)
        embedded = self.embedded_dir or self.root / ".paybill" / "postgres"
        return ServerConfig(embedded_dir=str(embedded.resolve()), url=url or None)


class ControlPlane:
    """The tenant control plane (see the module docstring for the contract)."""

    def __init__(
        self,
        settings: ControlPlaneSettings,
        *,
        on_event: Sink | None = None,
        billing: BillingAdapter | None = None,
        data_mover: DataMover | None = None,
        recover: bool = True,
    ) -> None:
        self.settings = settings
        root = settings.root.resolve()
        self.catalog: PlanCatalog = load_catalog(settings.catalog or root / "plans.yaml")
        self.server = settings.server()
        engine = make_engine(settings.database_url or default_url(root))
        migrations.upgrade(engine)
        self.registry = Registry(engine)
        self.billing_store = InDatabaseBilling(self.registry)
        self.billing: BillingAdapter = billing or self.billing_store
        self.events = EventBus()
        if on_event is not None:
            self.events.add_sink(on_event)
        self.owner = new_owner()
        ttl = timedelta(seconds=settings.lease_ttl_s)
        self.locks = Locks(self.registry, self.owner, ttl)
        self.journal = Journal(self.registry, self.owner, ttl)
        self.stacks = StackManager(
            EngineSettings.for_project(root, backend_url=settings.backend_url),
            state_dir=root / ".paybill",
            project=settings.project,
            secrets=settings.secrets,
            retry=RetryPolicy(attempts=settings.retry_attempts),
            parallel=settings.engine_parallel,
        )
        self.mover: DataMover = data_mover or LocalDataMover(self.admin)
        self.export_dir = (settings.export_dir or root / ".paybill" / "exports").resolve()
        self._slots = threading.BoundedSemaphore(settings.workers)
        self._batchers: dict[str, Batcher[StackChange]] = {}
        self._batchers_guard = threading.Lock()
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="paybill-heartbeat", daemon=True)
        self._heartbeat.start()
        if recover:
            self.recover()

    # --- lifecycle ---------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop heartbeating and release the registry connections (running operations are not stopped)."""
        self._stop.set()
        self._heartbeat.join(timeout=5)
        self.registry.engine.dispose()

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _beat(self) -> None:
        interval = max(1.0, self.settings.lease_ttl_s / 4)
        while not self._stop.wait(interval):
            try:
                self.locks.heartbeat()
            except Exception:  # noqa: S112 - a missed beat is retried; the lease TTL absorbs it
                continue

    def admin(self) -> AdminConnection:
        """Superuser connection to the local target's server (started on demand)."""
        return admin_connection(ServerSpec(url=self.server.url, embedded_dir=self.server.embedded_dir))

    # --- tenant operations -------------------------------------------------------------------------------

    def onboard(
        self,
        request: OnboardRequest | dict[str, Any],
        *,
        actor: str = "system",
        idempotency_key: str | None = None,
    ) -> OperationResult:
        """Create the tenant, its subscription and its infrastructure (pooled tenants join the first pool of
        their plan with room; a full pool opens the next one). Onboarding a tenant that already exists
        with the same plan returns its onboarding result (``deduplicated``)."""
        req = request if isinstance(request, OnboardRequest) else validate(OnboardRequest, request, "onboard request")
        actor = self._actor(actor)
        plan = self._plan(req.plan, req.slug)
        if not allows_provisioning(req.subscription):
            self._refuse(BillingGateError(req.slug, "onboard", req.subscription.value), actor, req.slug, "onboard")

        def check(session: Session) -> OperationResult | None:
            row = session.get(TenantRow, req.slug)
            if row is not None and S(row.state) in PLACED:
                if row.plan == req.plan and row.display_name == req.display_name:
                    first = session.scalars(
                        select(OperationRow)
                        .where(OperationRow.tenant == req.slug, OperationRow.kind == OperationKind.ONBOARD.value)
                        .order_by(OperationRow.created_at.desc())
                    ).first()
                    if first is not None:
                        return result_of(first, deduplicated=True)
                raise TenantExistsError(req.slug, row.state, row.plan)
            return None

        def prepare(session: Session, operation_id: str) -> None:
            row = session.get(TenantRow, req.slug)
            if row is None:
                row = TenantRow(slug=req.slug, generation=0, seats_used=0, storage_gb_used=0)
                session.add(row)
            row.display_name, row.plan, row.isolation = req.display_name, plan.name, plan.isolation.value
            row.tags, row.state, row.suspended = dict(req.tags), S.PROVISIONING.value, False
            row.role = tenant_role(req.slug, row.generation)
            row.target_plan = row.target_isolation = row.target_stack = row.target_role = None
            row.target_pool_id = None
            row.stack, row.pool_id = self._place(session, req.slug, plan)
            sub = session.get(SubscriptionRow, req.slug)
            if sub is None:
                sub = SubscriptionRow(tenant=req.slug)
                session.add(sub)
            sub.plan, sub.status, sub.external_id = plan.name, req.subscription.value, req.external_billing_id
            sub.past_due_since = sub.canceled_at = None

        return self._operate(
            OperationKind.ONBOARD,
            req.slug,
            actor,
            req.model_dump(mode="json"),
            idempotency_key,
            check=check,
            prepare=prepare,
            body=self._provision,
        )

    def change_plan(
        self, slug: str, plan: str, *, actor: str = "system", idempotency_key: str | None = None
    ) -> OperationResult:
        """Move the tenant to ``plan``. Within one isolation (and pool) the stack is updated in place;
        across isolations (or pools) the tenant is migrated: provision the target, move the data, verify,
        switch the record, tear down the source. A failure before the switch rolls back to the source."""
        slug, actor = self._slug(slug), self._actor(actor)
        target = self._plan(validate_plan(plan), slug)

        def check(session: Session) -> OperationResult | None:
            row = self._tenant(session, slug)
            if S(row.state) is not S.ACTIVE:
                raise IllegalTransitionError(slug, "change the plan of", row.state, (S.ACTIVE.value,))
            if row.plan == target.name:
                raise InvalidInputError("change_plan", [FieldProblem("plan", f"tenant is already on '{row.plan}'")])
            current = self.catalog[row.plan]
            sub = session.get(SubscriptionRow, slug)
            status = SubscriptionStatus(sub.status) if sub else SubscriptionStatus.CANCELED
            if target.tier > current.tier and not allows_provisioning(status):
                raise BillingGateError(slug, f"upgrade to '{target.name}'", status.value)
            problems = _limit_problems(row, target)
            if problems:
                raise PlanLimitError(slug, target.name, problems)
            return None

        def prepare(session: Session, operation_id: str) -> None:
            row = self._tenant(session, slug)
            same_place = target.isolation.value == row.isolation and (
                target.isolation is not Isolation.POOLED or row.plan == target.name
            )
            if same_place:
                row.plan = target.name
                return
            row.state = S.MIGRATING.value
            row.target_plan, row.target_isolation = target.name, target.isolation.value
            row.target_role = tenant_role(slug, row.generation + 1)
            row.target_stack, row.target_pool_id = self._place(session, slug, target)
            sub = session.get(SubscriptionRow, slug)
            if sub is not None:
                sub.plan = target.name

        return self._operate(
            OperationKind.CHANGE_PLAN,
            slug,
            actor,
            {"plan": target.name},
            idempotency_key,
            check=check,
            prepare=prepare,
            body=self._change,
        )

    def suspend(
        self, slug: str, *, actor: str = "system", reason: str = "", idempotency_key: str | None = None
    ) -> OperationResult:
        """Keep the tenant's data, but its role can no longer log in."""
        return self._toggle(OperationKind.SUSPEND, slug, actor, reason, idempotency_key)

    def resume(
        self, slug: str, *, actor: str = "system", reason: str = "", idempotency_key: str | None = None
    ) -> OperationResult:
        """Let a suspended tenant log in again (its subscription must be trialing or active)."""
        return self._toggle(OperationKind.RESUME, slug, actor, reason, idempotency_key)

    def offboard(
        self,
        slug: str,
        *,
        retention: RetentionPolicy = RetentionPolicy.EXPORT,
        actor: str = "system",
        idempotency_key: str | None = None,
    ) -> OperationResult:
        """Export the tenant's rows (unless ``retention`` is ``none``), then remove every resource of it.
        The registry keeps the tenant as ``offboarded`` (and the audit trail) forever."""
        slug, actor = self._slug(slug), self._actor(actor)
        allowed = (S.ACTIVE, S.SUSPENDED, S.FAILED)

        def check(session: Session) -> OperationResult | None:
            row = self._tenant(session, slug)
            if S(row.state) not in allowed:
                raise IllegalTransitionError(slug, "offboard", row.state, tuple(s.value for s in allowed))
            return None

        def prepare(session: Session, operation_id: str) -> None:
            self._tenant(session, slug).state = S.OFFBOARDING.value

        return self._operate(
            OperationKind.OFFBOARD,
            slug,
            actor,
            {"retention": retention.value},
            idempotency_key,
            check=check,
            prepare=prepare,
            body=lambda op: self._offboard(op, retention),
        )

    def onboard_many(
        self, requests: Sequence[OnboardRequest | dict[str, Any]], *, actor: str = "system"
    ) -> builtins.list[OperationResult | PaybillError]:
        """Onboard many tenants in parallel on ``workers`` threads; one outcome per request, in order."""
        with ThreadPoolExecutor(self.settings.workers, thread_name_prefix="paybill-onboard") as pool:
            futures = [pool.submit(self.onboard, request, actor=actor) for request in requests]
        outcomes: builtins.list[OperationResult | PaybillError] = []
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
        slug, actor = self._slug(slug), self._actor(actor)
        report = usage if isinstance(usage, UsageReport) else validate(UsageReport, usage, "usage report")
        with self.registry.transaction() as session:
            row = self._tenant(session, slug)
            row.seats_used, row.storage_gb_used = report.seats, report.storage_gb
            self.registry.audit(session, actor=actor, action="usage.reported", tenant=slug, detail=report.model_dump())
        return self.show(slug)

    # --- reads ---------------------------------------------------------------------------------------------

    def show(self, slug: str) -> TenantView:
        slug = self._slug(slug)
        with self.registry.transaction() as session:
            return self._view(session, self._tenant(session, slug, include_offboarded=True))

    def list(self, state: TenantState | None = None) -> builtins.list[TenantView]:
        with self.registry.transaction() as session:
            query = select(TenantRow).order_by(TenantRow.slug)
            if state is not None:
                query = query.where(TenantRow.state == state.value)
            return [self._view(session, row) for row in session.scalars(query)]

    def operations(self, slug: str | None = None, *, limit: int = 100) -> builtins.list[OperationResult]:
        with self.registry.transaction() as session:
            query = select(OperationRow).order_by(OperationRow.created_at.desc()).limit(limit)
            if slug is not None:
                query = query.where(OperationRow.tenant == self._slug(slug))
            return [result_of(row) for row in session.scalars(query)]

    def operation(self, operation_id: str) -> OperationResult:
        row = self.journal.get(operation_id)
        if row is None:
            raise InvalidInputError("operation", [FieldProblem("id", f"no operation {operation_id!r}")])
        return result_of(row)

    def audit_log(self, slug: str | None = None) -> builtins.list[AuditEntry]:
        with self.registry.transaction() as session:
            query = select(AuditRow).order_by(AuditRow.id)
            if slug is not None:
                query = query.where(AuditRow.tenant == self._slug(slug))
            return [
                AuditEntry(
                    id=r.id,
                    at=r.at,
                    actor=r.actor,
                    tenant=r.tenant,
                    operation_id=r.operation_id,
                    action=r.action,
                    detail=dict(r.detail),
                )
                for r in session.scalars(query)
            ]

    def status(self) -> FleetStatus:
        with self.registry.transaction() as session:
            states = Counter(session.scalars(select(TenantRow.state)))
            stacks = tuple(session.scalars(select(StackRow.name).order_by(StackRow.name)))
            counted = session.execute(
                select(TenantRow.pool_id, func.count())
                .where(TenantRow.pool_id.is_not(None))
                .group_by(TenantRow.pool_id)
            )
            members: dict[int, int] = {int(pool): int(n) for pool, n in counted if pool is not None}
            pools = tuple(
                PoolView(
                    stack=p.stack, plan=p.plan, database=p.database, capacity=p.capacity, members=members.get(p.id, 0)
                )
                for p in session.scalars(select(PoolRow).order_by(PoolRow.plan, PoolRow.ordinal))
            )
            running = tuple(
                result_of(r)
                for r in session.scalars(
                    select(OperationRow).where(OperationRow.status == OperationStatus.RUNNING.value)
                )
            )
        return FleetStatus(tenants=dict(sorted(states.items())), stacks=stacks, pools=pools, running=running)

    def credentials(self, slug: str) -> TenantCredentials:
        """The tenant's connection details from its stack's outputs (the password stays a ``SecretStr``)."""
        slug = self._slug(slug)
        with self.registry.transaction() as session:
            row = self._tenant(session, slug)
            stack = row.stack
        if stack is None:
            raise IllegalTransitionError(slug, "read the credentials of", row.state)
        outputs = self.stacks.outputs(stack, _no_program)
        info, platform = outputs["tenants"][slug], outputs["platform"]
        return TenantCredentials(
            tenant=slug,
            host=platform["host"],
            port=int(platform["port"]),
            database=info["database"],
            schema_name=info["schema"],
            user=info["user"],
            password=SecretStr(outputs["credentials"][slug]),
        )

    # --- engine views --------------------------------------------------------------------------------------

    def preview(self, slug: str, plan: str) -> PreviewResult:
        """A dry run of moving ``slug`` to ``plan``: the engine's resource diff on every stack involved
        (the target with the tenant, the source without it) and the monthly price delta. Nothing is
        recorded; a stack the preview had to create is removed again."""
        slug = self._slug(slug)
        target = self._plan(validate_plan(plan), slug)
        with self.registry.transaction() as session:
            row = self._tenant(session, slug)
            current = self.catalog[row.plan]
            same_place = target.isolation.value == row.isolation and (
                target.isolation is not Isolation.POOLED or row.plan == target.name
            )
            if same_place:
                stack = row.stack or ""
                members = self._members(session, stack, override={slug: (target.name, row.role or "", row.suspended)})
                plans = [(stack, members)]
            else:
                target_stack = self._peek_place(session, slug, target)
                added = self._members(session, target_stack)
                added += [self._member(row, target.name, tenant_role(slug, row.generation + 1), False)]
                source = self._members(session, row.stack or "", exclude=slug)
                plans = [(target_stack, added), (row.stack or "", source)]
        changes = tuple(
            self._preview_stack(stack, members, target if index == 0 else current)
            for index, (stack, members) in enumerate(plans)
            if stack
        )
        return PreviewResult(
            tenant=slug,
            from_plan=current.name,
            to_plan=target.name,
            migration=not same_place,
            stacks=changes,
            monthly_price_from=current.price.monthly(),
            monthly_price_to=target.price.monthly(),
            currency=target.price.currency,
        )

    def preview_onboard(self, request: OnboardRequest | dict[str, Any]) -> PreviewResult:
        """What onboarding ``request`` would create, and its monthly price."""
        req = request if isinstance(request, OnboardRequest) else validate(OnboardRequest, request, "onboard request")
        plan = self._plan(req.plan, req.slug)
        with self.registry.transaction() as session:
            stack = self._peek_place(session, req.slug, plan)
            members = self._members(session, stack, exclude=req.slug)
            topology = self._topology(req.slug, req.display_name, plan.name, dict(req.tags))
            members.append(MemberSpec(topology=topology, role=tenant_role(req.slug, 0), suspended=False))
        return PreviewResult(
            tenant=req.slug,
            from_plan=None,
            to_plan=plan.name,
            migration=False,
            stacks=(self._preview_stack(stack, members, plan),),
            monthly_price_from=Decimal(0),
            monthly_price_to=plan.price.monthly(),
            currency=plan.price.currency,
        )

    def drift(self, slug: str | None = None) -> DriftReport:
        """Refresh the tenant's stack (or every stack) from the real databases and report what drifted:
        the provider's deviation list per resource, or ``deleted`` for resources gone by hand. A later
        ``converge`` repairs it."""
        with self.registry.transaction() as session:
            if slug is None:
                stacks = list(session.scalars(select(StackRow.name).order_by(StackRow.name)))
            else:
                row = self._tenant(session, self._slug(slug))
                stacks = [row.stack] if row.stack else []
        changes: builtins.list[StackChange] = []
        drifted: builtins.list[DriftedResource] = []
        for stack in stacks:
            holder = f"drift-{uuid.uuid4().hex[:8]}"
            with self.locks.hold(f"stack:{stack}", holder, self.settings.lock_timeout_s), self._slots:
                before = {r["urn"]: r for r in self.stacks.resources(stack, _no_program)}
                outcome = self.stacks.run(stack, "refresh", _no_program)
                after = {r["urn"]: r for r in self.stacks.resources(stack, _no_program)}
            changes.append(outcome.change)
            for urn, resource in before.items():
                name = urn.rsplit("::", 1)[-1]
                if slug is not None and not (name == slug or name.startswith(f"{slug}-")):
                    continue
                if urn not in after and resource.get("custom"):
                    drifted.append(DriftedResource(stack=stack, urn=urn, type=resource["type"], fields=("deleted",)))
                    continue
                fields = (after.get(urn, {}).get("outputs") or {}).get("drift") or []
                if isinstance(fields, list) and fields:
                    drifted.append(
                        DriftedResource(stack=stack, urn=urn, type=resource["type"], fields=tuple(map(str, fields)))
                    )
        return DriftReport(stacks=tuple(changes), drifted=tuple(drifted))

    def preview_fleet(self) -> builtins.list[StackChange]:
        """What ``converge`` would change on every stack the registry knows (nothing is applied)."""
        with self.registry.transaction() as session:
            names = set(session.scalars(select(StackRow.name))) | {
                s for s in session.scalars(select(TenantRow.stack)) if s
            }
        changes: builtins.list[StackChange] = []
        for stack in sorted(names, key=lambda s: (s != PLATFORM_STACK, s)):
            with self.registry.transaction() as session:
                _kind, program, _members = self._spec(session, stack)
            if program is None:
                count = len(self.stacks.resources(stack, _no_program)) if self.stacks.exists(stack) else 0
                changes.append(StackChange(stack=stack, operation="preview", changes={"delete": count}))
                continue
            with self._slots:
                changes.append(self.stacks.run(stack, "preview", program).change)
        return changes

    def converge(self, slug: str | None = None) -> builtins.list[StackChange]:
        """``up`` the tenant's stacks (or every stack) from the registry: repairs drift and finishes
        anything an interrupted run left behind."""
        with self.registry.transaction() as session:
            if slug is None:
                stacks = set(session.scalars(select(StackRow.name)))
                stacks |= {s for s in session.scalars(select(TenantRow.stack)) if s}
                stacks |= {s for s in session.scalars(select(TenantRow.target_stack)) if s}
            else:
                row = self._tenant(session, self._slug(slug))
                stacks = {s for s in (row.stack, row.target_stack) if s}
        holder = f"converge-{uuid.uuid4().hex[:8]}"
        ordered = sorted(stacks, key=lambda s: (s != PLATFORM_STACK, s))
        return [self._sync(stack, holder) for stack in ordered]

    # --- billing -------------------------------------------------------------------------------------------

    def subscription(self, slug: str) -> SubscriptionView | None:
        return self.billing.subscription(self._slug(slug))

    def record_billing_event(self, event: BillingEvent | dict[str, Any]) -> SubscriptionView:
        """Apply a billing event (state machine enforced); a subscription suspended by billing suspends the
        tenant, and a recovered one resumes it."""
        parsed = event if isinstance(event, BillingEvent) else validate(BillingEvent, event, "billing event")
        before = self.billing.subscription(parsed.tenant)
        after = self.billing.record(parsed)
        tenant = self.show(parsed.tenant)
        if after.status is SubscriptionStatus.SUSPENDED and tenant.state is S.ACTIVE:
            self.suspend(parsed.tenant, actor="billing", reason=f"billing event {parsed.event_id}")
        elif (
            before is not None
            and before.status is SubscriptionStatus.SUSPENDED
            and after.status is SubscriptionStatus.ACTIVE
            and tenant.state is S.SUSPENDED
        ):
            self.resume(parsed.tenant, actor="billing", reason=f"billing event {parsed.event_id}")
        return after

    def handle_billing_webhook(self, body: bytes, signature: str) -> SubscriptionView:
        """Verify a signed webhook (``settings.webhook_secret``) and apply its event."""
        if self.settings.webhook_secret is None:
            raise ControlPlaneError("no webhook secret configured (ControlPlaneSettings.webhook_secret)")
        event = WebhookVerifier(self.settings.webhook_secret).parse(body, signature)
        return self.record_billing_event(event)

    def enforce_billing(self, now: datetime | None = None) -> builtins.list[OperationResult]:
        """Suspend tenants past due beyond the grace period; offboard (with export) tenants canceled
        beyond the retention period. Meant for a periodic job; idempotent."""
        now = now or utcnow()
        results: builtins.list[OperationResult] = []
        for slug in self.billing_store.overdue(now, self.settings.billing.grace_period):
            self.record_billing_event(
                BillingEvent(
                    event_id=f"grace-{slug}-{int(now.timestamp())}",
                    tenant=slug,
                    status=SubscriptionStatus.SUSPENDED,
                    occurred_at=now,
                )
            )
            results.extend(self.operations(slug, limit=1))
        for slug in self.billing_store.expired(now, self.settings.billing.retention):
            if self.show(slug).state in (S.ACTIVE, S.SUSPENDED, S.FAILED):
                results.append(self.offboard(slug, actor="billing"))
        return results

    # --- recovery ------------------------------------------------------------------------------------------

    def recover(self) -> builtins.list[OperationResult]:
        """Finish or roll back every operation whose owner died (``kill -9``, a lost host).

        For each: take it over, drop the locks its owner held, clear the stacks' DIY locks (only when the
        holding CLI process is gone) and pending operations (undoing half-done creates), then converge:
        an onboarding or a suspend/resume is re-applied from the registry; a migration not yet switched is
        rolled back to the source, one already switched tears the source down; an offboarding completes.
        """
        recovered: builtins.list[OperationResult] = []
        for stale in self.journal.stale():
            row = self.journal.adopt(stale.id)
            self.locks.release_all(row.id)
            self._audit(row.actor, "operation.recovering", row.tenant, row.id, {"phase": row.phase, "kind": row.kind})
            with self.locks.hold(f"tenant:{row.tenant}", row.id, self.settings.lock_timeout_s):
                repaired = self._repair_stacks(row.tenant)
                self.journal.phase(row.id, "recovering", repaired=repaired, recovered=True)
                status, error = self._resume(row)
                result = self.journal.finish(row.id, status, error=error)
            self._audit(row.actor, f"{row.kind}.{status.value}", row.tenant, row.id, {"recovered": True})
            recovered.append(result)
        return recovered

    def _repair_stacks(self, slug: str) -> dict[str, builtins.list[str]]:
        with self.registry.transaction() as session:
            row = session.get(TenantRow, slug)
            stacks = {PLATFORM_STACK} | ({s for s in (row.stack, row.target_stack) if s} if row else set())
            stacks |= {
                o["source_stack"]
                for o in session.scalars(select(OperationRow.summary).where(OperationRow.tenant == slug))
                if isinstance(o, dict) and o.get("source_stack")
            }
        repaired: dict[str, builtins.list[str]] = {}
        for stack in sorted(stacks):
            if not self.stacks.exists(stack):
                continue
            cleared = self.stacks.clear_stale_lock(stack)
            pending = self.stacks.clear_pending(stack, self.server.as_input())
            if cleared or pending:
                repaired[stack] = [*(["lock"] if cleared else []), *pending]
        return repaired

    def _resume(self, row: OperationRow) -> tuple[OperationStatus, str | None]:
        kind = OperationKind(row.kind)
        try:
            if kind is OperationKind.ONBOARD:
                self._provision(row.id)
            elif kind in (OperationKind.SUSPEND, OperationKind.RESUME):
                self._apply_toggle(row.id, row.tenant, suspended=kind is OperationKind.SUSPEND)
            elif kind is OperationKind.CHANGE_PLAN:
                with self.registry.transaction() as session:
                    tenant = self._tenant(session, row.tenant)
                    switched, source_role = tenant.target_stack is None, tenant.role
                if not switched:  # the crash may have come after the write freeze: rollback lifts it
                    self._rollback_migration(row.id, row.tenant, source_role)
                    return OperationStatus.ROLLED_BACK, "interrupted before the switch; rolled back to the source"
                self._finish_migration(row.id, row.tenant, str((row.summary or {}).get("source_stack", "")))
            elif kind is OperationKind.OFFBOARD:
                policy = RetentionPolicy((row.request or {}).get("retention", RetentionPolicy.EXPORT.value))
                self._offboard(row.id, policy)
        except PaybillError as err:
            self._mark(row.tenant, S.FAILED)
            return OperationStatus.FAILED, str(err)
        return OperationStatus.SUCCEEDED, None

    # --- async counterparts --------------------------------------------------------------------------------

    async def aonboard(
        self, request: OnboardRequest | dict[str, Any], *, actor: str = "system", idempotency_key: str | None = None
    ) -> OperationResult:
        return await asyncio.to_thread(self.onboard, request, actor=actor, idempotency_key=idempotency_key)

    async def achange_plan(
        self, slug: str, plan: str, *, actor: str = "system", idempotency_key: str | None = None
    ) -> OperationResult:
        return await asyncio.to_thread(self.change_plan, slug, plan, actor=actor, idempotency_key=idempotency_key)

    async def asuspend(self, slug: str, *, actor: str = "system", reason: str = "") -> OperationResult:
        return await asyncio.to_thread(self.suspend, slug, actor=actor, reason=reason)

    async def aresume(self, slug: str, *, actor: str = "system", reason: str = "") -> OperationResult:
        return await asyncio.to_thread(self.resume, slug, actor=actor, reason=reason)

    async def aoffboard(
        self, slug: str, *, retention: RetentionPolicy = RetentionPolicy.EXPORT, actor: str = "system"
    ) -> OperationResult:
        return await asyncio.to_thread(self.offboard, slug, retention=retention, actor=actor)

    async def apreview(self, slug: str, plan: str) -> PreviewResult:
        return await asyncio.to_thread(self.preview, slug, plan)

    async def adrift(self, slug: str | None = None) -> DriftReport:
        return await asyncio.to_thread(self.drift, slug)

    async def astatus(self) -> FleetStatus:
        return await asyncio.to_thread(self.status)

    async def alist(self, state: TenantState | None = None) -> builtins.list[TenantView]:
        return await asyncio.to_thread(self.list, state)

    async def ashow(self, slug: str) -> TenantView:
        return await asyncio.to_thread(self.show, slug)

    # --- the operation skeleton ------------------------------------------------------------------------------

    def _operate(
        self,
        kind: OperationKind,
        slug: str,
        actor: str,
        request: dict[str, Any],
        key: str | None,
        *,
        check: Callable[[Session], OperationResult | None],
        prepare: Callable[[Session, str], None],
        body: Callable[[str], dict[str, Any]],
    ) -> OperationResult:
        if key is not None:
            key = validate_key(key)
            earlier = self.journal.dedupe(key, request_hash(kind, slug, request), self.settings.lock_timeout_s)
            if earlier is not None:
                return earlier
        operation_id = str(uuid.uuid4())
        self.events.milestone(ProgressPhase.QUEUED, kind.value, operation_id=operation_id, tenant=slug, stack=None)
        with self.locks.hold(f"tenant:{slug}", operation_id, self.settings.lock_timeout_s):
            if key is not None:  # the key's first owner may have finished while this call waited
                earlier = self.journal.dedupe(key, request_hash(kind, slug, request), self.settings.lock_timeout_s)
                if earlier is not None:
                    return earlier
            try:
                with self.registry.transaction() as session:
                    earlier = check(session)
                    if earlier is None:
                        prepare(session, operation_id)
                        self.journal.start(session, operation_id, kind, slug, actor, request, key)
            except PaybillError as err:
                self._refuse(err, actor, slug, kind.value)
            except IntegrityError:
                # The tenant lock does not cover another tenant racing for the same idempotency key: whoever
                # lost the insert sees the winner's row now (a different request: IdempotencyConflictError).
                claimed = (
                    self.journal.dedupe(key, request_hash(kind, slug, request), self.settings.lock_timeout_s)
                    if (key is not None)
                    else None
                )
                if claimed is None:
                    raise
                return claimed
            if earlier is not None:
                self._audit(actor, f"{kind.value}.deduplicated", slug, earlier.id, {})
                return earlier
            self._audit(actor, f"{kind.value}.started", slug, operation_id, request)
            self.events.milestone(ProgressPhase.STARTED, kind.value, operation_id=operation_id, tenant=slug, stack=None)
            try:
                summary = body(operation_id)
            except MigrationError as err:
                status = OperationStatus.ROLLED_BACK if err.rolled_back else OperationStatus.FAILED
                self._close(operation_id, kind, slug, actor, status, str(err))
                raise
            except PaybillError as err:
                self._close(operation_id, kind, slug, actor, OperationStatus.FAILED, str(err))
                raise OperationFailedError(operation_id, kind.value, slug, str(err)) from err
            result = self.journal.finish(operation_id, OperationStatus.SUCCEEDED, **summary)
            self._audit(actor, f"{kind.value}.succeeded", slug, operation_id, _audit_summary(summary))
            self.events.milestone(
                ProgressPhase.FINISHED, kind.value, operation_id=operation_id, tenant=slug, stack=None
            )
            return result

    def _close(
        self, operation_id: str, kind: OperationKind, slug: str, actor: str, status: OperationStatus, error: str
    ) -> None:
        self.journal.finish(operation_id, status, error=error)
        self._audit(actor, f"{kind.value}.{status.value}", slug, operation_id, {"error": error[:500]})
        self.events.milestone(ProgressPhase.FAILED, error[:200], operation_id=operation_id, tenant=slug, stack=None)

    def _refuse(self, err: PaybillError, actor: str, slug: str, action: str) -> Any:
        self._audit(actor, f"{action}.rejected", slug, None, {"error": type(err).__name__, "reason": str(err)[:500]})
        raise err

    def _audit(
        self, actor: str, action: str, tenant: str | None, operation_id: str | None, detail: dict[str, Any]
    ) -> None:
        with self.registry.transaction() as session:
            self.registry.audit(
                session, actor=actor, action=action, tenant=tenant, operation_id=operation_id, detail=detail
            )

    # --- operation bodies (resumable: each converges from the registry) -----------------------------------------

    def _provision(self, operation_id: str) -> dict[str, Any]:
        slug = self._op_tenant(operation_id)
        with self.registry.transaction() as session:
            row = self._tenant(session, slug)
            stack, isolation = row.stack or "", Isolation(row.isolation)
        try:
            if isolation is not Isolation.POOLED:
                self._ensure_platform(operation_id)
            change = self._sync(stack, operation_id)
        except PaybillError:
            self._undo_onboarding(operation_id, slug)
            raise
        self._mark(slug, S.ACTIVE)
        return {"stack": stack, "changes": change.changes}

    def _undo_onboarding(self, operation_id: str, slug: str) -> None:
        """A failed onboarding leaves no half-applied stack: the tenant leaves its placement (its stack is
        converged without it) and is marked failed, from where it can be onboarded again."""
        with self.registry.transaction() as session:
            row = self._tenant(session, slug)
            stack = row.stack
            row.stack, row.pool_id, row.state = None, None, S.FAILED.value
        if stack:
            try:
                self._sync(stack, operation_id)
            except PaybillError as err:
                self.journal.phase(operation_id, "cleanup-failed", cleanup_error=str(err)[:500])

    def _toggle(self, kind: OperationKind, slug: str, actor: str, reason: str, key: str | None) -> OperationResult:
        slug, actor = self._slug(slug), self._actor(actor)
        suspend = kind is OperationKind.SUSPEND
        source = S.ACTIVE if suspend else S.SUSPENDED

        def check(session: Session) -> OperationResult | None:
            row = self._tenant(session, slug)
            if S(row.state) is not source:
                raise IllegalTransitionError(slug, kind.value, row.state, (source.value,))
            sub = session.get(SubscriptionRow, slug)
            if not suspend and (sub is None or not allows_provisioning(SubscriptionStatus(sub.status))):
                raise BillingGateError(slug, "resume", sub.status if sub else "missing")
            return None

        def prepare(session: Session, operation_id: str) -> None:
            self._tenant(session, slug).suspended = suspend

        def body(operation_id: str) -> dict[str, Any]:
            try:
                return self._apply_toggle(operation_id, slug, suspended=suspend)
            except PaybillError:
                with self.registry.transaction() as session:
                    self._tenant(session, slug).suspended = not suspend
                self._sync(self._stack_of(slug), operation_id)
                raise

        return self._operate(kind, slug, actor, {"reason": reason[:200]}, key, check=check, prepare=prepare, body=body)

    def _apply_toggle(self, operation_id: str, slug: str, *, suspended: bool) -> dict[str, Any]:
        change = self._sync(self._stack_of(slug), operation_id)
        self._mark(slug, S.SUSPENDED if suspended else S.ACTIVE)
        return {"stack": change.stack, "changes": change.changes}

    def _change(self, operation_id: str) -> dict[str, Any]:
        slug = self._op_tenant(operation_id)
        with self.registry.transaction() as session:
            row = self._tenant(session, slug)
            migrating = row.target_stack is not None
            stack = row.stack or ""
        if not migrating:
            change = self._sync(stack, operation_id)
            return {"stack": stack, "changes": change.changes, "migration": False}
        return self._migrate(operation_id, slug)

    def _migrate(self, operation_id: str, slug: str) -> dict[str, Any]:
        with self.registry.transaction() as session:
            row = self._tenant(session, slug)
            source = self._placement(session, slug, Isolation(row.isolation), row.pool_id)
            target = self._placement(session, slug, Isolation(row.target_isolation or ""), row.target_pool_id)
            source_stack, target_stack = row.stack or "", row.target_stack or ""
            from_plan, to_plan = row.plan, row.target_plan or ""
            source_role = row.role
        self.journal.phase(operation_id, "provision", source_stack=source_stack, target_stack=target_stack)
        phase = "provision"
        try:
            if target.isolation is not Isolation.POOLED:
                self._ensure_platform(operation_id)
            self._sync(target_stack, operation_id)
            phase = "move"
            self.journal.phase(operation_id, phase)
            if source_role:
                self.mover.freeze(source_role)
            copied = self.mover.copy(slug, source, target)
            phase = "verify"
            self.journal.phase(operation_id, phase, copied=copied)
            check = self.mover.verify(slug, source, target)
            if not check.ok:
                raise MigrationError(
                    slug, str(source), str(target), phase, f"mismatch in {', '.join(check.mismatches())}", False
                )
        except (PaybillError, OSError, ValueError) as err:
            rolled_back = self._rollback_migration(operation_id, slug, source_role)
            reason = err.reason if isinstance(err, MigrationError) else str(err)
            raise MigrationError(slug, str(source), str(target), phase, reason[:1000], rolled_back) from err
        except Exception as err:  # psycopg errors and the like: the source is intact, undo the target
            rolled_back = self._rollback_migration(operation_id, slug, source_role)
            raise MigrationError(slug, str(source), str(target), phase, str(err)[:1000], rolled_back) from err
        with self.registry.transaction() as session:
            row = self._tenant(session, slug)
            row.plan, row.isolation, row.role = to_plan, row.target_isolation or row.isolation, row.target_role
            row.stack, row.pool_id, row.generation = row.target_stack, row.target_pool_id, row.generation + 1
            row.target_plan = row.target_isolation = row.target_stack = row.target_role = None
            row.target_pool_id = None
        self.journal.phase(operation_id, "switched", rows=check.target_counts)
        summary = self._finish_migration(operation_id, slug, source_stack)
        return {
            "migration": True,
            "from": f"{from_plan} ({source})",
            "to": f"{to_plan} ({target})",
            "rows": check.target_counts,
            **summary,
        }

    def _finish_migration(self, operation_id: str, slug: str, source_stack: str) -> dict[str, Any]:
        """After the switch: tear the source down. Its failure leaves the tenant on the target (data is
        safe) and is recorded; the next ``converge`` removes the leftover."""
        summary: dict[str, Any] = {}
        self.journal.phase(operation_id, "teardown")
        if source_stack:
            try:
                summary["teardown"] = self._sync(source_stack, operation_id).changes
            except PaybillError as err:
                summary["teardown_error"] = str(err)[:500]
        self._mark(slug, S.ACTIVE)
        return summary

    def _rollback_migration(self, operation_id: str, slug: str, source_role: str | None) -> bool:
        """Lift the source's write freeze, forget the target placement and converge the target stack
        without the tenant. The source was never written to. Returns whether the target is gone."""
        if source_role:
            self.mover.thaw(source_role)
        with self.registry.transaction() as session:
            row = self._tenant(session, slug)
            target_stack = row.target_stack
            row.target_plan = row.target_isolation = row.target_stack = row.target_role = None
            row.target_pool_id = None
            row.state = S.ACTIVE.value
            sub = session.get(SubscriptionRow, slug)
            if sub is not None:
                sub.plan = row.plan
        self.journal.phase(operation_id, "rollback")
        if not target_stack:
            return True
        try:
            self._sync(target_stack, operation_id)
        except PaybillError as err:
            self.journal.phase(operation_id, "rollback-incomplete", rollback_error=str(err)[:500])
            return False
        return True

    def _offboard(self, operation_id: str, retention: RetentionPolicy) -> dict[str, Any]:
        slug = self._op_tenant(operation_id)
        with self.registry.transaction() as session:
            row = self._tenant(session, slug)
            stack = row.stack
            placement = self._placement(session, slug, Isolation(row.isolation), row.pool_id) if stack else None
        summary: dict[str, Any] = {"retention": retention.value}
        done = (self.journal.get(operation_id) or OperationRow()).summary or {}
        if retention is RetentionPolicy.EXPORT and placement is not None and "export" not in done:
            manifest = self.mover.export(slug, placement, self.export_dir)
            summary["export"] = {"path": str(manifest.path), "sha256": manifest.sha256, "rows": manifest.counts}
            self.journal.phase(operation_id, "exported", **summary)
        with self.registry.transaction() as session:
            row = self._tenant(session, slug)
            row.stack, row.pool_id = None, None
        if stack:
            summary["changes"] = self._sync(stack, operation_id).changes
        with self.registry.transaction() as session:
            row = self._tenant(session, slug)
            row.state, row.suspended = S.OFFBOARDED.value, False
            sub = session.get(SubscriptionRow, slug)
            if sub is not None and sub.status != SubscriptionStatus.CANCELED.value:
                sub.status, sub.canceled_at = SubscriptionStatus.CANCELED.value, utcnow()
        return summary

    # --- stacks ------------------------------------------------------------------------------------------------

    def _batcher(self, stack: str) -> Batcher[StackChange]:
        with self._batchers_guard:
            return self._batchers.setdefault(stack, Batcher())

    def _sync(self, stack: str, operation_id: str) -> StackChange:
        """Converge ``stack`` to the registry (batched with concurrent requests for the same stack)."""
        return self._batcher(stack).run(lambda: self._apply(stack, operation_id))

    def _apply(self, stack: str, operation_id: str) -> StackChange:
        with self.locks.hold(f"stack:{stack}", operation_id, self.settings.lock_timeout_s), self._slots:
            with self.registry.transaction() as session:
                kind, program, members = self._spec(session, stack)
            sink = self.events.engine_sink(operation_id=operation_id, stack=stack, members=members)
            if program is None:
                if not self.stacks.exists(stack):
                    return StackChange(stack=stack, operation="none", changes={})
                outcome = self.stacks.run(stack, "destroy", _no_program, on_event=sink)
                with self.registry.transaction() as session:
                    session.execute(delete(StackRow).where(StackRow.name == stack))
                    if kind is StackKind.POOL:
                        session.execute(
                            delete(PoolRow).where(
                                PoolRow.stack == stack,
                                ~select(TenantRow.slug)
                                .where(or_(TenantRow.pool_id == PoolRow.id, TenantRow.target_pool_id == PoolRow.id))
                                .exists(),
                            )
                        )
                return outcome.change
            outcome = self.stacks.run(stack, "up", program, on_event=sink)
            public = {k: v for k, v in outcome.outputs.items() if k not in outcome.secret_keys}
            with self.registry.transaction() as session:
                row = session.get(StackRow, stack)
                if row is None:
                    row = StackRow(name=stack, kind=kind.value)
                    session.add(row)
                row.outputs, row.last_operation = public, "up"
                row.last_changes, row.last_run_at = outcome.change.changes, utcnow()
            return outcome.change

    def _spec(self, session: Session, stack: str) -> tuple[StackKind, Callable[[], None] | None, tuple[str, ...]]:
        """What ``stack`` should hold now: its kind, its program (``None``: nothing, destroy it), members."""
        if stack == PLATFORM_STACK:
            return StackKind.PLATFORM, platform_program(self.server), ()
        members = tuple(self._members(session, stack))
        slugs = tuple(m.topology.tenant for m in members)
        pool = session.scalars(select(PoolRow).where(PoolRow.stack == stack)).one_or_none()
        if pool is not None:
            if not members:
                return StackKind.POOL, None, ()
            return StackKind.POOL, pool_program(self.server, pool.database, pool.owner, members), slugs
        if not members:
            return StackKind.TENANT, None, ()
        return StackKind.TENANT, tenant_program(self.server, self._platform_endpoint(session), members[0]), slugs

    def _members(
        self,
        session: Session,
        stack: str,
        *,
        exclude: str | None = None,
        override: dict[str, tuple[str, str, bool]] | None = None,
    ) -> builtins.list[MemberSpec]:
        """Tenants placed on ``stack`` (current placement, or target of a running migration)."""
        rows = session.scalars(
            select(TenantRow)
            .where(or_(TenantRow.stack == stack, TenantRow.target_stack == stack), TenantRow.slug != (exclude or ""))
            .order_by(TenantRow.slug)
        )
        out: builtins.list[MemberSpec] = []
        for row in rows:
            if row.stack == stack:
                plan, role, suspended = (override or {}).get(row.slug, (row.plan, row.role or "", row.suspended))
                out.append(self._member(row, plan, role, suspended))
            else:
                out.append(self._member(row, row.target_plan or row.plan, row.target_role or "", False))
        return out

    def _member(self, row: TenantRow, plan: str, role: str, suspended: bool) -> MemberSpec:
        return MemberSpec(
            topology=self._topology(row.slug, row.display_name, plan, dict(row.tags or {})),
            role=role,
            suspended=suspended,
        )

    def _topology(self, slug: str, display_name: str, plan: str, tags: dict[str, str]) -> Topology:
        tenant = Tenant(slug=slug, display_name=display_name, plan=plan, tags=tags)
        return resolve_topology(self.catalog[plan], tenant, _DEFAULTS)

    def _ensure_platform(self, operation_id: str) -> None:
        with self.registry.transaction() as session:
            row = session.get(StackRow, PLATFORM_STACK)
            ready = row is not None and "platform" in (row.outputs or {})
        if not ready:
            self._sync(PLATFORM_STACK, operation_id)

    def _platform_endpoint(self, session: Session) -> Endpoint:
        row = session.get(StackRow, PLATFORM_STACK)
        platform = (row.outputs if row else {}).get("platform") if row else None
        if not platform:
            raise ControlPlaneError("the platform stack has not been provisioned")
        return Endpoint(database=platform["database"], host=platform["host"], port=int(platform["port"]))

    def _preview_stack(self, stack: str, members: builtins.list[MemberSpec], plan: Plan) -> StackChange:
        """``preview`` of ``stack`` holding ``members``; an emptied stack would be destroyed (its resources
        count as deletes). A stack that did not exist before is removed again."""
        existed = self.stacks.exists(stack)
        if not members:
            count = len(self.stacks.resources(stack, _no_program)) if existed else 0
            return StackChange(stack=stack, operation="preview", changes={"delete": count})
        with self.registry.transaction() as session:
            pool = session.scalars(select(PoolRow).where(PoolRow.stack == stack)).one_or_none()
            if pool is not None or members[0].topology.isolation is Isolation.POOLED:
                ordinal = pool.ordinal if pool is not None else self._next_ordinal(session, plan.name)
                pool_plan = pool.plan if pool is not None else plan.name
                program = pool_program(
                    self.server, pool_database(pool_plan, ordinal), pool_owner(pool_plan, ordinal), tuple(members)
                )
            else:
                program = tenant_program(self.server, self._platform_endpoint_or_default(session), members[0])
        with self._slots:
            try:
                return self.stacks.run(stack, "preview", program).change
            finally:
                if not existed and self.stacks.exists(stack):
                    self.stacks.select(stack, _no_program).workspace.remove_stack(stack)

    def _platform_endpoint_or_default(self, session: Session) -> Endpoint:
        row = session.get(StackRow, PLATFORM_STACK)
        if row is not None and (row.outputs or {}).get("platform"):
            return self._platform_endpoint(session)
        return Endpoint(database=BRIDGE_DATABASE, host="(not provisioned)", port=0)

    # --- placement ---------------------------------------------------------------------------------------------

    def _place(self, session: Session, slug: str, plan: Plan) -> tuple[str, int | None]:
        """The stack (and pool) for ``slug`` on ``plan``: its own stack, or the first pool of the plan with
        room (lowest ordinal; a new pool when all are full). Runs in the registry transaction, so two
        concurrent placements cannot overfill a pool or open two (SQLite serialises writers; on PostgreSQL
        placements of one plan take turns on an advisory lock)."""
        if plan.isolation is not Isolation.POOLED:
            return tenant_stack_name(slug, plan.isolation.value), None
        if session.get_bind().dialect.name == "postgresql":
            # Row locks cannot guard a plan that has no pool yet: two first placements would both open one.
            session.execute(select(func.pg_advisory_xact_lock(func.hashtext(f"paybill:place:{plan.name}"))))
        pool = self._free_pool(session, plan, lock=True)
        if pool is None:
            ordinal = self._next_ordinal(session, plan.name)
            pool = PoolRow(
                plan=plan.name,
                ordinal=ordinal,
                stack=pool_stack_name(plan.name, ordinal),
                database=pool_database(plan.name, ordinal),
                owner=pool_owner(plan.name, ordinal),
                capacity=plan.pool_capacity,
            )
            session.add(pool)
            session.flush()
        return pool.stack, pool.id

    def _peek_place(self, session: Session, slug: str, plan: Plan) -> str:
        """Where :meth:`_place` would put ``slug``, without recording anything (for previews)."""
        if plan.isolation is not Isolation.POOLED:
            return tenant_stack_name(slug, plan.isolation.value)
        pool = self._free_pool(session, plan, lock=False)
        return pool.stack if pool is not None else pool_stack_name(plan.name, self._next_ordinal(session, plan.name))

    @staticmethod
    def _next_ordinal(session: Session, plan: str) -> int:
        """The lowest pool ordinal of ``plan`` not in use (a destroyed pool's number is reused)."""
        used = set(session.scalars(select(PoolRow.ordinal).where(PoolRow.plan == plan)))
        return next(n for n in range(1, len(used) + 2) if n not in used)

    def _free_pool(self, session: Session, plan: Plan, *, lock: bool) -> PoolRow | None:
        query = select(PoolRow).where(PoolRow.plan == plan.name).order_by(PoolRow.ordinal)
        for pool in session.scalars(query.with_for_update() if lock else query):
            used = session.scalar(
                select(func.count()).where(or_(TenantRow.pool_id == pool.id, TenantRow.target_pool_id == pool.id))
            )
            if (used or 0) < pool.capacity:
                return pool
        return None

    def _placement(self, session: Session, slug: str, isolation: Isolation, pool_id: int | None) -> Placement:
        """Where the tenant's tables are for the data mover (pure naming, no engine call)."""
        names = self._topology_names(slug)
        if isolation is Isolation.POOLED:
            pool = session.get(PoolRow, pool_id) if pool_id is not None else None
            if pool is None:
                raise ControlPlaneError(f"tenant '{slug}' is pooled but has no pool")
            return Placement(isolation, pool.database, q.POOLED_SCHEMA)
        if isolation is Isolation.BRIDGE:
            return Placement(isolation, BRIDGE_DATABASE, names[NameKind.SCHEMA])
        return Placement(isolation, names[NameKind.DATABASE], q.SILO_SCHEMA)

    @staticmethod
    def _topology_names(slug: str) -> dict[NameKind, str]:
        return names_for(Cloud.LOCAL, slug)

    # --- small helpers -----------------------------------------------------------------------------------------

    def _stack_of(self, slug: str) -> str:
        with self.registry.transaction() as session:
            stack = self._tenant(session, slug).stack
        if stack is None:
            raise ControlPlaneError(f"tenant '{slug}' has no stack")
        return stack

    def _op_tenant(self, operation_id: str) -> str:
        row = self.journal.get(operation_id)
        if row is None:
            raise ControlPlaneError(f"operation {operation_id} is not journaled")
        return row.tenant

    def _mark(self, slug: str, state: TenantState) -> None:
        with self.registry.transaction() as session:
            self._tenant(session, slug, include_offboarded=True).state = state.value

    def _tenant(self, session: Session, slug: str, *, include_offboarded: bool = False) -> TenantRow:
        row = session.get(TenantRow, slug)
        if row is None or (not include_offboarded and row.state == S.OFFBOARDED.value):
            raise UnknownTenantError(slug)
        return row

    def _view(self, session: Session, row: TenantRow) -> TenantView:
        sub = session.get(SubscriptionRow, row.slug)
        pool = session.get(PoolRow, row.pool_id) if row.pool_id is not None else None
        placed = S(row.state) in PLACED and row.stack is not None
        placement = self._placement(session, row.slug, Isolation(row.isolation), row.pool_id) if placed else None
        return TenantView(
            slug=row.slug,
            display_name=row.display_name,
            plan=row.plan,
            isolation=Isolation(row.isolation),
            state=S(row.state),
            stack=row.stack,
            pool=pool.stack if pool else None,
            role=row.role if placed else None,
            database=placement.database if placement else None,
            schema_name=placement.schema if placement else None,
            suspended=row.suspended,
            subscription=view(sub) if sub else None,
            seats_used=row.seats_used,
            storage_gb_used=row.storage_gb_used,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def _plan(self, name: str, tenant: str) -> Plan:
        if name not in self.catalog:
            raise UnknownPlanError(name, self.catalog.names, tenant)
        return self.catalog[name]

    @staticmethod
    def _slug(value: str) -> str:
        try:
            return _SLUG.validate_python(value)
        except ValidationError as err:
            raise InvalidInputError("tenant slug", [FieldProblem("slug", e["msg"]) for e in err.errors()]) from None

    @staticmethod
    def _actor(value: str) -> str:
        try:
            return TypeAdapter(Actor).validate_python(value)
        except ValidationError as err:
            raise InvalidInputError("actor", [FieldProblem("actor", e["msg"]) for e in err.errors()]) from None


def validate_plan(value: str) -> str:
    try:
        return _PLAN.validate_python(value)
    except ValidationError as err:
        raise InvalidInputError("plan", [FieldProblem("plan", e["msg"]) for e in err.errors()]) from None


def validate_key(value: str) -> str:
    try:
        return TypeAdapter(IdempotencyKey).validate_python(value)
    except ValidationError as err:
        raise InvalidInputError("idempotency key", [FieldProblem("key", e["msg"]) for e in err.errors()]) from None


def _limit_problems(row: TenantRow, plan: Plan) -> list[FieldProblem]:
    problems = []
    if plan.limits.seats is not None and row.seats_used > plan.limits.seats:
        problems.append(FieldProblem("seats", f"{row.seats_used} seats in use, plan allows {plan.limits.seats}"))
    if row.storage_gb_used > plan.limits.storage_gb:
        problems.append(
            FieldProblem("storage_gb", f"{row.storage_gb_used} GB in use, plan allows {plan.limits.storage_gb}")
        )
    return problems


def _audit_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """What of an operation summary goes to the audit log: counts, stacks and paths, never outputs."""
    keep = ("stack", "changes", "migration", "from", "to", "rows", "retention", "export", "teardown")
    return {k: summary[k] for k in keep if k in summary}
