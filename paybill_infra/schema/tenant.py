"""Tenants and their subscriptions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from paybill_infra.schema.enums import Cloud, SubscriptionStatus
from paybill_infra.schema.identifiers import DisplayName, PlanName, Region, Slug, TagKey, TagValue

_FROZEN = ConfigDict(frozen=True, extra="forbid")

RESERVED_TAG_PREFIX = "paybill:"
MAX_TAGS = 40


class Tenant(BaseModel):
    """A customer of the SaaS. ``cloud``/``region`` of ``None`` take the stack's defaults."""

    model_config = _FROZEN

    slug: Slug
    display_name: DisplayName
    plan: PlanName
    cloud: Cloud | None = None
    region: Region | None = None
    tags: Annotated[dict[TagKey, TagValue], Field(max_length=MAX_TAGS)] = {}

    @field_validator("tags")
    @classmethod
    def _no_reserved_tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key.startswith(RESERVED_TAG_PREFIX) or key == "managed-by":
                raise ValueError(f"tag '{key}' is reserved: the platform sets it")
        return dict(sorted(value.items()))


class Subscription(BaseModel):
    """A tenant's billing state. Provisioning and upgrades need ``trialing`` or ``active``."""

    model_config = _FROZEN

    tenant: Slug
    plan: PlanName
    status: SubscriptionStatus
    period_end: AwareDatetime

    def allows_provisioning(self, now: datetime) -> bool:
        return self.status in (SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE) and now <= self.period_end
