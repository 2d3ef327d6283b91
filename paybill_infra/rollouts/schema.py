"""Schema rollouts: pool databases, bridge schemas and silo databases as rollout units
(``paybill db migrate --waves``).

The target version is pinned when the rollout is planned (the schema file is validated and recorded as
the next version then, see :meth:`~paybill_infra.datamodel.fleet.SchemaFleet.prepare`), so a resumed
rollout aims at the same version, and a tenant onboarded meanwhile is provisioned at it and is no unit of
the rollout. Each unit is applied through :meth:`~paybill_infra.datamodel.fleet.SchemaFleet.migrate`:
atomic per unit, and a no-op for a unit whose version marker already says the target, which is what makes
a resumed rollout migrate each unit exactly once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from paybill_infra.datamodel.apply import UnitOutcome
from paybill_infra.datamodel.fleet import SchemaFleet
from paybill_infra.datamodel.units import Unit
from paybill_infra.errors import UnknownRolloutError
from paybill_infra.rollouts.models import Applied
from paybill_infra.rollouts.waves import UnitRef

LABEL_MAX = 200


class SchemaSource:
    def __init__(self, fleet: SchemaFleet, to_version: int, *, allow_destructive: bool, actor: str) -> None:
        self.fleet = fleet
        self.to_version = to_version
        self.allow_destructive = allow_destructive
        self.actor = actor
        self._units: dict[str, Unit] | None = None
        self._guard = threading.Lock()

    def units(self) -> Sequence[UnitRef]:
        """The units below the target version (pools once, whatever their number of tenants)."""
        return [
            UnitRef(key=u.key, group=u.kind.value, label=f"{u.key} ({', '.join(u.members)})"[:LABEL_MAX])
            for u in self._listing(refresh=True).values()
            if u.version < self.to_version
        ]

    def apply(self, key: str) -> Applied:
        unit = self._listing().get(key) or self._listing(refresh=True).get(key)
        if unit is None:
            raise UnknownRolloutError(f"unit {key} (no longer in the fleet)")
        results = self.fleet.migrate(unit, self.to_version, allow_destructive=self.allow_destructive, actor=self.actor)
        changed = any(r.outcome is UnitOutcome.MIGRATED for r in results)
        return Applied(changed=changed, detail={"steps": len(results)})

    def _listing(self, *, refresh: bool = False) -> dict[str, Unit]:
        """The fleet's units by key, listed once per rollout run (a unit's marker, read again under its lock
        when it is migrated, is what decides whether a step runs)."""
        with self._guard:
            if self._units is None or refresh:
                self._units = {u.key: u for u in self.fleet.units()}
            return self._units
