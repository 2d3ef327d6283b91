"""The Google Cloud target: ``paybill_infra.clouds.gcp``'s components as the control plane's infrastructure."""

from __future__ import annotations

from paybill_infra.schema.enums import Cloud
from paybill_infra.targets.cloud import CloudTarget


class GcpTarget(CloudTarget):
    cloud = Cloud.GCP
    region_argument = "region"
    required_platform_settings = ("project",)
