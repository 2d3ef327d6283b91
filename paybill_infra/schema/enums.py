"""Closed sets of the schema: isolation models, clouds, size classes, billing states."""

from __future__ import annotations

from enum import StrEnum


class Isolation(StrEnum):
    """How a tenant's data and compute are separated from other tenants'."""

    SILO = "silo"
    """Dedicated infrastructure per tenant."""
    POOLED = "pooled"
    """Shared infrastructure; rows are separated by tenant id and row-level security."""
    BRIDGE = "bridge"
    """Shared network and compute, a dedicated database or schema."""


class Cloud(StrEnum):
    AWS = "aws"
    AZURE = "azure"
    GCP = "gcp"
    OCI = "oci"
    IBM = "ibm"
    LOCAL = "local"


class DatabaseSize(StrEnum):
    """A cloud-neutral database size class; each cloud maps it to an instance class."""

    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    XLARGE = "xlarge"


class BillingInterval(StrEnum):
    MONTH = "month"
    YEAR = "year"


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    SUSPENDED = "suspended"
