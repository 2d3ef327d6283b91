"""Plans: what a tenant buys, and therefore how it is isolated and sized."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from paybill_infra.schema.enums import BillingInterval, DatabaseSize, Isolation
from paybill_infra.schema.identifiers import ExternalId, FeatureKey, PlanName

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class AgentBudgets(BaseModel):
    """Limits for AI agents acting on a tenant's data (enforced by ``agent_acl``)."""

    model_config = _FROZEN

    max_rows_per_call: Annotated[int, Field(ge=1, le=100_000)] = 100
    max_calls_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 60
    statement_timeout_ms: Annotated[int, Field(ge=10, le=600_000)] = 5_000


class PlanLimits(BaseModel):
    """Quantitative limits of a plan. ``seats=None`` means unlimited seats."""

    model_config = _FROZEN

    seats: Annotated[int, Field(ge=1)] | None = None
    storage_gb: Annotated[int, Field(ge=1, le=65_536)] = 10
    database_size: DatabaseSize = DatabaseSize.SMALL
    agents: AgentBudgets = AgentBudgets()


class Price(BaseModel):
    model_config = _FROZEN

    amount: Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
    interval: BillingInterval = BillingInterval.MONTH

    def monthly(self) -> Decimal:
        """The price normalised to one month, for comparing plans billed on different intervals."""
        if self.interval is BillingInterval.YEAR:
            return (self.amount / 12).quantize(Decimal("0.01"))
        return self.amount


class Plan(BaseModel):
    """One entry of the plan catalog.

    ``tier`` ranks plans (higher is more): plan changes to a higher tier are upgrades.
    ``pool_capacity`` is how many pooled tenants share one pool; ``dedicated_server`` asks bridge tenants
    for their own database server instead of a database or schema on the shared one.
    """

    model_config = _FROZEN

    name: PlanName
    tier: Annotated[int, Field(ge=0, le=1000)]
    isolation: Isolation
    limits: PlanLimits = PlanLimits()
    features: tuple[FeatureKey, ...] = ()
    price: Price
    billing_id: ExternalId
    pool_capacity: Annotated[int, Field(ge=1, le=10_000)] = 50
    dedicated_server: bool = False

    @field_validator("features")
    @classmethod
    def _sorted_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("features must not repeat")
        return tuple(sorted(value))

    @model_validator(mode="after")
    def _dedicated_needs_bridge(self) -> Plan:
        if self.dedicated_server and self.isolation is not Isolation.BRIDGE:
            raise ValueError("dedicated_server applies only to bridge isolation (silo is always dedicated)")
        return self

    @model_validator(mode="after")
    def _capacity_needs_pooled(self) -> Plan:
        if "pool_capacity" in self.model_fields_set and self.isolation is not Isolation.POOLED:
            raise ValueError(f"pool_capacity applies only to pooled isolation, not {self.isolation.value}")
        return self
