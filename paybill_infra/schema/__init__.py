"""The typed schema: plans, tenants, subscriptions and their closed sets."""

from paybill_infra.schema.enums import BillingInterval, Cloud, DatabaseSize, Isolation, SubscriptionStatus
from paybill_infra.schema.identifiers import SLUG_MAX, SLUG_MIN, Slug, is_valid_slug
from paybill_infra.schema.plan import AgentBudgets, Plan, PlanLimits, Price
from paybill_infra.schema.tenant import Subscription, Tenant

__all__ = [
    "SLUG_MAX",
    "SLUG_MIN",
    "AgentBudgets",
    "BillingInterval",
    "Cloud",
    "DatabaseSize",
    "Isolation",
    "Plan",
    "PlanLimits",
    "Price",
    "Slug",
    "Subscription",
    "SubscriptionStatus",
    "Tenant",
    "is_valid_slug",
]
