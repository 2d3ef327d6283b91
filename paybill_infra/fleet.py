"""A stack's fleet: its cloud defaults and tenants, parsed from stack config into topologies.

Everything is validated before any resource is declared, so a bad slug, an unknown plan or a duplicate
tenant fails the whole program up front and no stack is touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from paybill_infra._validation import problems_from, validate_entries
from paybill_infra.catalog import PlanCatalog
from paybill_infra.errors import FieldProblem, FleetConfigError, TopologyError, UnknownPlanError
from paybill_infra.schema.enums import Cloud
from paybill_infra.schema.identifiers import Region
from paybill_infra.schema.tenant import Tenant
from paybill_infra.topology.model import Topology
from paybill_infra.topology.resolve import CloudDefaults, resolve_topology

LOCAL_REGION = "local"


class FleetSettings(BaseModel):
    """Stack-level settings (config keys ``paybill:cloud``, ``paybill:region``, ``paybill:regions``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cloud: Cloud = Cloud.LOCAL
    region: Region = LOCAL_REGION
    regions: Annotated[tuple[Region, ...], Field(min_length=1)] | None = None

    def defaults(self) -> CloudDefaults:
        return CloudDefaults(cloud=self.cloud, region=self.region, allowed_regions=self.regions or (self.region,))


def parse_tenants(raw: object, source: str) -> tuple[Tenant, ...]:
    """Validate the ``paybill:tenants`` list; errors name ``tenants[i] 'slug'`` and the field."""
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise FleetConfigError(source, [FieldProblem("tenants", "expected a list of tenant objects")])
    tenants = validate_entries(
        raw,
        Tenant,
        source=source,
        error=FleetConfigError,
        list_name="tenants",
        key="slug",
        what="tenant",
        prepare=_tenant_fields,
    )
    return tuple(tenants)


def _tenant_fields(entry: object) -> object:
    """Accept the short config spelling ``name`` for ``display_name``."""
    if isinstance(entry, Mapping) and "name" in entry and "display_name" not in entry:
        return {("display_name" if k == "name" else k): v for k, v in entry.items()}
    return entry


def resolve_fleet(
    tenants: Sequence[Tenant], catalog: PlanCatalog, settings: FleetSettings, source: str
) -> tuple[Topology, ...]:
    """Resolve every tenant; the first unknown plan or unresolvable tenant raises, naming the tenant."""
    defaults = settings.defaults()
    out = []
    for index, tenant in enumerate(tenants):
        entry = f"tenants[{index}] '{tenant.slug}'"
        if tenant.plan not in catalog:
            raise FleetConfigError(
                source, [FieldProblem("plan", str(UnknownPlanError(tenant.plan, catalog.names)))], entry=entry
            )
        try:
            out.append(resolve_topology(catalog[tenant.plan], tenant, defaults))
        except TopologyError as err:
            raise FleetConfigError(source, [FieldProblem("", err.reason)], entry=entry) from None
    return tuple(out)


def parse_settings(raw: Mapping[str, Any], source: str) -> FleetSettings:
    try:
        return FleetSettings.model_validate(raw)
    except ValidationError as err:
        raise FleetConfigError(source, problems_from(err)) from None
