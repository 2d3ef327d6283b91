"""Typed bindings for the IBM Cloud resources Paybill uses, registered as the parameterized package that
``pulumi package add terraform-provider ibm-cloud/ibm`` generates.

IBM Cloud has no Pulumi SDK on PyPI; Pulumi reaches it through the *Any Terraform Provider* plugin
(``terraform-provider``), parameterized with the IBM Terraform provider. A generated SDK registers that
package with the engine once (``RegisterPackage``: base provider name and version, plus the parameterization:
package name ``ibm``, its version, and the parameter value) and passes the returned package reference with every
resource. These bindings do the same, so they run against the real plugin unchanged: the engine loads
``terraform-provider`` at :data:`BASE_PROVIDER_VERSION`, which fetches the IBM provider at :data:`IBM_VERSION`.

Type tokens follow the bridge's single-module rule: ``ibm_is_vpc`` is ``ibm:index/isVpc:IsVpc``. Inputs are
sent under their Pulumi (camelCase) names; outputs are read back as snake_case attributes.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi.runtime.settings import register_package

BASE_PROVIDER = "terraform-provider"
BASE_PROVIDER_VERSION = "1.0.2"
IBM_PACKAGE = "ibm"
IBM_VERSION = "1.86.1"
IBM_SOURCE = "registry.opentofu.org/ibm-cloud/ibm"
PARAMETER = base64.b64encode(
    json.dumps({"remote": {"url": IBM_SOURCE, "version": IBM_VERSION}}, separators=(",", ":")).encode()
).decode()
"""The parameter value the terraform-provider plugin receives: which Terraform provider, at which version."""

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


async def package_ref() -> str | None:
    """Register the parameterized IBM package once per deployment and return the engine's reference to it."""
    return await register_package(BASE_PROVIDER, BASE_PROVIDER_VERSION, "", IBM_PACKAGE, IBM_VERSION, PARAMETER)


class IbmResource(pulumi.CustomResource):
    """Base of the bindings: registers under the IBM package reference; outputs come back snake_case."""

    def __init__(
        self,
        token: str,
        resource_name: str,
        props: Mapping[str, Any],
        opts: pulumi.ResourceOptions | None,
        outputs: Sequence[str] = (),
    ) -> None:
        body: dict[str, Any] = {k: v for k, v in props.items() if v is not None}
        body.update({name: None for name in outputs if name not in body})
        super().__init__(token, resource_name, body, opts, package_ref=package_ref())

    def translate_output_property(self, prop: str) -> str:
        return _CAMEL.sub("_", prop).lower()


Tags = pulumi.Input[Sequence[pulumi.Input[str]]]


class ResourceGroup(IbmResource):
    """``ibm_resource_group``."""

    crn: pulumi.Output[str]

    def __init__(
        self, resource_name: str, *, name: str, tags: Tags | None = None, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            "ibm:index/resourceGroup:ResourceGroup", resource_name, {"name": name, "tags": tags}, opts, ["crn"]
        )


class IsVpc(IbmResource):
    """``ibm_is_vpc``: a VPC (address prefixes per zone managed by IBM)."""

    crn: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        resource_group: pulumi.Input[str],
        tags: Tags | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            "ibm:index/isVpc:IsVpc",
            resource_name,
            {
                "name": name,
                "resourceGroup": resource_group,
                "addressPrefixManagement": "auto",
                "classicAccess": False,
                "tags": tags,
            },
            opts,
            ["crn"],
        )


class IsSubnet(IbmResource):
    """``ibm_is_subnet``: a subnet with no public gateway."""

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        vpc: pulumi.Input[str],
        zone: str,
        resource_group: pulumi.Input[str],
        total_ipv4_address_count: int = 256,
        tags: Tags | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            "ibm:index/isSubnet:IsSubnet",
            resource_name,
            {
                "name": name,
                "vpc": vpc,
                "zone": zone,
                "resourceGroup": resource_group,
                "totalIpv4AddressCount": total_ipv4_address_count,
                "tags": tags,
            },
            opts,
        )


class IsSecurityGroup(IbmResource):
    """``ibm_is_security_group``."""

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        vpc: pulumi.Input[str],
        resource_group: pulumi.Input[str],
        tags: Tags | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            "ibm:index/isSecurityGroup:IsSecurityGroup",
            resource_name,
            {
                "name": name,
                "vpc": vpc,
                "resourceGroup": resource_group,
                "tags": tags,
            },
            opts,
        )


class IsSecurityGroupRule(IbmResource):
    """``ibm_is_security_group_rule``: one inbound TCP port range from ``remote`` (a CIDR)."""

    def __init__(
        self,
        resource_name: str,
        *,
        group: pulumi.Input[str],
        remote: str,
        port: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            "ibm:index/isSecurityGroupRule:IsSecurityGroupRule",
            resource_name,
            {
                "group": group,
                "direction": "inbound",
                "remote": remote,
                "tcp": {"portMin": port, "portMax": port},
            },
            opts,
        )


class ResourceInstance(IbmResource):
    """``ibm_resource_instance``: a service instance (here Key Protect, service ``kms``)."""

    guid: pulumi.Output[str]
    crn: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        service: str,
        plan: str,
        location: str,
        resource_group_id: pulumi.Input[str],
        parameters: Mapping[str, str] | None = None,
        tags: Tags | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            "ibm:index/resourceInstance:ResourceInstance",
            resource_name,
            {
                "name": name,
                "service": service,
                "plan": plan,
                "location": location,
                "resourceGroupId": resource_group_id,
                "parameters": parameters,
                "tags": tags,
            },
            opts,
            ["guid", "crn"],
        )


class KmsKey(IbmResource):
    """``ibm_kms_key``: a root key (``standardKey`` false) that wraps data keys."""

    crn: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        instance_id: pulumi.Input[str],
        key_name: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            "ibm:index/kmsKey:KmsKey",
            resource_name,
            {
                "instanceId": instance_id,
                "keyName": key_name,
                "standardKey": False,
                "forceDelete": False,
            },
            opts,
            ["crn", "keyId"],
        )


class IamAuthorizationPolicy(IbmResource):
    """``ibm_iam_authorization_policy``: lets one service read keys of one Key Protect instance."""

    def __init__(
        self,
        resource_name: str,
        *,
        source_service_name: str,
        target_service_name: str,
        target_resource_instance_id: pulumi.Input[str],
        roles: Sequence[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            "ibm:index/iamAuthorizationPolicy:IamAuthorizationPolicy",
            resource_name,
            {
                "sourceServiceName": source_service_name,
                "targetServiceName": target_service_name,
                "targetResourceInstanceId": target_resource_instance_id,
                "roles": list(roles),
            },
            opts,
        )


class Database(IbmResource):
    """``ibm_database``: a Databases for PostgreSQL deployment."""

    guid: pulumi.Output[str]
    crn: pulumi.Output[str]
    connectionstrings: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        plan: str,
        location: str,
        resource_group_id: pulumi.Input[str],
        version: str,
        adminpassword: pulumi.Input[str],
        key_protect_key: pulumi.Input[str],
        backup_encryption_key_crn: pulumi.Input[str],
        host_flavor: str,
        members: int,
        disk_mb: int,
        service_endpoints: str = "private",
        users: Sequence[Mapping[str, pulumi.Input[str]]] = (),
        tags: Tags | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            "ibm:index/database:Database",
            resource_name,
            {
                "name": name,
                "service": "databases-for-postgresql",
                "plan": plan,
                "location": location,
                "resourceGroupId": resource_group_id,
                "version": version,
                "adminpassword": adminpassword,
                "keyProtectKey": key_protect_key,
                "backupEncryptionKeyCrn": backup_encryption_key_crn,
                "serviceEndpoints": service_endpoints,
                "groups": [
                    {
                        "groupId": "member",
                        "hostFlavor": {"id": host_flavor},
                        "members": {"allocationCount": members},
                        "disk": {"allocationMb": disk_mb},
                    }
                ],
                "users": [dict(u) for u in users] or None,
                "tags": tags,
            },
            pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(additional_secret_outputs=["adminpassword", "users"])
            ),
            ["guid", "crn", "connectionstrings"],
        )


class IsVirtualEndpointGateway(IbmResource):
    """``ibm_is_virtual_endpoint_gateway``: a private endpoint in a VPC subnet for a cloud service (by CRN)."""

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        vpc: pulumi.Input[str],
        subnet: pulumi.Input[str],
        target_crn: pulumi.Input[str],
        resource_group: pulumi.Input[str],
        tags: Tags | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            "ibm:index/isVirtualEndpointGateway:IsVirtualEndpointGateway",
            resource_name,
            {
                "name": name,
                "vpc": vpc,
                "resourceGroup": resource_group,
                "target": {"crn": target_crn, "resourceType": "provider_cloud_service"},
                "ips": [{"subnet": subnet, "name": f"{name}-ip"}],
                "tags": tags,
            },
            opts,
        )


class IamAccessGroup(IbmResource):
    """``ibm_iam_access_group``."""

    def __init__(
        self,
        resource_name: str,
        *,
        name: str,
        description: str,
        tags: Tags | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            "ibm:index/iamAccessGroup:IamAccessGroup",
            resource_name,
            {
                "name": name,
                "description": description,
                "tags": tags,
            },
            opts,
        )


class IamAccessGroupPolicy(IbmResource):
    """``ibm_iam_access_group_policy``: roles on one service instance for one access group."""

    def __init__(
        self,
        resource_name: str,
        *,
        access_group_id: pulumi.Input[str],
        roles: Sequence[str],
        service: str,
        resource_instance_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            "ibm:index/iamAccessGroupPolicy:IamAccessGroupPolicy",
            resource_name,
            {
                "accessGroupId": access_group_id,
                "roles": list(roles),
                "resources": {"service": service, "resourceInstanceId": resource_instance_id},
            },
            opts,
        )
