"""Infrastructure rollouts: the fleet's stacks as rollout units (``paybill fleet up --waves``).

When the component code or the catalog changes (a new component version, a new default), every stack
the registry knows must be converged again. Each stack is one unit: applying it is the control plane's
``up`` of that stack from the registry (batched and locked like any other run, so a tenant operation and
the rollout never run the same stack at once). The canary wave takes one stack per kind (a platform, a
pool, a tenant stack).
"""

from __future__ import annotations

from collections.abc import Sequence

from paybill_infra.controlplane.reconcile import Reconciler
from paybill_infra.controlplane.review import Review
from paybill_infra.rollouts.models import Applied
from paybill_infra.rollouts.waves import UnitRef


class StackSource:
    def __init__(self, review: Review, reconciler: Reconciler, holder: str) -> None:
        self.review = review
        self.rec = reconciler
        self.holder = holder
        """Who holds each stack's lock while the rollout runs it (the rollout's id)."""

    def units(self) -> Sequence[UnitRef]:
        units = []
        with self.rec.rt.registry.transaction() as session:
            for stack in self.review.known_stacks():
                units.append(UnitRef(key=stack, group=self.rec.spec(session, stack).kind.value, label=stack))
        return units

    def apply(self, key: str) -> Applied:
        change = self.rec.sync(key, self.holder)
        return Applied(changed=change.changed > 0, detail={"changes": change.changes})
