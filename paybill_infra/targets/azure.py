"""The Azure target: ``paybill_infra.clouds.azure``'s components as the control plane's infrastructure."""

from __future__ import annotations

from paybill_infra.schema.enums import Cloud
from paybill_infra.targets.cloud import CloudTarget


class AzureTarget(CloudTarget):
    cloud = Cloud.AZURE
    region_argument = "location"
    required_platform_settings = ("subscription_id", "entra_tenant_id")
