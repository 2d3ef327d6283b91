"""What billing does to tenants: a subscription suspended by billing suspends the tenant, a recovered one
resumes it, a past-due one is suspended after the grace period, a canceled one is offboarded (with its
export) after the retention period. One place maps billing events to lifecycle operations."""

from __future__ import annotations

from datetime import datetime

from paybill_infra.controlplane.billing import BillingAdapter, BillingEvent, InDatabaseBilling, WebhookVerifier
from paybill_infra.controlplane.models import (
    OperationResult,
    RetentionPolicy,
    SubscriptionView,
    TenantState,
)
from paybill_infra.controlplane.operations import Operations
from paybill_infra.controlplane.reads import Reads
from paybill_infra.controlplane.registry import utcnow
from paybill_infra.controlplane.runtime import Runtime
from paybill_infra.controlplane.transitions import billing_operation
from paybill_infra.errors import ControlPlaneError
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
        before = self.billing.subscription(event.tenant)
        after = self.billing.record(event)
        state = self.reads.show(event.tenant).state
        kind = billing_operation(before.status if before else None, after.status, state)
        if kind is not None:
            self.operations.toggle(kind, event.tenant, ACTOR, f"billing event {event.event_id}", None)
        return after

    def webhook(self, body: bytes, signature: str) -> SubscriptionView:
        """Verify a signed webhook (``settings.webhook_secret``) and apply its event."""
        secret = self.rt.settings.webhook_secret
        if secret is None:
            raise ControlPlaneError("no webhook secret configured (ControlPlaneSettings.webhook_secret)")
        return self.record(WebhookVerifier(secret).parse(body, signature))

    def enforce(self, now: datetime | None = None) -> list[OperationResult]:
        """Suspend tenants past due beyond the grace period; offboard (with export) tenants canceled beyond
        the retention period. Meant for a periodic job; idempotent."""
        now = now or utcnow()
        policy = self.rt.settings.billing
        results: list[OperationResult] = []
        for slug in self.store.overdue(now, policy.grace_period):
            event_id = f"grace-{slug}-{int(now.timestamp())}"
            self.record(
                BillingEvent(event_id=event_id, tenant=slug, status=SubscriptionStatus.SUSPENDED, occurred_at=now)
            )
            results.extend(self.reads.operations(slug, limit=1))
        for slug in self.store.expired(now, policy.retention):
            if self.reads.show(slug).state in (S.ACTIVE, S.SUSPENDED, S.FAILED):
                results.append(self.operations.offboard(slug, RetentionPolicy.EXPORT, ACTOR, None))
        return results
