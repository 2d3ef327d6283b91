"""The AWS target: ``paybill_infra.clouds.aws``'s components as the control plane's infrastructure."""

from __future__ import annotations

from paybill_infra.schema.enums import Cloud
from paybill_infra.targets.cloud import CloudTarget


class AwsTarget(CloudTarget):
    cloud = Cloud.AWS
    default_region_name = "eu-west-1"
    region_argument = "region"
    required_platform_settings = ()
