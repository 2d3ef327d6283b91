"""Every generated object name, in one place, for each isolation model.

Parts are joined with ``__``, which no declared identifier, policy name or tenant id may contain, so two
different declarations never produce the same name. Names longer than PostgreSQL's 63 bytes are shortened
deterministically (a readable head plus a hash of the full name).
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

MAX_NAME = 63
TENANT_PATTERN = r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$"
TenantId = Annotated[str, Field(min_length=1, max_length=40, pattern=TENANT_PATTERN)]
"""A tenant id: lowercase letters and digits with single inner ``-`` or ``_`` (a Paybill tenant slug fits)."""

_TENANT_RE = re.compile(TENANT_PATTERN)


class Isolation(enum.Enum):
    """Where a tenant's rows live."""

    SILO = "silo"
    """A database per tenant."""
    BRIDGE = "bridge"
    """A schema per tenant in a shared database."""
    POOLED = "pooled"
    """Shared tables with a tenant column under ENABLE + FORCE row-level security."""


def bounded(name: str) -> str:
    """``name`` if it fits in 63 bytes, else a 54-byte head, ``_`` and 8 hex digits of its SHA-256."""
    if len(name.encode()) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:54]}_{digest}"


def valid_tenant(tenant: str) -> bool:
    return 1 <= len(tenant) <= 40 and _TENANT_RE.fullmatch(tenant) is not None and "--" not in tenant


@dataclass(frozen=True)
class Names:
    """The generated names of one policy (``prefix`` is the policy name)."""

    prefix: str

    @property
    def owner(self) -> str:
        """Owns every table, view and function; NOLOGIN, so nobody is ever the owner (owners skip RLS)."""
        return bounded(f"{self.prefix}__owner")

    @property
    def migrator(self) -> str:
        """Runs schema migrations as a member of the owner role."""
        return bounded(f"{self.prefix}__migrator")

    @property
    def app(self) -> str:
        """The backend's login: holds no data privilege itself, may only ``SET ROLE`` to tenant/agent roles."""
        return bounded(f"{self.prefix}__app")

    def tenant_role(self, tenant: str) -> str:
        """The tenant's own login (its backend identity), with DML on its tables."""
        return bounded(f"{self.prefix}__t__{tenant}")

    def agent_role(self, tenant: str, agent: str) -> str:
        """One role per (tenant, agent): granted only the columns the agent's workflows declare."""
        return bounded(f"{self.prefix}__a__{tenant}__{agent}")

    def shared_database(self) -> str:
        return bounded(self.prefix)

    def silo_database(self, tenant: str) -> str:
        return bounded(f"{self.prefix}__t__{tenant}")

    def database(self, isolation: Isolation, tenant: str) -> str:
        return self.silo_database(tenant) if isolation is Isolation.SILO else self.shared_database()

    def data_schema(self, isolation: Isolation, tenant: str) -> str:
        """The schema holding the tenant's tables."""
        if isolation is Isolation.BRIDGE:
            return bounded(f"t__{tenant}")
        return "data"

    @property
    def control_schema(self) -> str:
        """``acl``: the tenant-role mapping, the row guard and the audit log."""
        return "acl"

    def roles_of_tenant(self, tenant: str, agents: tuple[str, ...]) -> tuple[str, ...]:
        return (self.tenant_role(tenant), *(self.agent_role(tenant, a) for a in agents))


TENANT_ROLES_TABLE = "tenant_roles"
ROW_GUARD_FN = "check_rows"
"""``acl.check_rows(n, row_limit, budget)``: raises when a step's ``n`` rows exceed either, else records ``n``."""
ROW_COUNT_SETTING = "agent_acl.row_count"
"""The transaction-local setting where ``check_rows`` leaves the step's row count for its audit row."""
ROW_LIMIT_SQLSTATE = "AC001"
ROW_BUDGET_SQLSTATE = "AC002"
AUDIT_TABLE = "audit_log"
TENANT_POLICY = "tenant_isolation"
MAPPING_POLICY = "own_mapping_only"
TENANT_BIND = "acl_tenant"
"""Bind-parameter key of the trusted tenant value; declared parameter names may not start with ``acl_``."""
