"""The regions each cloud component accepts (pure data and checks: no Pulumi, so topology resolution uses them).

Checked before any resource is declared, so a typo (``eu-west-9``) fails with the list of valid regions instead
of half a stack created and a provider error minutes later. The lists are the public regions that offer the
managed PostgreSQL service each cloud component uses. A region opened since (or a sovereign or government
region) is added by configuration, without a release: ``PAYBILL_EXTRA_REGIONS=aws:us-gov-west-1,gcp:me-central2``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType

from paybill_infra.errors import FieldProblem, InvalidInputError, UnknownRegionError
from paybill_infra.schema.enums import Cloud

EXTRA_REGIONS_ENV = "PAYBILL_EXTRA_REGIONS"

REGIONS: dict[Cloud, frozenset[str]] = {
    Cloud.AWS: frozenset(
        {
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "ca-central-1",
            "sa-east-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "me-central-1",
            "af-south-1",
        }
    ),
    Cloud.AZURE: frozenset(
        {
            "eastus",
            "eastus2",
            "westus2",
            "westus3",
            "centralus",
            "northcentralus",
            "southcentralus",
            "canadacentral",
            "brazilsouth",
            "northeurope",
            "westeurope",
            "uksouth",
            "francecentral",
            "germanywestcentral",
            "swedencentral",
            "switzerlandnorth",
            "norwayeast",
            "australiaeast",
            "japaneast",
            "koreacentral",
            "southeastasia",
            "centralindia",
            "uaenorth",
            "southafricanorth",
        }
    ),
    Cloud.GCP: frozenset(
        {
            "us-central1",
            "us-east1",
            "us-east4",
            "us-west1",
            "us-west2",
            "northamerica-northeast1",
            "southamerica-east1",
            "europe-west1",
            "europe-west2",
            "europe-west3",
            "europe-west4",
            "europe-west6",
            "europe-north1",
            "europe-central2",
            "asia-east1",
            "asia-northeast1",
            "asia-south1",
            "asia-southeast1",
            "australia-southeast1",
            "me-west1",
        }
    ),
    Cloud.OCI: frozenset(
        {
            "us-ashburn-1",
            "us-phoenix-1",
            "us-chicago-1",
            "us-sanjose-1",
            "ca-toronto-1",
            "sa-saopaulo-1",
            "eu-frankfurt-1",
            "eu-amsterdam-1",
            "eu-paris-1",
            "eu-madrid-1",
            "eu-stockholm-1",
            "uk-london-1",
            "ap-tokyo-1",
            "ap-osaka-1",
            "ap-sydney-1",
            "ap-mumbai-1",
            "ap-singapore-1",
            "me-dubai-1",
        }
    ),
    Cloud.IBM: frozenset(
        {
            "us-south",
            "us-east",
            "ca-tor",
            "br-sao",
            "eu-gb",
            "eu-de",
            "eu-es",
            "jp-tok",
            "jp-osa",
            "au-syd",
        }
    ),
}


BUILTIN_REGIONS: MappingProxyType[Cloud, str] = MappingProxyType(
    {
        Cloud.LOCAL: "local",
        Cloud.AWS: "eu-west-1",
        Cloud.AZURE: "westeurope",
        Cloud.GCP: "europe-west1",
        Cloud.OCI: "eu-frankfurt-1",
        Cloud.IBM: "eu-de",
    }
)
"""Where each cloud's target puts tenants when its settings name no region (data, so a process that builds
no target, the product backend's API, knows it too)."""


def known_regions(cloud: Cloud, environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The regions ``cloud`` accepts: the built-in list plus ``PAYBILL_EXTRA_REGIONS`` entries for it."""
    extra = (os.environ if environ is None else environ).get(EXTRA_REGIONS_ENV, "")
    added: set[str] = set()
    for entry in filter(None, (e.strip() for e in extra.split(","))):
        name, sep, region = entry.partition(":")
        if not sep or not region or name not in {c.value for c in REGIONS}:
            clouds = ", ".join(sorted(c.value for c in REGIONS))
            raise InvalidInputError(
                EXTRA_REGIONS_ENV, [FieldProblem(entry, f"expected <cloud>:<region> with cloud one of: {clouds}")]
            )
        if name == cloud.value:
            added.add(region)
    return REGIONS.get(cloud, frozenset()) | added


def check_region(cloud: Cloud, region: str, environ: Mapping[str, str] | None = None) -> str:
    """Return ``region`` when ``cloud`` has it; raise :class:`UnknownRegionError` otherwise."""
    known = known_regions(cloud, environ)
    if region not in known:
        raise UnknownRegionError(str(cloud), region, tuple(known))
    return region
