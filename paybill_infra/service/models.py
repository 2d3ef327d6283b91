"""The service's edge: request and response bodies, and the closed sets they use.

Tenant bodies reuse the control plane's models (:class:`~paybill_infra.controlplane.OnboardRequest`,
:class:`~paybill_infra.controlplane.TenantView`), and an operation's kind and status are the control plane's
(:class:`~paybill_infra.controlplane.OperationKind`, :class:`~paybill_infra.controlplane.OperationStatus`,
whose ``queued`` is the status before a worker picks it up). What is new here is the operation as the API
shows it, and the principal that made it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from paybill_infra.controlplane import (
    DriftReport,
    FleetStatus,
    OperationKind,
    OperationStatus,
    SubscriptionView,
    TenantView,
)
from paybill_infra.schema.enums import Cloud
from paybill_infra.schema.identifiers import PlanName, Region

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    """Sees and changes every tenant; the only role that onboards."""
    TENANT_ADMIN = "tenant_admin"
    """Sees and changes only its own tenant, within what billing allows."""


class Scope(StrEnum):
    TENANTS_READ = "tenants:read"
    TENANTS_WRITE = "tenants:write"
    OPERATIONS_READ = "operations:read"
    OPS_READ = "ops:read"
    OPS_WRITE = "ops:write"


class Principal(BaseModel):
    """Who is calling (from an API key or a JWT): never carries the credential itself."""

    model_config = _FROZEN

    subject: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@/-]+$")]
    role: Role
    tenant: str | None = None
    scopes: frozenset[Scope]

    @property
    def actor(self) -> str:
        """The name written to the journal and the audit log."""
        return f"{self.role.value}:{self.subject}"


class ApiKeyView(BaseModel):
    """An API key as listed for operators: who and what it grants, never its secret or digest."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    subject: str
    role: Role
    tenant: str | None
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


class PlanChange(BaseModel):
    model_config = _FROZEN

    plan: PlanName


class Move(BaseModel):
    """Where to move a tenant: another cloud, another region of it, or both (``region`` defaults to the
    target's default region)."""

    model_config = _FROZEN

    cloud: Cloud
    region: Region | None = None


class Reason(BaseModel):
    model_config = _FROZEN

    reason: Annotated[str, Field(max_length=200)] = ""


class OperationView(BaseModel):
    """An asynchronous operation: ``GET /operations/{id}`` until ``status`` is terminal.

    ``id`` is the one id of the operation everywhere: the control plane's journal entry, its events and its
    audit records carry it too. ``worker`` is the worker (``name@host:pid``) that ran the latest attempt;
    ``summary`` holds counts, stacks and paths (never outputs or credentials)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    kind: OperationKind
    tenant: str | None
    actor: str
    status: OperationStatus
    phase: str
    worker: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    summary: dict[str, Any]
    error: str | None
    deduplicated: bool = False


class WebhookAccepted(BaseModel):
    """A verified billing event: the subscription after it, and the operation it triggered, if any."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    subscription: SubscriptionView
    operation: OperationView | None


class ProblemField(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``); ``errors`` names each failing field."""

    model_config = ConfigDict(frozen=True)

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: tuple[ProblemField, ...] = ()


class OpsSummary(BaseModel):
    """What an on-call engineer looks at first: the fleet, recent operations, the last drift check."""

    model_config = ConfigDict(frozen=True)

    fleet: FleetStatus
    tenants: tuple[TenantView, ...]
    operations: tuple[OperationView, ...]
    queue: dict[str, int]
    last_drift: OperationView | None
    drift: DriftReport | None
