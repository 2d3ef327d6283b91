"""The Oracle Cloud target: ``paybill_infra.clouds.oci``'s components as the control plane's infrastructure."""

from __future__ import annotations

from paybill_infra.schema.enums import Cloud
from paybill_infra.targets.cloud import CloudTarget


class OciTarget(CloudTarget):
    cloud = Cloud.OCI
    region_argument = "region"
    required_platform_settings = ("tenancy_ocid", "parent_compartment_id")
