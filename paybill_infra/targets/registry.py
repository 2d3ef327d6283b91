"""Cloud → its target, imported on first use, so a control plane that runs only AWS never imports Azure's SDK
(or needs it installed)."""

from __future__ import annotations

import importlib

from paybill_infra.schema.enums import Cloud
from paybill_infra.targets.base import Target, TargetSettings

_CLASSES: dict[Cloud, str] = {
    Cloud.LOCAL: "paybill_infra.targets.local:LocalTarget",
    Cloud.AWS: "paybill_infra.targets.aws:AwsTarget",
    Cloud.AZURE: "paybill_infra.targets.azure:AzureTarget",
    Cloud.GCP: "paybill_infra.targets.gcp:GcpTarget",
    Cloud.OCI: "paybill_infra.targets.oci:OciTarget",
    Cloud.IBM: "paybill_infra.targets.ibm:IbmTarget",
}


def target_for(cloud: Cloud, settings: TargetSettings) -> Target:
    """The target of ``cloud``, validated (regions, required platform settings).

    Raises :class:`~paybill_infra.clouds.errors.CloudSdkMissingError` (naming the pip extra) when the
    cloud's SDK is missing, and :class:`~paybill_infra.errors.TargetError` for bad settings: both before any
    engine run.
    """
    module, _, name = _CLASSES[cloud].partition(":")
    target: Target = getattr(importlib.import_module(module), name)(settings)
    target.validate()
    return target
