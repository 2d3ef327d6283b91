"""Names at the longest legal slug on every cloud, and bad input failing early with typed, readable errors."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from harness import run_program
from scenarios import CLOUDS, LONGEST_SLUG, REGIONS, platform_args, scenario, tenant_program, topology

from paybill_infra.clouds import (
    CloudSdkMissingError,
    ConflictingOptionsError,
    IsolationNotOfferedError,
    TopologyMismatchError,
    UnknownRegionError,
    components_for,
)
from paybill_infra.clouds._sdk import require_sdk
from paybill_infra.schema import SLUG_MAX, Cloud, Isolation
from paybill_infra.topology import Topology

DNS = r"^[a-z]([a-z0-9-]*[a-z0-9])?$"
LABEL = r"^[A-Za-z0-9_-]+$"
NAME_RULES: dict[str, list[tuple[str, int, str]]] = {
    "aws:rds/instance:Instance": [("identifier", 63, DNS), ("dbName", 63, r"^[a-z][a-z0-9_]*$")],
    "aws:rds/subnetGroup:SubnetGroup": [("name", 255, DNS)],
    "aws:iam/role:Role": [("name", 64, LABEL)],
    "aws:s3/bucket:Bucket": [("bucket", 63, DNS)],
    "aws:secretsmanager/secret:Secret": [("name", 512, LABEL)],
    "aws:kms/alias:Alias": [("name", 256, r"^alias/[A-Za-z0-9/_-]+$")],
    "azure-native:resources:ResourceGroup": [("resourceGroupName", 90, LABEL)],
    "azure-native:keyvault:Vault": [("vaultName", 24, DNS)],
    "azure-native:dbforpostgresql:Server": [("serverName", 63, DNS)],
    "azure-native:network:VirtualNetwork": [("virtualNetworkName", 64, LABEL)],
    "azure-native:managedidentity:UserAssignedIdentity": [("resourceName", 128, LABEL)],
    "azure-native:keyvault:Secret": [("secretName", 127, DNS)],
    "gcp:sql/databaseInstance:DatabaseInstance": [("name", 63, DNS)],
    "gcp:serviceaccount/account:Account": [("accountId", 30, DNS)],
    "gcp:compute/network:Network": [("name", 63, DNS)],
    "gcp:kms/keyRing:KeyRing": [("name", 63, LABEL)],
    "gcp:secretmanager/secret:Secret": [("secretId", 255, LABEL)],
    "gcp:sql/user:User": [("name", 63, r"^[a-z][a-z0-9_]*$")],
    "oci:Identity/compartment:Compartment": [("name", 100, LABEL)],
    "oci:Identity/dynamicGroup:DynamicGroup": [("name", 100, LABEL)],
    "oci:Psql/dbSystem:DbSystem": [("displayName", 255, LABEL)],
    "oci:Core/vcn:Vcn": [("dnsLabel", 15, r"^[a-z][a-z0-9]*$")],
    "ibm:index/resourceGroup:ResourceGroup": [("name", 40, LABEL)],
    "ibm:index/database:Database": [("name", 63, DNS)],
    "ibm:index/isVpc:IsVpc": [("name", 63, DNS)],
    "ibm:index/iamAccessGroup:IamAccessGroup": [("name", 100, LABEL)],
}
"""Per resource type: the name property, the service's length limit and character rule."""


def test_longest_slug_is_legal() -> None:
    assert len(LONGEST_SLUG) == SLUG_MAX


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("isolation", [Isolation.SILO, Isolation.BRIDGE])
def test_names_fit_every_service_at_the_longest_slug(cloud: Cloud, isolation: Isolation) -> None:
    run = scenario(cloud, isolation, slug=LONGEST_SLUG, dedicated=isolation is Isolation.BRIDGE)
    checked = 0
    for resource in run.resources:
        for prop, limit, pattern in NAME_RULES.get(resource.type, []):
            value = resource.inputs.get(prop)
            if value is None:
                continue
            checked += 1
            assert len(value) <= limit, (resource.type, prop, value)
            assert re.match(pattern, value), (resource.type, prop, value)
    assert checked >= 3
    assert run.outputs["tenant_id"] == LONGEST_SLUG


def test_long_slugs_stay_distinct() -> None:
    other = LONGEST_SLUG[:-1] + "w"
    first = topology(Cloud.AZURE, Isolation.SILO, slug=LONGEST_SLUG)
    second = topology(Cloud.AZURE, Isolation.SILO, slug=other)
    assert {k: v for k, v in first.names.items() if v == second.names[k]} == {}


@pytest.mark.parametrize("cloud", CLOUDS)
def test_unknown_region_is_refused_before_anything_is_declared(cloud: Cloud) -> None:
    field = "location" if cloud is Cloud.AZURE else "region"
    with pytest.raises(UnknownRegionError) as err:
        run_program(tenant_program(cloud, topology(cloud, Isolation.POOLED), **{field: "mars-north-1"}))
    assert "mars-north-1" in str(err.value) and REGIONS[cloud] in str(err.value)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_isolation_the_pool_does_not_offer(cloud: Cloud) -> None:
    program = tenant_program(cloud, topology(cloud, Isolation.SILO), isolations=(Isolation.POOLED, Isolation.BRIDGE))
    with pytest.raises(IsolationNotOfferedError) as err:
        run_program(program)
    assert err.value.isolation == "silo" and err.value.tenant == "acme"
    assert "offered: pooled, bridge" in str(err.value)


def test_topology_for_another_region_is_refused() -> None:
    topo = topology(Cloud.AWS, Isolation.BRIDGE, region="us-east-1")
    with pytest.raises(TopologyMismatchError, match="aws eu-west-1"):
        run_program(tenant_program(Cloud.AWS, topo))


def test_topology_for_another_cloud_is_refused() -> None:
    topo = topology(Cloud.GCP, Isolation.POOLED)
    with pytest.raises(TopologyMismatchError):
        run_program(tenant_program(Cloud.GCP, replace_cloud(topo, Cloud.AWS)))


def replace_cloud(topo: Topology, cloud: Cloud) -> Topology:
    return topo.model_copy(update={"cloud": cloud})


@pytest.mark.parametrize(
    ("cloud", "overrides", "options"),
    [
        (Cloud.AWS, {"backup_retention_days": 3}, ["backup_retention_days"]),
        (Cloud.AWS, {"zones": ("eu-west-1a", "eu-west-1a")}, ["zones", "region"]),
        (Cloud.AWS, {"vpc_cidr": "10.0.0.0/28"}, ["vpc_cidr"]),
        (Cloud.AZURE, {"backup_retention_days": 1}, ["backup_retention_days"]),
        (Cloud.GCP, {"silo_projects": "folder-only"}, ["silo_projects.folder_id", "silo_projects.billing_account"]),
        (Cloud.OCI, {"instances": 0}, ["instances"]),
        (Cloud.IBM, {"zone": "us-south-1"}, ["zone", "region"]),
    ],
)
def test_conflicting_options(cloud: Cloud, overrides: dict[str, object], options: list[str]) -> None:
    if overrides.get("silo_projects") == "folder-only":
        from paybill_infra.clouds.gcp.platform import GcpSiloProjects

        overrides = {"silo_projects": GcpSiloProjects(folder_id="folders/123")}
    with pytest.raises(ConflictingOptionsError) as err:
        run_program(tenant_program(cloud, topology(cloud, Isolation.POOLED), **overrides))
    assert list(err.value.options) == options
    assert f"paybill:{cloud}:Platform" in str(err.value)


def test_missing_sdk_names_the_pip_extra() -> None:
    with pytest.raises(CloudSdkMissingError) as err:
        require_sdk(Cloud.OCI, "pulumi_oci_that_is_not_installed")
    assert "pip install 'paybill-infra[oci]'" in str(err.value)
    assert isinstance(err.value, ImportError)


def test_registry_returns_each_clouds_components() -> None:
    for cloud in CLOUDS:
        parts = components_for(cloud)
        assert parts.platform.__name__.endswith("Platform") and parts.tenant.__name__.endswith("Tenant")


def test_platform_args_are_plain_data() -> None:
    args = platform_args(Cloud.AWS)
    assert replace(args, name="pool-us").name == "pool-us"


def test_importing_clouds_imports_no_cloud_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, paybill_infra.clouds; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pulumi_aws', 'pulumi_azure_native', 'pulumi_gcp', 'pulumi_oci', 'pulumi_random')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
