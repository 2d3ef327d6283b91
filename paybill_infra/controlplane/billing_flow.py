"""What billing does to tenants: a subscription suspended by billing suspends the tenant, a recovered one
resumes it, a past-due one is suspended after the grace period, a canceled one is offboarded (with its
export) after the retention period. One place maps billing events to lifecycle operations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from paybill_infra.controlplane.billing import BillingAdapter, BillingEvent, InDatabaseBilling, WebhookVerifier
from paybill_infra.controlplane.models import (
    UNSUCCESSFUL_STATUSES,
    OperationKind,
    OperationResult,
    RetentionPolicy,
    SubscriptionView,
)
from paybill_infra.controlplane.operations import Operations
from paybill_infra.controlplane.reads import Reads
from paybill_infra.controlplane.registry import utcnow
from paybill_infra.controlplane.runtime import Runtime
from paybill_infra.controlplane.transitions import ALLOWED, billing_operation
from paybill_infra.errors import BillingEnforcementError, ControlPlaneError, PaybillError, UnknownTenantError
from paybill_infra.schema.enums import SubscriptionStatus

ACTOR = "billing"
K = OperationKind


class BillingFlow:
    def __init__(
        self, rt: Runtime, operations: Operations, reads: Reads, billing: BillingAdapter, store: InDatabaseBilling
    ) -> None:
        self.rt = rt
        self.operations = operations
        self.reads = reads
        self.billing = billing
        self.store = store

    def record(self, event: BillingEvent) -> SubscriptionView:
        """Apply ``event`` (the subscription state machine is enforced), then the lifecycle it implies."""
        return self._apply(event)[0]

    def _apply(self, event: BillingEvent) -> tuple[SubscriptionView, OperationResult | None]:
        """The subscription after ``event`` and the suspend or resume it started, if any. The operation's
        idempotency key is the event's id, so a redelivered (or racing) event runs it once."""
        before = self.billing.subscription(event.tenant)
        after = self.billing.record(event)
        state = self.reads.show(event.tenant).state
        kind = billing_operation(before.status if before else None, after.status, state)
        if kind is None:
            return after, None
        reason, key = f"billing event {event.event_id}", f"billing:{event.event_id}"
        return after, self.operations.toggle(kind, event.tenant, ACTOR, reason, key)

    def webhook(self, body: bytes, signature: str) -> SubscriptionView:
        """Verify a signed webhook (``settings.webhook_secret``) and apply its event."""
        secret = self.rt.settings.webhook_secret
        if secret is None:
            raise ControlPlaneError("no webhook secret configured (ControlPlaneSettings.webhook_secret)")
        return self.record(WebhookVerifier(secret).parse(body, signature))

    def enforce(self, now: datetime | None = None) -> list[OperationResult]:
        """Bring tenants in line with billing; returns the operations it started (or joined).

        - past due beyond the grace period: the subscription is suspended, and with it the tenant;
        - still active although billing holds the subscription suspended (a suspend that failed, or that a
          crash or a busy tenant stopped): suspended again;
        - suspended although the subscription is active again, when the last suspend or resume of the tenant
          was billing's resume and it failed: resumed again;
        - canceled beyond the retention period: offboarded with its export.

        Meant for a periodic job (the service's worker schedules it), and idempotent even when two runs
        overlap: every idempotency key derives from the subscription's own timestamps and, for a retry, from
        the number of failed attempts before it, never from ``now``, so racing runs resolve to one operation
        per tenant (the control plane replays it to the slower caller). One tenant's failure does not stop
        the others: every due tenant is tried, then the failures are raised together as a
        :class:`~paybill_infra.errors.BillingEnforcementError`, and the next run tries them again."""
        now = now or utcnow()
        policy = self.rt.settings.billing
        run = _Run()
        for slug in self.store.overdue(now, policy.grace_period):
            run.attempt(slug, partial(self._grace, slug, now))
        for slug in self.store.held_but_active():
            run.attempt(slug, partial(self._again, slug, K.SUSPEND))
        for slug in self.store.released_but_suspended():
            if self._owes_resume(slug):
                run.attempt(slug, partial(self._again, slug, K.RESUME))
        for slug in self.store.expired(now, policy.retention):
            run.attempt(slug, partial(self._retention, slug))
        return run.outcome()

    def _grace(self, slug: str, now: datetime) -> OperationResult | None:
        since = self._subscription(slug).past_due_since
        if since is None:  # paid in the meantime
            return None
        event_id = f"grace-{slug}-{int(since.timestamp())}"
        event = BillingEvent(event_id=event_id, tenant=slug, status=SubscriptionStatus.SUSPENDED, occurred_at=now)
        return self._apply(event)[1]

    def _again(self, slug: str, kind: OperationKind) -> OperationResult:
        """Billing's ``kind`` of ``slug`` once more, under a key naming how many of its attempts failed."""
        failed = self.rt.journal.unsuccessful(slug, kind, ACTOR)
        key = f"billing-retry:{kind.value}:{slug}:{failed}"
        return self.operations.toggle(kind, slug, ACTOR, f"billing {kind.value}, attempt {failed + 1}", key)

    def _retention(self, slug: str) -> OperationResult | None:
        canceled = self._subscription(slug).canceled_at
        if canceled is None or self.reads.show(slug).state not in ALLOWED[K.OFFBOARD]:
            return None
        key = f"billing-retention:{slug}:{int(canceled.timestamp())}"
        return self.operations.offboard(slug, RetentionPolicy.EXPORT, ACTOR, key)

    def _owes_resume(self, slug: str) -> bool:
        """Whether the last suspend or resume of ``slug`` was billing's resume, and it did not succeed."""
        last = self.rt.journal.latest(slug, (K.SUSPEND, K.RESUME))
        return (
            last is not None and last.kind is K.RESUME and last.actor == ACTOR and last.status in UNSUCCESSFUL_STATUSES
        )

    def _subscription(self, slug: str) -> SubscriptionView:
        view = self.store.subscription(slug)
        if view is None:
            raise UnknownTenantError(slug)
        return view


class _Run:
    """One enforcement run: the operations it started, and why each failing tenant failed."""

    def __init__(self) -> None:
        self.results: list[OperationResult] = []
        self.failures: dict[str, str] = {}

    def attempt(self, slug: str, step: Callable[[], OperationResult | None]) -> None:
        """Run ``step`` for ``slug`` unless it already failed in this run (one attempt per tenant per run)."""
        if slug in self.failures:
            return
        try:
            result = step()
        except PaybillError as err:
            self.failures[slug] = str(err)[:500]
            return
        if result is not None and result.status in UNSUCCESSFUL_STATUSES:  # a racing run's failed attempt, replayed
            self.failures[slug] = result.error or f"operation {result.id} {result.status.value}"
        elif result is not None:
            self.results.append(result)

    def outcome(self) -> list[OperationResult]:
        if self.failures:
            raise BillingEnforcementError(self.failures, tuple(r.id for r in self.results))
        return self.results
