"""The tenant control plane on the Pulumi Automation API (see :mod:`paybill_infra.controlplane.api`).

A product backend embeds :class:`ControlPlane`; the ``paybill tenants`` and ``paybill fleet`` commands
drive the same object.
"""

from paybill_infra.controlplane.api import ControlPlane, ControlPlaneSettings
from paybill_infra.controlplane.billing import (
    BillingAdapter,
    BillingEvent,
    InDatabaseBilling,
    WebhookVerifier,
    allows_provisioning,
    check_transition,
)
from paybill_infra.controlplane.events import EventBus, Subscription
from paybill_infra.controlplane.migration import DataMover, ExportManifest, Placement, PostgresDataMover, Verification
from paybill_infra.controlplane.models import (
    AuditEntry,
    BillingPolicy,
    DriftedResource,
    DriftReport,
    FleetStatus,
    OnboardRequest,
    OperationKind,
    OperationResult,
    OperationStatus,
    PoolView,
    PreviewResult,
    ProgressEvent,
    ProgressPhase,
    RetentionPolicy,
    StackChange,
    StackKind,
    SubscriptionView,
    TenantCredentials,
    TenantState,
    TenantView,
    UsageReport,
)
from paybill_infra.controlplane.stacks import SecretsConfig

__all__ = [
    "AuditEntry",
    "BillingAdapter",
    "BillingEvent",
    "BillingPolicy",
    "ControlPlane",
    "ControlPlaneSettings",
    "DataMover",
    "DriftReport",
    "DriftedResource",
    "EventBus",
    "ExportManifest",
    "FleetStatus",
    "InDatabaseBilling",
    "OnboardRequest",
    "OperationKind",
    "OperationResult",
    "OperationStatus",
    "Placement",
    "PoolView",
    "PostgresDataMover",
    "PreviewResult",
    "ProgressEvent",
    "ProgressPhase",
    "RetentionPolicy",
    "SecretsConfig",
    "StackChange",
    "StackKind",
    "Subscription",
    "SubscriptionView",
    "TenantCredentials",
    "TenantState",
    "TenantView",
    "UsageReport",
    "Verification",
    "WebhookVerifier",
    "allows_provisioning",
    "check_transition",
]
