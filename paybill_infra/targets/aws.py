"""The AWS target: ``paybill_infra.clouds.aws``'s components as the control plane's infrastructure."""

from __future__ import annotations

from paybill_infra.schema.enums import Cloud
from paybill_infra.targets.cloud import CloudTarget


class AwsTarget(CloudTarget):
    cloud = Cloud.AWS
    region_argument = "region"
    required_platform_settings = ()
