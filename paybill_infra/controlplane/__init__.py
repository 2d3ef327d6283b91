"""The tenant control plane on the Pulumi Automation API (see :mod:`paybill_infra.controlplane.api`).

A product backend embeds :class:`ControlPlane`; the ``paybill tenants`` and ``paybill fleet`` commands
drive the same object.

The names below load on first use (PEP 562): importing one light submodule (the registry's models for a
read, say) must not import the whole control plane, the Automation API and alembic with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paybill_infra._lazy import lazy_exports

if TYPE_CHECKING:
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
    from paybill_infra.controlplane.migration import (
        DataMover,
        ExportManifest,
        Placement,
        PostgresDataMover,
        Verification,
    )
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
        TenantPage,
        TenantQuery,
        TenantState,
        TenantView,
        UsageReport,
    )
    from paybill_infra.controlplane.secrets import SecretsConfig

_WHERE = {
    "ControlPlane": "api",
    "ControlPlaneSettings": "api",
    "BillingAdapter": "billing",
    "BillingEvent": "billing",
    "InDatabaseBilling": "billing",
    "WebhookVerifier": "billing",
    "allows_provisioning": "billing",
    "check_transition": "billing",
    "EventBus": "events",
    "Subscription": "events",
    "DataMover": "migration",
    "ExportManifest": "migration",
    "Placement": "migration",
    "PostgresDataMover": "migration",
    "Verification": "migration",
    "AuditEntry": "models",
    "BillingPolicy": "models",
    "DriftedResource": "models",
    "DriftReport": "models",
    "FleetStatus": "models",
    "OnboardRequest": "models",
    "OperationKind": "models",
    "OperationResult": "models",
    "OperationStatus": "models",
    "PoolView": "models",
    "PreviewResult": "models",
    "ProgressEvent": "models",
    "ProgressPhase": "models",
    "RetentionPolicy": "models",
    "StackChange": "models",
    "StackKind": "models",
    "SubscriptionView": "models",
    "TenantCredentials": "models",
    "TenantPage": "models",
    "TenantQuery": "models",
    "TenantState": "models",
    "TenantView": "models",
    "UsageReport": "models",
    "SecretsConfig": "secrets",
}


__getattr__ = lazy_exports(__name__, _WHERE, globals())


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
    "TenantPage",
    "TenantQuery",
    "TenantState",
    "TenantView",
    "UsageReport",
    "Verification",
    "WebhookVerifier",
    "allows_provisioning",
    "check_transition",
]
