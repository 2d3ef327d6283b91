"""The control plane's edge: typed requests it accepts, results it returns, and the closed sets they use.

Requests are validated here (frozen pydantic models, constrained fields), before any lock is taken or any
stack touched; a failure becomes :class:`~paybill_infra.errors.InvalidInputError` naming the field. Results
are frozen too and hold no secret except :class:`TenantCredentials`, whose password is a ``SecretStr``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from paybill_infra._validation import problems_from
from paybill_infra.errors import InvalidInputError
from paybill_infra.schema.enums import Cloud, Isolation, SubscriptionStatus
from paybill_infra.schema.identifiers import DisplayName, PlanName, Region, Slug, TagKey, TagValue
from paybill_infra.targets.base import StackResource

_FROZEN = ConfigDict(frozen=True, extra="forbid")
Actor = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@/-]+$")]
IdempotencyKey = Annotated[str, Field(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]
M = TypeVar("M", bound=BaseModel)


class TenantState(StrEnum):
    """A tenant's lifecycle. ``provisioning``/``migrating``/``offboarding`` are held only while an operation
    runs (a crash leaves them behind, and recovery finishes or rolls them back)."""

    PROVISIONING = "provisioning"
    ACTIVE = "active"
    MIGRATING = "migrating"
    SUSPENDED = "suspended"
    OFFBOARDING = "offboarding"
    OFFBOARDED = "offboarded"
    FAILED = "failed"


class OperationKind(StrEnum):
    """What an operation does: the tenant operations, a fleet convergence, and a drift check (queued by the
    product backend like any other operation)."""

    ONBOARD = "onboard"
    CHANGE_PLAN = "change_plan"
    MOVE = "move"
    SUSPEND = "suspend"
    RESUME = "resume"
    OFFBOARD = "offboard"
    CONVERGE = "converge"
    DRIFT = "drift"


class OperationStatus(StrEnum):
    QUEUED = "queued"
    """Accepted by the product backend, waiting for a worker (the control plane itself never queues)."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    """The operation failed and was undone: the tenant is as it was before."""


TERMINAL_STATUSES = frozenset({OperationStatus.SUCCEEDED, OperationStatus.FAILED, OperationStatus.ROLLED_BACK})
UNSUCCESSFUL_STATUSES = frozenset({OperationStatus.FAILED, OperationStatus.ROLLED_BACK})


class StackKind(StrEnum):
    PLATFORM = "platform"
    """The shared database of bridge tenants."""
    POOL = "pool"
    """A stack of a pool (a database shared by up to ``Plan.pool_capacity`` pooled tenants of one plan): the
    pool's own stack, which holds the database, or one of its shards."""
    TENANT = "tenant"
    """A silo or bridge tenant's own stack."""


class RetentionPolicy(StrEnum):
    """What offboarding keeps: an export of the tenant's rows (default), or nothing at all."""

    EXPORT = "export"
    NONE = "none"


class ProgressPhase(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    RESOURCE = "resource"
    STEP = "step"
    FINISHED = "finished"
    FAILED = "failed"


def validate(model: type[M], data: object, source: str) -> M:
    """Validate ``data`` as ``model`` or raise :class:`InvalidInputError` naming ``source`` and the fields."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise InvalidInputError(source, problems_from(err)) from None


class OnboardRequest(BaseModel):
    """A new tenant. ``subscription`` defaults to a trial; a canceled one is refused (billing gate)."""

    model_config = _FROZEN

    slug: Slug
    display_name: DisplayName
    plan: PlanName
    subscription: SubscriptionStatus = SubscriptionStatus.TRIALING
    cloud: Cloud | None = None
    """The target to run on; ``None``: the control plane's default cloud."""
    region: Region | None = None
    """The region of that target; ``None``: the target's default region."""
    tags: Annotated[dict[TagKey, TagValue], Field(max_length=40)] = {}
    external_billing_id: Annotated[str, Field(max_length=128, pattern=r"^[A-Za-z0-9_.:-]*$")] = ""


class UsageReport(BaseModel):
    """Usage the product backend reports; downgrades are checked against it."""

    model_config = _FROZEN

    seats: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    storage_gb: Annotated[int, Field(ge=0, le=1_000_000)] = 0


class OperationResult(BaseModel):
    """The journal entry of one operation. ``deduplicated`` is true when an identical earlier request (same
    idempotency key, or the same onboarding) answered instead of a new run. Built from a journal row by
    ``model_validate(row)`` (``from_attributes``). ``tenant`` is ``None`` only for a fleet-wide drift check."""

    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)

    id: str
    kind: OperationKind
    tenant: str | None
    actor: str
    status: OperationStatus
    phase: str
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    summary: dict[str, Any]
    error: str | None
    deduplicated: bool = False

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SubscriptionView(BaseModel):
    model_config = _FROZEN

    status: SubscriptionStatus
    plan: str
    period_end: datetime | None
    past_due_since: datetime | None
    canceled_at: datetime | None


class TenantView(BaseModel):
    """What the registry knows about one tenant (no credentials: see :class:`TenantCredentials`)."""

    model_config = _FROZEN

    slug: str
    display_name: str
    plan: str
    isolation: Isolation
    cloud: Cloud
    region: str
    state: TenantState
    stack: str | None
    pool: str | None
    role: str | None
    database: str | None
    schema_name: str | None
    suspended: bool
    subscription: SubscriptionView | None
    seats_used: int
    storage_gb_used: int
    created_at: datetime
    updated_at: datetime


MAX_PAGE = 1000


class TenantQuery(BaseModel):
    """Which tenants to list: filters, and a page of at most ``limit`` tenants after ``cursor`` (the last slug
    of the previous page; keyset pagination, so a page costs the same wherever it starts)."""

    model_config = _FROZEN

    state: TenantState | None = None
    plan: PlanName | None = None
    cloud: Cloud | None = None
    cursor: Slug | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] | None = None


class TenantPage(BaseModel):
    """One page of tenants, in slug order; ``next_cursor`` is ``None`` on the last page."""

    model_config = _FROZEN

    tenants: list[TenantView]
    next_cursor: str | None


class TenantCredentials(BaseModel):
    """How the product backend connects as the tenant. The password never leaves as plain text by accident."""

    model_config = _FROZEN

    tenant: str
    host: str
    port: int
    database: str
    schema_name: str
    user: str
    password: SecretStr


class StackChange(BaseModel):
    """One engine operation on one stack: what it did (or, for a preview, would do)."""

    model_config = _FROZEN

    stack: str
    operation: str
    changes: dict[str, int]
    resources: tuple[StackResource, ...] = ()
    """Per resource, what the run did or would do (filled for infrastructure stacks and offline reviews)."""

    @property
    def changed(self) -> int:
        return sum(n for op, n in self.changes.items() if op != "same")


class PreviewResult(BaseModel):
    """A dry run of a plan change (or an onboarding): the resource diff per stack, whether data would move,
    and the monthly price delta."""

    model_config = _FROZEN

    tenant: str
    from_plan: str | None
    to_plan: str
    migration: bool
    stacks: tuple[StackChange, ...]
    monthly_price_from: Decimal
    monthly_price_to: Decimal
    currency: str

    @property
    def monthly_price_delta(self) -> Decimal:
        return self.monthly_price_to - self.monthly_price_from


class DriftedResource(BaseModel):
    model_config = _FROZEN

    stack: str
    urn: str
    type: str
    fields: tuple[str, ...]
    """The deviations the provider saw (``login``, ``password``, ``rls:customers``...), or ``deleted``."""


class DriftReport(BaseModel):
    model_config = _FROZEN

    stacks: tuple[StackChange, ...]
    drifted: tuple[DriftedResource, ...]

    @property
    def clean(self) -> bool:
        return not self.drifted


class PoolView(BaseModel):
    model_config = _FROZEN

    stack: str
    plan: str
    cloud: Cloud
    region: str
    database: str
    capacity: int
    members: int
    shards: tuple[str, ...] = ()
    """The pool's further stacks beside ``stack`` (each holds up to ``pool_shard_size`` members)."""


class FleetStatus(BaseModel):
    model_config = _FROZEN

    tenants: dict[str, int]
    """Count per lifecycle state."""
    stacks: tuple[str, ...]
    pools: tuple[PoolView, ...]
    running: tuple[OperationResult, ...]


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)

    id: int
    at: datetime
    actor: str
    tenant: str | None
    operation_id: str | None
    action: str
    detail: dict[str, Any]


class ProgressEvent(BaseModel):
    """A structured progress event: engine events per resource, and operation milestones."""

    model_config = _FROZEN

    at: datetime
    operation_id: str | None
    tenant: str | None
    stack: str | None
    phase: ProgressPhase
    message: str
    resource_type: str | None = None
    resource_name: str | None = None
    op: str | None = None


class BillingPolicy(BaseModel):
    """How long ``past_due`` is tolerated before the tenant is suspended, and how long a canceled tenant's
    infrastructure is kept before it is offboarded."""

    model_config = _FROZEN

    grace_period: Annotated[timedelta, Field(ge=timedelta(0))] = timedelta(days=7)
    retention: Annotated[timedelta, Field(ge=timedelta(0))] = timedelta(days=30)
