"""The typed schema: slugs, plans, tenants, subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from paybill_infra.schema import (
    SLUG_MAX,
    Isolation,
    Plan,
    Price,
    Subscription,
    SubscriptionStatus,
    Tenant,
    is_valid_slug,
)

PRICE = {"amount": "10.00", "currency": "USD"}


def plan(**overrides: object) -> Plan:
    fields: dict[str, object] = {"name": "pro", "tier": 1, "isolation": "pooled", "price": PRICE, "billing_id": "p1"}
    fields.update(overrides)
    return Plan.model_validate(fields)


@pytest.mark.parametrize("slug", ["acme", "a1b", "acme-corp", "x" * SLUG_MAX, "a-b-c-d"])
def test_valid_slugs(slug: str) -> None:
    assert Tenant(slug=slug, display_name="X", plan="pro").slug == slug


@pytest.mark.parametrize(
    "slug",
    [
        "ab",
        "x" * (SLUG_MAX + 1),
        "Acme",
        "1acme",
        "-acme",
        "acme-",
        "ac--me",
        "ac_me",
        "ac.me",
        "ac me",
        "acme'; DROP TABLE tenants; --",
        "acme;rm -rf /",
        "a$(id)",
        "acme`id`",
        'a"b',
        "acmé",
        "acme\n",
        "postgres",
        "public",
        "pg-catalog",
        "xn--acme",
        "googacme",
        "template1",
    ],
)
def test_invalid_slugs_are_rejected_with_the_field_named(slug: str) -> None:
    with pytest.raises(ValidationError) as info:
        Tenant(slug=slug, display_name="X", plan="pro")
    assert info.value.errors()[0]["loc"] == ("slug",)
    assert not is_valid_slug(slug)


@given(st.from_regex(r"[a-z][a-z0-9]{2,20}(-[a-z0-9]{1,8}){0,2}", fullmatch=True))
def test_is_valid_slug_agrees_with_the_model(slug: str) -> None:
    try:
        Tenant(slug=slug, display_name="X", plan="pro")
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == is_valid_slug(slug)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("limits", {"seats": -1}),
        ("limits", {"storage_gb": 0}),
        ("limits", {"agents": {"max_rows_per_call": -5}}),
        ("price", {"amount": "-1", "currency": "USD"}),
        ("price", {"amount": "1", "currency": "usd"}),
        ("tier", -1),
        ("isolation", "shared"),
        ("pool_capacity", 0),
        ("name", "Pro Plan"),
        ("features", ["sso", "sso"]),
    ],
)
def test_bad_plan_fields_are_rejected(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        plan(**{field: value})
    assert info.value.errors()[0]["loc"][0] == field


def test_dedicated_server_only_for_bridge() -> None:
    assert plan(isolation="bridge", dedicated_server=True).dedicated_server
    with pytest.raises(ValidationError, match="dedicated_server applies only to bridge"):
        plan(isolation="silo", dedicated_server=True)


def test_plans_are_frozen_and_features_sorted() -> None:
    p = plan(features=["sso", "audit"])
    assert p.features == ("audit", "sso")
    with pytest.raises(ValidationError):
        p.tier = 5  # type: ignore[misc]


def test_yearly_price_normalises_to_monthly() -> None:
    assert Price(amount=Decimal("1200"), currency="EUR", interval="year").monthly() == Decimal("100.00")


def test_reserved_and_malformed_tags_are_rejected() -> None:
    with pytest.raises(ValidationError, match="reserved"):
        Tenant(slug="acme", display_name="A", plan="pro", tags={"paybill:tenant": "x"})
    with pytest.raises(ValidationError):
        Tenant(slug="acme", display_name="A", plan="pro", tags={"Bad Key": "x"})
    with pytest.raises(ValidationError):
        Tenant(slug="acme", display_name="A\x1b[31m", plan="pro")


def test_subscription_allows_provisioning_only_when_trialing_or_active() -> None:
    now = datetime.now(UTC)
    later = now + timedelta(days=30)
    for status in SubscriptionStatus:
        sub = Subscription(tenant="acme", plan="pro", status=status, period_end=later)
        assert sub.allows_provisioning(now) is (status in (SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE))
    expired = Subscription(tenant="acme", plan="pro", status="active", period_end=now - timedelta(days=1))
    assert not expired.allows_provisioning(now)
    with pytest.raises(ValidationError):
        Subscription(tenant="acme", plan="pro", status="active", period_end=datetime(2030, 1, 1))


def test_isolation_is_a_closed_set() -> None:
    assert {i.value for i in Isolation} == {"silo", "pooled", "bridge"}
