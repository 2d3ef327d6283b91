"""``*Args`` of the cloud components validate when they are built: typed errors naming the option and what
was expected (CIDRs, regions, retention, sizes), before any resource or mock exists. Regions can be added by
configuration; ``resolve_topology`` refuses regions no cloud has; a non-pooled plan refuses pool_capacity."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from typing import Any

import pytest

from paybill_infra.catalog import parse_catalog
from paybill_infra.clouds.errors import ConflictingOptionsError, InvalidOptionError
from paybill_infra.clouds.registry import CLOUDS, components_for
from paybill_infra.errors import CatalogError, InvalidInputError, TopologyError, UnknownRegionError
from paybill_infra.schema import Cloud, Tenant
from paybill_infra.schema.regions import EXTRA_REGIONS_ENV, check_region
from paybill_infra.topology import CloudDefaults, resolve_topology

pytest.importorskip("pulumi_aws")


def _aws(**kw: Any) -> Any:
    from paybill_infra.clouds.aws import AwsPlatformArgs

    return AwsPlatformArgs(**{"name": "pool-eu", "region": "eu-west-1", **kw})


def _azure(**kw: Any) -> Any:
    from paybill_infra.clouds.azure import AzurePlatformArgs

    base = {"name": "pool-eu", "location": "westeurope", "subscription_id": "s", "entra_tenant_id": "t"}
    return AzurePlatformArgs(**{**base, **kw})


def _gcp(**kw: Any) -> Any:
    from paybill_infra.clouds.gcp import GcpPlatformArgs

    return GcpPlatformArgs(**{"name": "pool-eu", "project": "p", "region": "europe-west1", **kw})


def _oci(**kw: Any) -> Any:
    from paybill_infra.clouds.oci import OciPlatformArgs

    base = {"name": "pool-eu", "region": "eu-frankfurt-1", "tenancy_ocid": "t", "parent_compartment_id": "c"}
    return OciPlatformArgs(**{**base, **kw})


def _ibm(**kw: Any) -> Any:
    from paybill_infra.clouds.ibm import IbmPlatformArgs

    return IbmPlatformArgs(**{"name": "pool-eu", "region": "eu-de", **kw})


@pytest.mark.parametrize(
    ("build", "kw", "error", "option"),
    [
        (_aws, {"vpc_cidr": "banana"}, InvalidOptionError, "vpc_cidr"),
        (_aws, {"vpc_cidr": "10.40.0.1/16"}, InvalidOptionError, "vpc_cidr"),
        (_aws, {"vpc_cidr": "10.40.0.0/28"}, ConflictingOptionsError, "vpc_cidr"),
        (_aws, {"region": "mars-north-1"}, UnknownRegionError, "mars-north-1"),
        (_aws, {"backup_retention_days": 1}, ConflictingOptionsError, "backup_retention_days"),
        (_azure, {"vnet_cidr": "banana"}, InvalidOptionError, "vnet_cidr"),
        (_azure, {"backup_retention_days": 0}, ConflictingOptionsError, "backup_retention_days"),
        (_azure, {"storage_gb": 1}, InvalidOptionError, "storage_gb"),
        (_gcp, {"subnet_cidr": "10.60.0.0"}, ConflictingOptionsError, "subnet_cidr"),
        (_gcp, {"region": "moon-1"}, UnknownRegionError, "moon-1"),
        (_oci, {"vcn_cidr": "300.1.0.0/16"}, InvalidOptionError, "vcn_cidr"),
        (_oci, {"instances": 0}, ConflictingOptionsError, "instances"),
        (_ibm, {"zone": "us-south-1"}, ConflictingOptionsError, "zone"),
    ],
)
def test_bad_platform_args_fail_at_construction(
    build: Callable[..., Any], kw: dict[str, Any], error: type[Exception], option: str
) -> None:
    with pytest.raises(error, match=option):
        build(**kw)
    assert build() is not None


def test_bad_tenant_args_fail_at_construction() -> None:
    from paybill_infra.clouds.aws import AwsTenantArgs

    with pytest.raises(InvalidOptionError, match="silo_vpc_cidr: expected an IPv4 network"):
        AwsTenantArgs(topology=None, pool=None, silo_vpc_cidr="banana")  # type: ignore[arg-type]


def test_regions_are_extended_by_configuration() -> None:
    with pytest.raises(UnknownRegionError, match="PAYBILL_EXTRA_REGIONS=aws:<region>"):
        check_region(Cloud.AWS, "us-gov-west-1", {})
    assert check_region(Cloud.AWS, "us-gov-west-1", {EXTRA_REGIONS_ENV: "gcp:x, aws:us-gov-west-1"})
    with pytest.raises(UnknownRegionError):
        check_region(Cloud.AZURE, "us-gov-west-1", {EXTRA_REGIONS_ENV: "aws:us-gov-west-1"})
    with pytest.raises(InvalidInputError, match=EXTRA_REGIONS_ENV):
        check_region(Cloud.AWS, "eu-west-1", {EXTRA_REGIONS_ENV: "mars"})


def test_resolve_topology_refuses_a_region_the_cloud_does_not_have(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.unit.test_topology import plan

    mars = CloudDefaults(cloud=Cloud.AWS, region="mars-north-1", allowed_regions=("mars-north-1",))
    tenant = Tenant(slug="acme", display_name="Acme", plan="pro")
    with pytest.raises(TopologyError, match="unknown aws region 'mars-north-1'"):
        resolve_topology(plan(), tenant, mars)
    monkeypatch.setenv(EXTRA_REGIONS_ENV, "aws:mars-north-1")
    assert resolve_topology(plan(), tenant, mars).region == "mars-north-1"


def test_a_silo_plan_with_a_pool_capacity_is_refused() -> None:
    entry = {
        "name": "vip",
        "tier": 9,
        "isolation": "silo",
        "price": {"amount": "1", "currency": "USD"},
        "billing_id": "x",
        "pool_capacity": 10,
    }
    with pytest.raises(CatalogError, match="pool_capacity applies only to pooled isolation, not silo"):
        parse_catalog({"plans": [entry]}, "plans.yaml")
    assert parse_catalog({"plans": [{**entry, "isolation": "pooled"}]}, "plans.yaml")["vip"].pool_capacity == 10


def _help(component: type) -> str:
    import pydoc

    return pydoc.render_doc(component, renderer=pydoc.plaintext)


@pytest.mark.parametrize("cloud", CLOUDS, ids=str)
def test_component_help_lists_inputs_and_outputs(cloud: Cloud) -> None:
    """``help()`` of a cloud's tenant and platform components lists each input field and output attribute,
    not Pulumi's inherited ``__init__`` text."""
    from paybill_infra.contract import TENANT_OUTPUTS

    parts = components_for(cloud)
    tenant = _help(typing.cast(type, parts.tenant))
    assert f"Inputs (``{parts.tenant_args.__name__}``):" in tenant and "topology" in tenant
    assert all(f"{name}: " in tenant for name in TENANT_OUTPUTS)
    assert "Declare the tenant ``name`` from ``args``" in tenant
    platform = _help(typing.cast(type, parts.platform))
    assert "Declare the platform ``name`` from ``args``" in platform
    _assert_documents(typing.cast(type, parts.platform), platform)
    for text in (tenant, platform):
        assert ":param str t:" not in text  # Pulumi's ComponentResource.__init__ text is not what users see


def test_local_platform_help_lists_inputs_and_outputs() -> None:
    from paybill_infra.local.components import LocalPlatform

    _assert_documents(LocalPlatform, _help(LocalPlatform))


def _assert_documents(component: type, text: str) -> None:
    """Every field of the component's args dataclass and every typed attribute is in ``text``."""
    args = typing.get_type_hints(component.__init__)["args"]
    assert f"Inputs (``{args.__name__}``):" in text
    assert all(f"    {f.name}" in text for f in dataclasses.fields(args))
    outputs = inspect.get_annotations(component)
    assert outputs and all(f"    {name}: " in text for name in outputs), outputs
