"""The rules of the tenant lifecycle, as pure functions: which states allow which operation, and the guards
(billing entitlement, plan limits) a request must pass before anything is recorded.

Nothing here reads the registry or runs the engine, so the same rules can be checked anywhere a request
enters (the Python API, the CLI, HTTP) and tested exhaustively.
"""

from __future__ import annotations

from types import MappingProxyType

from paybill_infra.controlplane.billing import allows_provisioning
from paybill_infra.controlplane.models import OperationKind, TenantState
from paybill_infra.errors import BillingGateError, FieldProblem, IllegalTransitionError, PlanLimitError
from paybill_infra.schema.enums import Isolation, SubscriptionStatus
from paybill_infra.schema.plan import Plan

S = TenantState
K = OperationKind

PLACED = frozenset({S.PROVISIONING, S.ACTIVE, S.MIGRATING, S.SUSPENDED, S.OFFBOARDING})
"""States in which the tenant has infrastructure."""

ALLOWED: MappingProxyType[OperationKind, frozenset[TenantState]] = MappingProxyType(
    {
        K.ONBOARD: frozenset({S.FAILED, S.OFFBOARDED}),
        K.CHANGE_PLAN: frozenset({S.ACTIVE}),
        K.MOVE: frozenset({S.ACTIVE}),
        K.SUSPEND: frozenset({S.ACTIVE}),
        K.RESUME: frozenset({S.SUSPENDED}),
        K.OFFBOARD: frozenset({S.ACTIVE, S.SUSPENDED, S.FAILED}),
    }
)
"""The states from which each operation may start (an unknown tenant may always be onboarded)."""

VERBS: MappingProxyType[OperationKind, str] = MappingProxyType(
    {
        K.ONBOARD: "onboard",
        K.CHANGE_PLAN: "change the plan of",
        K.MOVE: "move",
        K.SUSPEND: "suspend",
        K.RESUME: "resume",
        K.OFFBOARD: "offboard",
    }
)


def require_state(slug: str, kind: OperationKind, state: TenantState) -> None:
    """Raise :class:`IllegalTransitionError` unless ``kind`` may start from ``state``."""
    allowed = ALLOWED[kind]
    if state not in allowed:
        raise IllegalTransitionError(slug, VERBS[kind], state.value, tuple(sorted(s.value for s in allowed)))


def require_entitlement(slug: str, action: str, status: SubscriptionStatus | None) -> None:
    """Provisioning, upgrades and resuming need a trialing or active subscription."""
    if status is None or not allows_provisioning(status):
        raise BillingGateError(slug, action, status.value if status else "missing")


def limit_problems(seats_used: int, storage_gb_used: int, plan: Plan) -> list[FieldProblem]:
    """Where the tenant's reported usage exceeds ``plan``'s limits (a downgrade is refused then)."""
    problems = []
    if plan.limits.seats is not None and seats_used > plan.limits.seats:
        problems.append(FieldProblem("seats", f"{seats_used} seats in use, plan allows {plan.limits.seats}"))
    if storage_gb_used > plan.limits.storage_gb:
        problems.append(
            FieldProblem("storage_gb", f"{storage_gb_used} GB in use, plan allows {plan.limits.storage_gb}")
        )
    return problems


def check_plan_change(
    slug: str, current: Plan, target: Plan, status: SubscriptionStatus | None, seats_used: int, storage_gb_used: int
) -> None:
    """The guards of a plan change: an upgrade needs entitlement, and usage must fit the new plan."""
    if target.tier > current.tier:
        require_entitlement(slug, f"upgrade to '{target.name}'", status)
    problems = limit_problems(seats_used, storage_gb_used, target)
    if problems:
        raise PlanLimitError(slug, target.name, problems)


def stays_in_place(current_plan: str, current_isolation: Isolation, target: Plan) -> bool:
    """Whether a plan change keeps the tenant where it is (same isolation, and for pooled tenants the same
    plan's pool), so the stack is updated in place instead of migrating the data."""
    return target.isolation is current_isolation and (
        target.isolation is not Isolation.POOLED or current_plan == target.name
    )
