"""What a rollout rolls: a :class:`UnitSource` lists the fleet's units and applies one of them.

The rollout core (waves, budget, journal, recovery) does not care whether a unit is a database migration
or a stack update; each kind of rollout supplies a source:

- :class:`~paybill_infra.rollouts.stacks.StackSource`: the fleet's stacks (``paybill fleet up --waves``);
- :class:`~paybill_infra.rollouts.schema.SchemaSource`: pool databases, bridge schemas and silo
  databases (``paybill db migrate --waves``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from paybill_infra.rollouts.models import Applied
from paybill_infra.rollouts.waves import UnitRef


class UnitSource(Protocol):
    def units(self) -> Sequence[UnitRef]:
        """The units the rollout covers, read when it is planned (later units, e.g. a tenant onboarded
        mid-rollout, are born at the new version and need no rollout)."""
        ...

    def apply(self, key: str) -> Applied:
        """Bring the unit ``key`` to the new version. Contract: idempotent and atomic per unit. Applying a
        unit that already is at the new version changes nothing (``changed`` false), which is what makes
        resuming after a crash apply every unit exactly once; a failure leaves the unit at the old
        version and raises."""
        ...
