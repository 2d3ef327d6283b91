"""The rules of the tenant lifecycle, as pure functions: which states allow which operation, the guards
(billing entitlement, plan limits) a request must pass before anything is recorded, and which operation a
billing transition implies.

Nothing here reads the registry or runs the engine, so the same rules are checked wherever a request
enters: the control plane (the Python API and the CLI) calls the ``check_*`` functions inside its
registry transaction, and the product backend's routes call the same functions on what the registry
says before queuing. A route passes ``state=None`` while an operation of the tenant is still in flight
(the state is about to change, so the worker's control plane decides); every other guard holds at once.
Each refusal is a typed error of :mod:`paybill_infra.errors` naming the field.
"""

from __future__ import annotations

from types import MappingProxyType

from paybill_infra.controlplane.billing import allows_provisioning
from paybill_infra.controlplane.models import OperationKind, TenantState
from paybill_infra.errors import (
    BillingGateError,
    FieldProblem,
    IllegalTransitionError,
    InvalidInputError,
    PlanLimitError,
    TenantExistsError,
)
from paybill_infra.schema.enums import Cloud, Isolation, SubscriptionStatus
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


def check_onboard(
    slug: str, subscription: SubscriptionStatus, existing: tuple[TenantState, str, str] | None, plan: str, name: str
) -> bool:
    """Whether onboarding ``slug`` on ``plan`` as ``name`` replays the onboarding that placed it (the first
    result answers then). ``existing`` is the tenant's (state, plan, display name), ``None`` if unknown; a
    tenant placed otherwise is a :class:`TenantExistsError`, a failed or offboarded one may be onboarded."""
    require_entitlement(slug, "onboard", subscription)
    if existing is None or existing[0] not in PLACED:
        return False
    state, current_plan, current_name = existing
    if (current_plan, current_name) != (plan, name):
        raise TenantExistsError(slug, state.value, current_plan)
    return True


def check_change_plan(
    slug: str,
    state: TenantState | None,
    current: Plan,
    target: Plan,
    subscription: SubscriptionStatus | None,
    seats_used: int,
    storage_gb_used: int,
) -> None:
    """An active tenant, a plan it is not on, and the guards of :func:`check_plan_change`."""
    if state is not None:
        require_state(slug, K.CHANGE_PLAN, state)
        if current.name == target.name:
            raise InvalidInputError("change_plan", [FieldProblem("plan", f"tenant is already on '{current.name}'")])
    check_plan_change(slug, current, target, subscription, seats_used, storage_gb_used)


def check_move(slug: str, state: TenantState | None, here: tuple[Cloud, str], there: tuple[Cloud, str]) -> None:
    """An active tenant, moved to a (cloud, region) it is not in."""
    if state is None:
        return
    require_state(slug, K.MOVE, state)
    if here == there:
        where = f"{there[0].value}/{there[1]}"
        raise InvalidInputError("move", [FieldProblem("region", f"tenant is already in {where}")])


def move_destination(cloud: Cloud, region: str | None, default_region: str) -> tuple[Cloud, str]:
    """Where a move goes: the region asked for, else the target cloud's default region (``default_region``,
    from :func:`paybill_infra.targets.base.default_region`), never the tenant's current region, which
    belongs to the cloud it leaves."""
    return cloud, region or default_region


def check_toggle(
    slug: str, kind: OperationKind, state: TenantState | None, subscription: SubscriptionStatus | None
) -> None:
    """Suspend an active tenant; resume a suspended one whose subscription allows it."""
    if state is not None:
        require_state(slug, kind, state)
    if kind is K.RESUME:
        require_entitlement(slug, "resume", subscription)


def check_offboard(slug: str, state: TenantState | None) -> None:
    if state is not None:
        require_state(slug, K.OFFBOARD, state)


def billing_operation(
    before: SubscriptionStatus | None, after: SubscriptionStatus, state: TenantState
) -> OperationKind | None:
    """The lifecycle operation a billing transition implies: billing suspending the subscription suspends an
    active tenant; a suspended subscription made active again resumes a suspended tenant."""
    if after is SubscriptionStatus.SUSPENDED and state is S.ACTIVE:
        return K.SUSPEND
    if before is SubscriptionStatus.SUSPENDED and after is SubscriptionStatus.ACTIVE and state is S.SUSPENDED:
        return K.RESUME
    return None
