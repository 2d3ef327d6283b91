"""What billing does to tenants: a subscription suspended by billing suspends the tenant, a recovered one
resumes it, a past-due one is suspended after the grace period, a canceled one is offboarded (with its
export) after the retention period. One place maps billing events to lifecycle operations."""

from __future__ import annotations

from datetime import datetime

from paybill_infra.controlplane.billing import BillingAdapter, BillingEvent, InDatabaseBilling, WebhookVerifier
from paybill_infra.controlplane.models import (
    OperationKind,
    OperationResult,
    RetentionPolicy,
    SubscriptionView,
    TenantState,
)
from paybill_infra.controlplane.operations import Operations
from paybill_infra.controlplane.reads import Reads
from paybill_infra.controlplane.registry import utcnow
from paybill_infra.controlplane.runtime import Runtime
from paybill_infra.controlplane.transitions import ALLOWED, billing_operation
from paybill_infra.errors import ControlPlaneError, UnknownTenantError
from paybill_infra.schema.enums import SubscriptionStatus

ACTOR = "billing"
S = TenantState


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
        """Suspend tenants past due beyond the grace period; offboard (with export) tenants canceled beyond
        the retention period; returns the operations it started (or joined).

        Meant for a periodic job (the service's worker schedules it), and idempotent even when two runs
        overlap: the grace event's id and the offboarding's idempotency key derive from the subscription's
        own timestamps, not from ``now``, so racing runs resolve to one operation per tenant (the control
        plane replays it to the slower caller)."""
        now = now or utcnow()
        policy = self.rt.settings.billing
        results: list[OperationResult] = []
        for slug in self.store.overdue(now, policy.grace_period):
            since = self._subscription(slug).past_due_since
            if since is None:  # paid in the meantime
                continue
            event_id = f"grace-{slug}-{int(since.timestamp())}"
            event = BillingEvent(event_id=event_id, tenant=slug, status=SubscriptionStatus.SUSPENDED, occurred_at=now)
            started = self._apply(event)[1]
            results.extend([started] if started is not None else [])
        for slug in self.store.expired(now, policy.retention):
            canceled = self._subscription(slug).canceled_at
            if canceled is None or self.reads.show(slug).state not in ALLOWED[OperationKind.OFFBOARD]:
                continue
            key = f"billing-retention:{slug}:{int(canceled.timestamp())}"
            results.append(self.operations.offboard(slug, RetentionPolicy.EXPORT, ACTOR, key))
        return results

    def _subscription(self, slug: str) -> SubscriptionView:
        view = self.store.subscription(slug)
        if view is None:
            raise UnknownTenantError(slug)
        return view
