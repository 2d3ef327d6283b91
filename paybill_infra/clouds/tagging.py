"""One tags transform per component tree: every taggable resource gets the topology's tags.

Components never set tags by hand. Each top-level cloud component (a platform, a silo/pooled/bridge tenant)
installs :func:`tag_transformation` in its own options; Pulumi applies a parent's transformations to every
descendant, so each resource declared beneath it is tagged at registration, including resources a later change
adds. Tags a resource already carries are kept, but the platform's keys (``paybill:*``, ``managed-by``) win.

Clouds differ in how tags are spelled, so the transform also renders them per cloud: AWS and Azure take the keys
as they are; GCP labels allow only ``[a-z0-9_-]`` (``paybill:tenant`` becomes ``paybill_tenant``); OCI takes
freeform tags; IBM takes a list of ``key:value`` strings with one colon.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pulumi

from paybill_infra.schema.enums import Cloud

PropertyPath = tuple[str, ...]

TAGGABLE: dict[Cloud, dict[str, PropertyPath]] = {
    Cloud.AWS: {
        t: ("tags",)
        for t in (
            "aws:kms/key:Key",
            "aws:ec2/vpc:Vpc",
            "aws:ec2/subnet:Subnet",
            "aws:ec2/securityGroup:SecurityGroup",
            "aws:rds/subnetGroup:SubnetGroup",
            "aws:rds/clusterParameterGroup:ClusterParameterGroup",
            "aws:rds/parameterGroup:ParameterGroup",
            "aws:rds/cluster:Cluster",
            "aws:rds/clusterInstance:ClusterInstance",
            "aws:rds/instance:Instance",
            "aws:iam/role:Role",
            "aws:secretsmanager/secret:Secret",
            "aws:s3/bucket:Bucket",
        )
    },
    Cloud.AZURE: {
        t: ("tags",)
        for t in (
            "azure-native:resources:ResourceGroup",
            "azure-native:network:VirtualNetwork",
            "azure-native:privatedns:PrivateZone",
            "azure-native:privatedns:VirtualNetworkLink",
            "azure-native:keyvault:Vault",
            "azure-native:keyvault:Key",
            "azure-native:keyvault:Secret",
            "azure-native:managedidentity:UserAssignedIdentity",
            "azure-native:dbforpostgresql:Server",
        )
    },
    Cloud.GCP: {
        "gcp:kms/cryptoKey:CryptoKey": ("labels",),
        "gcp:compute/globalAddress:GlobalAddress": ("labels",),
        "gcp:secretmanager/secret:Secret": ("labels",),
        "gcp:organizations/project:Project": ("labels",),
        "gcp:sql/databaseInstance:DatabaseInstance": ("settings", "user_labels"),
    },
    Cloud.OCI: {
        t: ("freeform_tags",)
        for t in (
            "oci:Identity/compartment:Compartment",
            "oci:Core/vcn:Vcn",
            "oci:Core/subnet:Subnet",
            "oci:Core/networkSecurityGroup:NetworkSecurityGroup",
            "oci:Kms/vault:Vault",
            "oci:Kms/key:Key",
            "oci:Psql/dbSystem:DbSystem",
            "oci:Identity/dynamicGroup:DynamicGroup",
            "oci:Identity/policy:Policy",
            "oci:Vault/secret:Secret",
            "oci:Limits/quota:Quota",
            "oci:Identity/tagNamespace:TagNamespace",
        )
    },
    Cloud.IBM: {
        t: ("tags",)
        for t in (
            "ibm:index/resourceGroup:ResourceGroup",
            "ibm:index/isVpc:IsVpc",
            "ibm:index/isSubnet:IsSubnet",
            "ibm:index/resourceInstance:ResourceInstance",
            "ibm:index/database:Database",
            "ibm:index/isVirtualEndpointGateway:IsVirtualEndpointGateway",
            "ibm:index/iamAccessGroup:IamAccessGroup",
            "ibm:index/isSecurityGroup:IsSecurityGroup",
        )
    },
}
"""Resource type → where its tags go (a property path in Python names), per cloud. Types not listed have no
tags in their cloud's API (aliases, policies, role assignments, secret versions, random passwords)."""

_GCP_LABEL = re.compile(r"[^a-z0-9_-]")
_IBM_TAG = re.compile(r"[^a-z0-9_.\- ]")


def render_tags(cloud: Cloud, tags: Mapping[str, str]) -> dict[str, str] | list[str]:
    """``tags`` spelled the way ``cloud``'s API accepts them (see the module docstring)."""
    if cloud is Cloud.GCP:
        return {_GCP_LABEL.sub("_", k.lower())[:63]: _GCP_LABEL.sub("_", v.lower())[:63] for k, v in tags.items()}
    if cloud is Cloud.IBM:
        return sorted(f"{_IBM_TAG.sub('-', k.lower())}:{_IBM_TAG.sub('-', v.lower())}"[:128] for k, v in tags.items())
    return dict(tags)


def _merge(existing: Any, ours: dict[str, str] | list[str]) -> Any:
    if isinstance(ours, list):
        return sorted({*(existing or ()), *ours})
    return {**(existing or {}), **ours}


def _merged(existing: pulumi.Input[Any] | None, ours: dict[str, str] | list[str]) -> pulumi.Input[Any]:
    if existing is None or isinstance(existing, dict | list):
        return _merge(existing, ours)
    return pulumi.Output.from_input(existing).apply(lambda value: _merge(value, ours))


def _get(container: Any, key: str) -> Any:
    return container.get(key) if isinstance(container, dict) else pulumi.get(container, key)


def _set(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
    else:
        pulumi.set(container, key, value)


def tag_transformation(
    cloud: Cloud, tags: Mapping[str, str]
) -> Callable[[pulumi.ResourceTransformationArgs], pulumi.ResourceTransformationResult | None]:
    """A transformation that puts ``tags`` on every taggable ``cloud`` resource it sees."""
    rendered = render_tags(cloud, tags)
    paths = TAGGABLE[cloud]

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        path = paths.get(args.type_)
        if path is None:
            return None
        props = dict(args.props)
        *outer, leaf = path
        container: Any = props
        for key in outer:
            container = _get(container, key)
            if container is None:
                return None
        _set(container, leaf, _merged(_get(container, leaf), rendered))
        return pulumi.ResourceTransformationResult(props, args.opts)

    return transform


def with_tags(opts: pulumi.ResourceOptions | None, cloud: Cloud, tags: Mapping[str, str]) -> pulumi.ResourceOptions:
    """``opts`` plus the tags transform: what a top-level cloud component passes to its own constructor."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transformations=[tag_transformation(cloud, tags)]))
