"""Billing: the subscription state machine, its gates, and the adapters that feed it.

State machine (``SubscriptionStatus``)::

    trialing ─► active ─► past_due ─► suspended
        │          │  ◄──────┘  ◄────────┘ (payment recovered)
        └──────────┴──────────┴──────────┴─► canceled (terminal)

Gates: provisioning and upgrades need ``trialing`` or ``active``. ``past_due`` keeps the tenant running for
a grace period, then suspends it; ``canceled`` keeps the infrastructure for the retention period, then
offboards it (both enforced by :meth:`ControlPlane.enforce_billing`).

Adapters: :class:`InDatabaseBilling` keeps subscriptions in the registry (the default, and the store every
adapter writes through). :class:`WebhookVerifier` is the shape a Stripe-like provider drives: an HMAC-SHA256
signature over ``"<timestamp>.<body>"`` in a ``t=<unix>,v1=<hex>`` header, checked in constant time with a
replay window, whose JSON body becomes a :class:`BillingEvent`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, ValidationError
from sqlalchemy import select

from paybill_infra.controlplane.models import SubscriptionView, TenantState
from paybill_infra.controlplane.registry import Registry, SubscriptionRow, TenantRow, utcnow
from paybill_infra.errors import (
    IllegalSubscriptionTransitionError,
    UnknownTenantError,
    WebhookSignatureError,
)
from paybill_infra.schema.enums import SubscriptionStatus
from paybill_infra.schema.identifiers import PlanName, Slug

S = SubscriptionStatus
TRANSITIONS: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    S.TRIALING: frozenset({S.ACTIVE, S.PAST_DUE, S.CANCELED}),
    S.ACTIVE: frozenset({S.PAST_DUE, S.CANCELED}),
    S.PAST_DUE: frozenset({S.ACTIVE, S.SUSPENDED, S.CANCELED}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.CANCELED}),
    S.CANCELED: frozenset(),
}
PROVISIONING_STATUSES = frozenset({S.TRIALING, S.ACTIVE})
DEFAULT_TOLERANCE = timedelta(minutes=5)


def allows_provisioning(status: SubscriptionStatus) -> bool:
    return status in PROVISIONING_STATUSES


def check_transition(tenant: str, current: SubscriptionStatus, requested: SubscriptionStatus) -> None:
    """Raise :class:`IllegalSubscriptionTransitionError` unless ``current -> requested`` is allowed.
    Re-asserting the current status is a no-op (webhooks are delivered at least once)."""
    if requested is not current and requested not in TRANSITIONS[current]:
        raise IllegalSubscriptionTransitionError(tenant, current.value, requested.value)


class BillingEvent(BaseModel):
    """One subscription change from the billing provider. ``event_id`` makes redelivery harmless."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
    tenant: Slug
    status: SubscriptionStatus
    plan: PlanName | None = None
    period_end: AwareDatetime | None = None
    occurred_at: AwareDatetime


class BillingAdapter(Protocol):
    """Where subscription state comes from. The control plane asks it before gated actions and tells it
    about provider events; implementations must apply :func:`check_transition`."""

    def subscription(self, tenant: str) -> SubscriptionView | None: ...

    def record(self, event: BillingEvent) -> SubscriptionView: ...


def view(row: SubscriptionRow) -> SubscriptionView:
    return SubscriptionView(
        status=SubscriptionStatus(row.status),
        plan=row.plan,
        period_end=row.period_end,
        past_due_since=row.past_due_since,
        canceled_at=row.canceled_at,
    )


class InDatabaseBilling:
    """Subscriptions kept in the registry's ``subscriptions`` table."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def subscription(self, tenant: str) -> SubscriptionView | None:
        with self.registry.transaction() as session:
            row = session.get(SubscriptionRow, tenant)
            return view(row) if row is not None else None

    def record(self, event: BillingEvent) -> SubscriptionView:
        with self.registry.transaction() as session:
            if session.get(TenantRow, event.tenant) is None:
                raise UnknownTenantError(event.tenant)
            row = session.get(SubscriptionRow, event.tenant)
            if row is None:
                raise UnknownTenantError(event.tenant)
            current = SubscriptionStatus(row.status)
            check_transition(event.tenant, current, event.status)
            if event.status is not current:
                row.status = event.status
                row.past_due_since = event.occurred_at if event.status is S.PAST_DUE else row.past_due_since
                if event.status in (S.ACTIVE, S.TRIALING):
                    row.past_due_since = None
                if event.status is S.CANCELED:
                    row.canceled_at = event.occurred_at
            if event.plan is not None:
                row.plan = event.plan
            if event.period_end is not None:
                row.period_end = event.period_end
            self.registry.audit(
                session,
                actor="billing",
                action="subscription.event",
                tenant=event.tenant,
                detail={"event_id": event.event_id, "from": current.value, "to": event.status.value},
            )
            return view(row)

    def overdue(self, now: datetime, grace: timedelta) -> list[str]:
        """Tenants ``past_due`` for longer than ``grace``."""
        with self.registry.transaction() as session:
            rows = session.scalars(
                select(SubscriptionRow.tenant).where(
                    SubscriptionRow.status == S.PAST_DUE.value, SubscriptionRow.past_due_since <= now - grace
                )
            )
            return sorted(rows)

    def held_but_active(self) -> list[str]:
        """Tenants still active although billing holds their subscription suspended: a suspend that failed,
        that a crash stopped, or that could not start because the tenant was busy (migrating, say)."""
        with self.registry.transaction() as session:
            rows = session.scalars(
                select(SubscriptionRow.tenant)
                .join(TenantRow, TenantRow.slug == SubscriptionRow.tenant)
                .where(SubscriptionRow.status == S.SUSPENDED.value, TenantRow.state == TenantState.ACTIVE)
            )
            return sorted(rows)

    def released_but_suspended(self) -> list[str]:
        """Suspended tenants whose subscription is active again. Only the journal can tell whether billing
        owes one a resume (an operator may have suspended it on purpose)."""
        with self.registry.transaction() as session:
            rows = session.scalars(
                select(SubscriptionRow.tenant)
                .join(TenantRow, TenantRow.slug == SubscriptionRow.tenant)
                .where(SubscriptionRow.status == S.ACTIVE.value, TenantRow.state == TenantState.SUSPENDED)
            )
            return sorted(rows)

    def expired(self, now: datetime, retention: timedelta) -> list[str]:
        """Tenants canceled for longer than ``retention`` whose tenant is still on record."""
        with self.registry.transaction() as session:
            rows = session.scalars(
                select(SubscriptionRow.tenant).where(
                    SubscriptionRow.status == S.CANCELED.value, SubscriptionRow.canceled_at <= now - retention
                )
            )
            return sorted(rows)


class WebhookVerifier:
    """Verifies and parses signed billing webhooks (``Paybill-Signature: t=<unix>,v1=<hex hmac>``)."""

    def __init__(self, secret: SecretStr, *, tolerance: timedelta = DEFAULT_TOLERANCE) -> None:
        if len(secret.get_secret_value()) < 16:
            raise WebhookSignatureError("the webhook secret must be at least 16 characters")
        self._secret = secret
        self.tolerance = tolerance

    def sign(self, body: bytes, *, at: datetime | None = None) -> str:
        """The header a provider would send for ``body`` (used by tests and provider simulators)."""
        timestamp = int((at or utcnow()).timestamp())
        return f"t={timestamp},v1={self._mac(timestamp, body)}"

    def parse(self, body: bytes, header: str, *, now: datetime | None = None) -> BillingEvent:
        """Verify ``header`` over ``body`` and return the event; raise :class:`WebhookSignatureError`."""
        parts: dict[str, list[str]] = {}
        for item in header.split(","):
            key, sep, value = item.strip().partition("=")
            if sep:
                parts.setdefault(key, []).append(value)
        try:
            timestamp = int(parts["t"][0])
        except (KeyError, ValueError):
            raise WebhookSignatureError("missing or malformed timestamp") from None
        expected = self._mac(timestamp, body)
        if not any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", [])):
            raise WebhookSignatureError("signature does not match")
        sent = datetime.fromtimestamp(timestamp, UTC)
        if abs((now or utcnow()) - sent) > self.tolerance:
            raise WebhookSignatureError("timestamp outside the replay window")
        try:
            return BillingEvent.model_validate(json.loads(body))
        except (ValueError, ValidationError) as err:
            raise WebhookSignatureError(f"signed body is not a billing event: {type(err).__name__}") from None

    def _mac(self, timestamp: int, body: bytes) -> str:
        message = str(timestamp).encode() + b"." + body
        return hmac.new(self._secret.get_secret_value().encode(), message, hashlib.sha256).hexdigest()
