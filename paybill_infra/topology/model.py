"""The resolved topology: everything a component needs to stamp out one tenant, and nothing more."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from paybill_infra.schema.enums import Cloud, DatabaseSize, Isolation
from paybill_infra.schema.identifiers import PlanName, Region, Slug
from paybill_infra.topology.naming import NameKind

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Sizing(BaseModel):
    model_config = _FROZEN

    database_size: DatabaseSize
    instance_class: str
    storage_gb: Annotated[int, Field(ge=1)]
    dedicated_server: bool


class Topology(BaseModel):
    """The output of :func:`resolve_topology`: pure data, stable across runs and machines.

    ``fingerprint`` hashes every other field; two topologies with the same fingerprint provision the same
    infrastructure, so a changed fingerprint is what tells the control plane a tenant needs an update.
    """

    model_config = _FROZEN

    tenant: Slug
    display_name: str
    plan: PlanName
    tier: int
    cloud: Cloud
    region: Region
    isolation: Isolation
    sizing: Sizing
    names: dict[NameKind, str]
    tags: dict[str, str]
    deletion_protection: bool
    fingerprint: str

    def name(self, kind: NameKind) -> str:
        return self.names[kind]
