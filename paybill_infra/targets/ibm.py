"""The IBM Cloud target: ``paybill_infra.clouds.ibm``'s components as the control plane's infrastructure."""

from __future__ import annotations

from paybill_infra.schema.enums import Cloud
from paybill_infra.targets.cloud import CloudTarget


class IbmTarget(CloudTarget):
    cloud = Cloud.IBM
    region_argument = "region"
    required_platform_settings = ()
