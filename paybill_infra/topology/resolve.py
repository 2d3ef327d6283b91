"""Plan → topology resolution: a pure, deterministic function with no Pulumi import.

Inputs are already-validated schema objects; the output is a :class:`Topology`. The same inputs give a
byte-identical topology (and fingerprint) on every machine, which is what makes provisioning reproducible
and lets the control plane detect that a tenant's desired infrastructure changed.
"""

from __future__ import annotations

import hashlib
import json
from types import MappingProxyType
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from paybill_infra.errors import TopologyError, UnknownRegionError
from paybill_infra.schema.enums import Cloud, DatabaseSize, Isolation
from paybill_infra.schema.identifiers import Region
from paybill_infra.schema.plan import Plan
from paybill_infra.schema.regions import check_region
from paybill_infra.schema.tenant import Tenant
from paybill_infra.topology.model import Sizing, Topology
from paybill_infra.topology.naming import names_for

MANAGED_BY = "paybill-infra"

INSTANCE_CLASSES: MappingProxyType[Cloud, MappingProxyType[DatabaseSize, str]] = MappingProxyType(
    {
        cloud: MappingProxyType(dict(zip(DatabaseSize, classes, strict=True)))
        for cloud, classes in {
            Cloud.LOCAL: ("local", "local", "local", "local"),
            Cloud.AWS: ("db.t4g.medium", "db.r7g.large", "db.r7g.2xlarge", "db.r7g.8xlarge"),
            Cloud.AZURE: ("Standard_B2s", "Standard_D4ds_v5", "Standard_D8ds_v5", "Standard_D32ds_v5"),
            Cloud.GCP: ("db-custom-2-7680", "db-custom-4-15360", "db-custom-8-30720", "db-custom-32-122880"),
            Cloud.OCI: (
                "PostgreSQL.VM.Standard.E5.Flex.2.32GB",
                "PostgreSQL.VM.Standard.E5.Flex.4.64GB",
                "PostgreSQL.VM.Standard.E5.Flex.8.128GB",
                "PostgreSQL.VM.Standard.E5.Flex.32.512GB",
            ),
            Cloud.IBM: ("b3c.4x16.encrypted", "b3c.8x32.encrypted", "m3c.16x128.encrypted", "m3c.30x240.encrypted"),
        }.items()
    }
)
"""Size class → instance class per cloud: senior-architect defaults, overridable per stack."""


class CloudDefaults(BaseModel):
    """A stack's defaults for one cloud: where tenants go unless they say otherwise, and what is allowed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cloud: Cloud
    region: Region
    allowed_regions: Annotated[tuple[Region, ...], Field(min_length=1)]
    isolations: tuple[Isolation, ...] = tuple(Isolation)
    instance_classes: dict[DatabaseSize, str] = {}
    extra_tags: dict[str, str] = {}

    @model_validator(mode="after")
    def _default_region_allowed(self) -> CloudDefaults:
        if self.region not in self.allowed_regions:
            raise ValueError(f"default region '{self.region}' is not in allowed_regions")
        return self


def resolve_topology(plan: Plan, tenant: Tenant, defaults: CloudDefaults) -> Topology:
    """Resolve ``tenant`` on ``plan`` against the stack's ``defaults``.

    Raises :class:`TopologyError` when the tenant's plan, cloud or region does not fit the stack.
    """
    if tenant.plan != plan.name:
        raise TopologyError(tenant.slug, f"tenant is on plan '{tenant.plan}', resolved with '{plan.name}'")
    cloud = tenant.cloud or defaults.cloud
    if cloud is not defaults.cloud:
        raise TopologyError(tenant.slug, f"tenant asks for cloud '{cloud}', this stack runs '{defaults.cloud}'")
    region = tenant.region or defaults.region
    if region not in defaults.allowed_regions:
        raise TopologyError(
            tenant.slug, f"unknown region '{region}'; expected one of: {', '.join(defaults.allowed_regions)}"
        )
    if defaults.cloud is not Cloud.LOCAL:
        try:
            check_region(defaults.cloud, region)
        except UnknownRegionError as err:
            raise TopologyError(tenant.slug, str(err)) from None
    if plan.isolation not in defaults.isolations:
        raise TopologyError(
            tenant.slug, f"plan '{plan.name}' needs {plan.isolation} isolation, which {cloud} does not offer here"
        )
    size = plan.limits.database_size
    sizing = Sizing(
        database_size=size,
        instance_class=defaults.instance_classes.get(size, INSTANCE_CLASSES[cloud][size]),
        storage_gb=plan.limits.storage_gb,
        dedicated_server=plan.isolation is Isolation.SILO or plan.dedicated_server,
    )
    tags = {
        **defaults.extra_tags,
        **tenant.tags,
        "paybill:tenant": tenant.slug,
        "paybill:plan": plan.name,
        "paybill:isolation": plan.isolation.value,
        "managed-by": MANAGED_BY,
    }
    body = {
        "tenant": tenant.slug,
        "display_name": tenant.display_name,
        "plan": plan.name,
        "tier": plan.tier,
        "cloud": cloud,
        "region": region,
        "isolation": plan.isolation,
        "sizing": sizing,
        "names": names_for(cloud, tenant.slug),
        "tags": dict(sorted(tags.items())),
        "deletion_protection": plan.isolation is Isolation.SILO,
    }
    return Topology(**body, fingerprint=_fingerprint(body))


def _fingerprint(body: dict[str, object]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=_encode)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _encode(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot fingerprint {type(value).__name__}")
