"""The invariants of Paybill infrastructure, as pure functions over a resource's type and properties.

``__main__`` wires them into a ``pulumi-policy`` pack; tests call them directly. Property names are the wire
(camelCase) names the policy engine hands over. Each rule returns the violations it found (empty when the
resource complies), each a sentence a reviewer can act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from paybill_infra.clouds.tagging import TAGGABLE, render_tags
from paybill_infra.schema.enums import Cloud

REQUIRED_TAGS = ("paybill:tenant", "paybill:plan", "paybill:isolation", "managed-by")
GENERIC_TAG_PROPERTIES = ("tags", "labels", "freeformTags")
CLOUD_COMPONENTS = tuple(c.value for c in TAGGABLE)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _dig(props: Mapping[str, Any], path: Iterable[str]) -> Any:
    value: Any = props
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


PACKAGES = {"aws": Cloud.AWS, "azure-native": Cloud.AZURE, "gcp": Cloud.GCP, "oci": Cloud.OCI, "ibm": Cloud.IBM}


def _cloud_of(resource_type: str) -> Cloud | None:
    return PACKAGES.get(resource_type.split(":", 1)[0])


def _missing_tags(cloud: Cloud | None, tags: Any) -> list[str]:
    """The required tag keys absent from ``tags``, spelled as ``cloud`` spells them (dict, or IBM's list)."""
    rendered = render_tags(cloud or Cloud.AWS, dict.fromkeys(REQUIRED_TAGS, "x"))
    wanted = [t.split(":x", 1)[0] for t in rendered] if isinstance(rendered, list) else list(rendered)
    if isinstance(tags, Mapping):
        present = set(tags)
    elif isinstance(tags, list):
        present = {str(t).rsplit(":", 1)[0] for t in tags}
    else:
        present = set()
    return [key for key in wanted if key not in present]


def tag_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Taggable resources must carry every platform tag; so must any resource that declares tags at all."""
    cloud = _cloud_of(resource_type)
    path = TAGGABLE[cloud].get(resource_type) if cloud else None
    if path is not None:
        tags = _dig(props, (_camel(p) for p in path))
    else:
        present = [p for p in GENERIC_TAG_PROPERTIES if p in props]
        if not present:
            return []
        tags = props[present[0]]
    missing = _missing_tags(cloud, tags)
    return [f"missing tags: {', '.join(missing)}"] if missing else []


def encryption_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """Databases, keys' consumers and secrets must be encrypted at rest with a customer-managed key."""
    problems: list[str] = []
    if props.get("storageEncrypted") is False:
        problems.append("storage encryption is off")
    checks: dict[str, tuple[str, ...]] = {
        "aws:rds/cluster:Cluster": ("kmsKeyId",),
        "aws:rds/instance:Instance": ("kmsKeyId",),
        "aws:secretsmanager/secret:Secret": ("kmsKeyId",),
        "gcp:sql/databaseInstance:DatabaseInstance": ("encryptionKeyName",),
        "oci:Psql/dbSystem:DbSystem": ("storageDetails", "kmsKeyId"),
        "ibm:index/database:Database": ("keyProtectKey",),
    }
    path = checks.get(resource_type)
    if path and not _dig(props, path):
        problems.append(f"no customer-managed key ({'.'.join(path)})")
    if resource_type in ("aws:rds/cluster:Cluster", "aws:rds/instance:Instance") and not props.get("storageEncrypted"):
        problems.append("storageEncrypted must be true")
    if resource_type == "azure-native:dbforpostgresql:Server":
        encryption = props.get("dataEncryption") or {}
        if encryption.get("type") != "AzureKeyVault" or not encryption.get("primaryKeyURI"):
            problems.append("dataEncryption must use a Key Vault key")
    return sorted(set(problems))


def public_database_violations(resource_type: str, props: Mapping[str, Any]) -> list[str]:
    """No database endpoint may be reachable from the internet."""
    problems: list[str] = []
    if props.get("publiclyAccessible") is True:
        problems.append("publiclyAccessible must be false")
    if resource_type == "azure-native:dbforpostgresql:Server":
        if _dig(props, ("network", "publicNetworkAccess")) != "Disabled":
            problems.append("network.publicNetworkAccess must be Disabled")
    elif resource_type == "gcp:sql/databaseInstance:DatabaseInstance":
        ip = _dig(props, ("settings", "ipConfiguration")) or {}
        if ip.get("ipv4Enabled", True) or ip.get("authorizedNetworks"):
            problems.append("Cloud SQL must have no public IP and no authorized networks")
    elif resource_type == "oci:Core/subnet:Subnet" and props.get("prohibitPublicIpOnVnic") is not True:
        problems.append("database subnets must prohibit public IPs")
    elif resource_type == "ibm:index/database:Database" and props.get("serviceEndpoints") != "private":
        problems.append("serviceEndpoints must be private")
    return problems


def is_silo(resource_type: str, props: Mapping[str, Any], ancestors: Iterable[str]) -> bool:
    """A resource of a silo tenant: under a ``paybill:<cloud>:SiloTenant`` or tagged with silo isolation."""
    if any(t in {f"paybill:{c}:SiloTenant" for c in CLOUD_COMPONENTS} for t in (resource_type, *ancestors)):
        return True
    tags = props.get("tags") or props.get("freeformTags") or {}
    return isinstance(tags, Mapping) and tags.get("paybill:isolation") == "silo"


def is_pool(resource_type: str, props: Mapping[str, Any], ancestors: Iterable[str]) -> bool:
    """A resource of a shared pool: under a ``paybill:<cloud>:Platform`` or tagged ``paybill:tenant=shared``."""
    if any(t in {f"paybill:{c}:Platform" for c in CLOUD_COMPONENTS} for t in (resource_type, *ancestors)):
        return True
    tags = props.get("tags") or props.get("freeformTags") or {}
    return isinstance(tags, Mapping) and tags.get("paybill:tenant") == "shared"
