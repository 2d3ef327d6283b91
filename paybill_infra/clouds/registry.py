"""Cloud → its components, imported on first use so that one cloud's SDK is all a user installs."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

import pulumi

from paybill_infra.contract import TenantComponent
from paybill_infra.schema.enums import Cloud


class PlatformClass(Protocol):
    """A cloud's pool component class: ``(name, <Cloud>PlatformArgs, opts)``."""

    __name__: str

    def __call__(
        self, name: str, args: Any, opts: pulumi.ResourceOptions | None = None
    ) -> pulumi.ComponentResource: ...


class TenantClass(Protocol):
    """A cloud's tenant component class: ``(name, <Cloud>TenantArgs, opts)``."""

    __name__: str

    def __call__(self, name: str, args: Any, opts: pulumi.ResourceOptions | None = None) -> TenantComponent: ...


@dataclass(frozen=True)
class CloudComponents:
    """The pool component and the tenant component of one cloud, with their args classes."""

    cloud: Cloud
    platform: PlatformClass
    platform_args: type
    tenant: TenantClass
    tenant_args: type


_PREFIX = {Cloud.AWS: "Aws", Cloud.AZURE: "Azure", Cloud.GCP: "Gcp", Cloud.OCI: "Oci", Cloud.IBM: "Ibm"}

CLOUDS: tuple[Cloud, ...] = tuple(_PREFIX)
"""The clouds with components here (the local target lives in :mod:`paybill_infra.local`)."""


def components_for(cloud: Cloud) -> CloudComponents:
    """Import ``cloud``'s package and return its components.

    Raises :class:`~paybill_infra.clouds.errors.CloudSdkMissingError` (naming the pip extra) when its SDK is
    missing, and :class:`KeyError` for the local target, which has no cloud components.
    """
    prefix = _PREFIX[cloud]
    module = importlib.import_module(f"paybill_infra.clouds.{cloud.value}")
    return CloudComponents(
        cloud=cloud,
        platform=getattr(module, f"{prefix}Platform"),
        platform_args=getattr(module, f"{prefix}PlatformArgs"),
        tenant=getattr(module, f"{prefix}Tenant"),
        tenant_args=getattr(module, f"{prefix}TenantArgs"),
    )
