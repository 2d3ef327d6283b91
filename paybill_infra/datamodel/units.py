"""The units a schema migration runs on, one per place that holds a copy of the tenant tables.

- a **pool**: the shared tables of one pool database (schema ``pooled``), migrated once for all its tenants;
- a **bridge** tenant: its own schema in the bridge database;
- a **silo** tenant: its own database (schema ``app``).

A unit records its own version in :data:`MARKER_TABLE` of schema :data:`MARKER_SCHEMA` in its database,
updated in the same transaction as its DDL: the marker, not the registry, says whether a unit was migrated,
so a re-run after a crash skips a unit already at the new version.
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

from agent_acl.schema import Identifier
from paybill_infra.local.server import AdminConnection

MARKER_SCHEMA = "paybill_schema"
MARKER_TABLE = "unit_version"
BASELINE_VERSION = 1
"""The version of a unit that has no marker: provisioned before versions were recorded, from version 1."""


class UnitKind(enum.Enum):
    POOL = "pool"
    BRIDGE = "bridge"
    SILO = "silo"


class Unit(BaseModel):
    """One migratable copy of the tenant tables.

    ``owner`` owns the tables (new tables are created as it); ``members`` are the tenants whose rows live
    there and ``roles`` their login roles (a pool grants them DML on new tables); ``version`` is the schema
    version the registry last saw applied (the marker in the database is authoritative).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    kind: UnitKind
    database: str
    schema_name: Identifier | str
    owner: str
    members: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    version: int = Field(default=BASELINE_VERSION, ge=1)
    server: AdminConnection = Field(repr=False, exclude=True)

    @property
    def key(self) -> str:
        """Unique across one server: ``pool:<database>``, ``bridge:<database>/<schema>``, ``silo:<database>``."""
        if self.kind is UnitKind.BRIDGE:
            return f"bridge:{self.database}/{self.schema_name}"
        return f"{self.kind.value}:{self.database}"

    @property
    def marker_key(self) -> str:
        """The unit's row in its database's marker table (a bridge database holds one per bridge schema)."""
        return self.schema_name
