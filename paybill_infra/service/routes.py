"""The HTTP API: tenants, operations (with SSE progress) and the billing webhook.

Every mutating route answers ``202 Accepted`` with the :class:`OperationView` to poll (``Location``
header) once the operation is recorded and its job deferred; workers do the rest. Before queuing, a route
checks the same rules the control plane checks, by calling the same pure functions
(:mod:`paybill_infra.controlplane.transitions`) on what the registry says; their typed errors become
problem documents (:mod:`paybill_infra.service.problems`). The tenant's state is judged only when nothing
of it is queued or running (``settled_state``): otherwise the worker's control plane judges it. What is
the API's own is authorization (roles, scopes, and the plan tier a tenant admin's subscription pays for).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from sse_starlette import EventSourceResponse

from paybill_infra.controlplane import (
    BillingEvent,
    OnboardRequest,
    OperationKind,
    RetentionPolicy,
    SubscriptionView,
    TenantState,
    TenantView,
)
from paybill_infra.controlplane import transitions as rules
from paybill_infra.errors import (
    PaybillError,
    UnknownPlanError,
    UnknownTenantError,
    WebhookSignatureError,
)
from paybill_infra.schema.enums import Cloud
from paybill_infra.schema.identifiers import SLUG_MAX, SLUG_MIN, SLUG_PATTERN
from paybill_infra.schema.plan import Plan
from paybill_infra.service.auth import check_tenant, require, require_platform
from paybill_infra.service.errors import ServiceError, conflict, not_found
from paybill_infra.service.events import sse_response
from paybill_infra.service.limits import json_body
from paybill_infra.service.models import (
    Move,
    OperationView,
    PlanChange,
    Principal,
    Reason,
    Role,
    Scope,
    WebhookAccepted,
)
from paybill_infra.service.problems import MEDIA_TYPE
from paybill_infra.service.runtime import ApiRuntime, authenticate, bearer, runtime

SIGNATURE_HEADER = "Paybill-Signature"
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
PROBLEMS: dict[int | str, dict[str, object]] = {
    status: {"description": title, "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}
    for status, title in (
        (401, "Missing, forged or expired credential"),
        (403, "Not allowed for this principal"),
        (404, "No such resource (or not visible to this principal)"),
        (400, "The body is not valid JSON"),
        (409, "Conflicts with the current state"),
        (413, "The body is larger than the configured limit"),
        (415, "The body is not application/json"),
        (422, "Invalid input; `errors` names each field"),
        (503, "Not configured, or busy"),
    )
}


async def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    return await authenticate(request, credentials)


Caller = Annotated[Principal, Depends(principal)]
Runtime = Annotated[ApiRuntime, Depends(runtime)]
SlugPath = Annotated[str, Path(min_length=SLUG_MIN, max_length=SLUG_MAX, pattern=SLUG_PATTERN)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$"),
]

JsonBody = Depends(json_body)
router = APIRouter(responses=PROBLEMS)


def _accepted(response: Response, operation: OperationView) -> OperationView:
    response.headers["Location"] = f"/operations/{operation.id}"
    return operation


NEXT_CURSOR = "X-Next-Cursor"

# --- tenants ----------------------------------------------------------------------------------------------


@router.post("/tenants", status_code=202, dependencies=[JsonBody], tags=["tenants"], summary="Onboard a tenant")
async def onboard(
    body: OnboardRequest, rt: Runtime, caller: Caller, response: Response, key: IdempotencyKey = None
) -> OperationView:
    require(caller, Scope.TENANTS_WRITE)
    require_platform(caller, "onboard tenants")
    await asyncio.to_thread(_check_onboard, rt, body)
    operation = await rt.submit(OperationKind.ONBOARD, body.slug, caller.actor, body.model_dump(mode="json"), key)
    return _accepted(response, operation)


def _check_onboard(rt: ApiRuntime, body: OnboardRequest) -> None:
    _plan(rt, body.plan, body.slug)
    try:
        found = rt.reader.show(body.slug)
        existing = (found.state, found.plan, found.display_name)
    except UnknownTenantError:
        existing = None
    rules.check_onboard(body.slug, body.subscription, existing, body.plan, body.display_name)


def _plan(rt: ApiRuntime, name: str, slug: str) -> Plan:
    catalog = rt.reader.catalog
    if name not in catalog:
        raise UnknownPlanError(name, catalog.names, slug)
    return catalog[name]


@router.get("/tenants", tags=["tenants"], summary="List tenants")
async def list_tenants(
    rt: Runtime,
    caller: Caller,
    response: Response,
    state: TenantState | None = None,
    plan: str | None = None,
    cloud: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> list[TenantView]:
    """Tenants in slug order. With ``limit``, a page: ``X-Next-Cursor`` carries the ``cursor`` of the next
    page (absent on the last)."""
    require(caller, Scope.TENANTS_READ)
    if caller.role is Role.PLATFORM_ADMIN:
        page = await asyncio.to_thread(
            lambda: rt.reader.tenant_page(state=state, plan=plan, cloud=cloud, cursor=cursor, limit=limit)
        )
        if page.next_cursor is not None:
            response.headers[NEXT_CURSOR] = page.next_cursor
        return page.tenants
    try:
        own = await asyncio.to_thread(rt.reader.show, caller.tenant or "")
    except PaybillError:
        return []
    return [own] if state is None or own.state is state else []


@router.get("/tenants/{slug}", tags=["tenants"], summary="Show a tenant")
async def show_tenant(slug: SlugPath, rt: Runtime, caller: Caller) -> TenantView:
    require(caller, Scope.TENANTS_READ)
    check_tenant(caller, slug)
    return await asyncio.to_thread(rt.reader.show, slug)


@router.patch(
    "/tenants/{slug}/plan", status_code=202, dependencies=[JsonBody], tags=["tenants"], summary="Change a tenant's plan"
)
async def change_plan(
    slug: SlugPath, body: PlanChange, rt: Runtime, caller: Caller, response: Response, key: IdempotencyKey = None
) -> OperationView:
    require(caller, Scope.TENANTS_WRITE)
    check_tenant(caller, slug)
    await asyncio.to_thread(_check_plan_change, rt, caller, slug, body.plan)
    operation = await rt.submit(OperationKind.CHANGE_PLAN, slug, caller.actor, {"plan": body.plan}, key)
    return _accepted(response, operation)


def _check_plan_change(rt: ApiRuntime, caller: Principal, slug: str, plan: str) -> None:
    """The control plane's rules (:func:`~paybill_infra.controlplane.transitions.check_change_plan`), then
    authorization: a tenant admin may raise its plan only up to the tier its subscription pays for (the
    plan billing last reported); a platform admin is bound by the rules alone."""
    tenant, catalog = rt.reader.show(slug), rt.reader.catalog
    target, current = _plan(rt, plan, slug), catalog[tenant.plan]
    subscription = tenant.subscription
    rules.check_change_plan(
        slug,
        rt.settled_state(slug),
        current,
        target,
        subscription.status if subscription else None,
        tenant.seats_used,
        tenant.storage_gb_used,
    )
    if caller.role is Role.TENANT_ADMIN and target.tier > current.tier:
        paid = subscription.plan if subscription else ""
        entitled = catalog[paid] if paid in catalog.names else current
        if target.tier > entitled.tier:
            raise ServiceError(403, "Forbidden", f"billing allows plans up to '{entitled.name}'", "plan")


@router.post(
    "/tenants/{slug}/move",
    status_code=202,
    dependencies=[JsonBody],
    tags=["tenants"],
    summary="Move a tenant to a region or cloud",
)
async def move(
    slug: SlugPath, body: Move, rt: Runtime, caller: Caller, response: Response, key: IdempotencyKey = None
) -> OperationView:
    """Data residency: the tenant, on its plan, is migrated to another region or cloud (platform admin only);
    the data is moved and verified, or the move rolls back."""
    require_platform(caller, "move tenants")
    cloud, region = await asyncio.to_thread(_check_move, rt, slug, body)
    request = {"cloud": cloud.value, "region": region}
    return _accepted(response, await rt.submit(OperationKind.MOVE, slug, caller.actor, request, key))


def _check_move(rt: ApiRuntime, slug: str, body: Move) -> tuple[Cloud, str]:
    tenant = rt.reader.show(slug)
    there = rules.move_destination(body.cloud, body.region, rt.default_region(body.cloud))
    rules.check_move(slug, rt.settled_state(slug), (tenant.cloud, tenant.region), there)
    return there


@router.post(
    "/tenants/{slug}/suspend", status_code=202, dependencies=[JsonBody], tags=["tenants"], summary="Suspend a tenant"
)
async def suspend(
    slug: SlugPath,
    rt: Runtime,
    caller: Caller,
    response: Response,
    body: Reason | None = None,
    key: IdempotencyKey = None,
) -> OperationView:
    return _accepted(response, await _toggle(rt, caller, slug, OperationKind.SUSPEND, body or Reason(), key))


@router.post(
    "/tenants/{slug}/resume",
    status_code=202,
    dependencies=[JsonBody],
    tags=["tenants"],
    summary="Resume a suspended tenant",
)
async def resume(
    slug: SlugPath,
    rt: Runtime,
    caller: Caller,
    response: Response,
    body: Reason | None = None,
    key: IdempotencyKey = None,
) -> OperationView:
    return _accepted(response, await _toggle(rt, caller, slug, OperationKind.RESUME, body or Reason(), key))


def _check_toggle(rt: ApiRuntime, slug: str, kind: OperationKind) -> None:
    subscription = rt.reader.subscription(slug)
    rules.check_toggle(slug, kind, rt.settled_state(slug), subscription.status if subscription else None)


async def _toggle(
    rt: ApiRuntime, caller: Principal, slug: str, kind: OperationKind, body: Reason, key: str | None
) -> OperationView:
    require(caller, Scope.TENANTS_WRITE)
    check_tenant(caller, slug)
    await asyncio.to_thread(_check_toggle, rt, slug, kind)
    return await rt.submit(kind, slug, caller.actor, {"reason": body.reason}, key)


@router.delete("/tenants/{slug}", status_code=202, tags=["tenants"], summary="Offboard a tenant")
async def offboard(
    slug: SlugPath,
    rt: Runtime,
    caller: Caller,
    response: Response,
    retention: RetentionPolicy = RetentionPolicy.EXPORT,
    key: IdempotencyKey = None,
) -> OperationView:
    require(caller, Scope.TENANTS_WRITE)
    check_tenant(caller, slug)
    rules.check_offboard(slug, await asyncio.to_thread(rt.settled_state, slug))
    operation = await rt.submit(OperationKind.OFFBOARD, slug, caller.actor, {"retention": retention.value}, key)
    return _accepted(response, operation)


# --- operations -------------------------------------------------------------------------------------------


@router.get("/operations", tags=["operations"], summary="Recent operations")
async def list_operations(
    rt: Runtime,
    caller: Caller,
    tenant: Annotated[str | None, Query(min_length=SLUG_MIN, max_length=SLUG_MAX, pattern=SLUG_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OperationView]:
    require(caller, Scope.OPERATIONS_READ)
    if caller.role is Role.TENANT_ADMIN:
        check_tenant(caller, tenant or caller.tenant)
        tenant = caller.tenant
    return await asyncio.to_thread(rt.store.recent, tenant, limit)


async def _visible_operation(rt: ApiRuntime, caller: Principal, operation_id: uuid.UUID) -> OperationView:
    require(caller, Scope.OPERATIONS_READ)
    operation = await asyncio.to_thread(rt.store.get, str(operation_id))
    if operation is None:
        raise not_found(f"no operation {operation_id}", "id")
    if caller.role is Role.TENANT_ADMIN and operation.tenant != caller.tenant:
        raise not_found(f"no operation {operation_id}", "id")
    return operation


@router.get("/operations/{operation_id}", tags=["operations"], summary="An operation's state")
async def get_operation(operation_id: uuid.UUID, rt: Runtime, caller: Caller) -> OperationView:
    return await _visible_operation(rt, caller, operation_id)


@router.get(
    "/operations/{operation_id}/events",
    tags=["operations"],
    summary="An operation's progress as Server-Sent Events",
    response_class=EventSourceResponse,
    responses={200: {"description": "`progress` events, then one `end` event", "content": {"text/event-stream": {}}}},
)
async def operation_events(
    operation_id: uuid.UUID,
    rt: Runtime,
    caller: Caller,
    follow: bool = True,
    last_event_id: Annotated[int, Header(alias="Last-Event-ID", ge=0, le=2**62)] = 0,
) -> EventSourceResponse:
    operation = await _visible_operation(rt, caller, operation_id)
    poll_s = rt.settings.event_poll_s
    return sse_response(rt.store, rt.wakeups, operation.id, after=last_event_id, poll_s=poll_s, follow=follow)


# --- billing ----------------------------------------------------------------------------------------------


@router.post(
    "/billing/webhook",
    tags=["billing"],
    summary="A signed billing event (drives the subscription state machine)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": BillingEvent.model_json_schema(mode="validation")}},
        }
    },
)
async def billing_webhook(
    request: Request,
    rt: Runtime,
    signature: Annotated[str, Header(alias=SIGNATURE_HEADER, max_length=1000)] = "",
) -> WebhookAccepted:
    """``Paybill-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">``. A bad signature or a timestamp
    outside the replay window is a 401; an event id already applied is a 409 (replay)."""
    if rt.webhooks is None:
        raise ServiceError(503, "Service Unavailable", "no webhook secret is configured", "webhook_secret")
    if not signature:
        raise WebhookSignatureError("missing signature header")
    event = rt.webhooks.parse(await request.body(), signature)
    if not await asyncio.to_thread(rt.store.claim_webhook_event, event.event_id):
        raise conflict(f"event '{event.event_id}' was already applied", "event_id")
    try:
        return await _apply_billing(rt, event)
    except PaybillError:
        await asyncio.to_thread(rt.store.release_webhook_event, event.event_id)
        raise


async def _apply_billing(rt: ApiRuntime, event: BillingEvent) -> WebhookAccepted:
    """Apply the transition at once (a pure registry write), then queue the suspend or resume it implies
    (:func:`~paybill_infra.controlplane.transitions.billing_operation`, as the control plane's
    ``record_billing_event`` does in-process)."""
    before = await asyncio.to_thread(rt.reader.subscription, event.tenant)
    after: SubscriptionView = await asyncio.to_thread(rt.billing.record, event)
    tenant = await asyncio.to_thread(rt.reader.show, event.tenant)
    kind = rules.billing_operation(before.status if before else None, after.status, tenant.state)
    operation = None
    if kind is not None:
        request = {"reason": f"billing event {event.event_id}"}
        operation = await rt.submit(kind, event.tenant, "billing", request, f"billing:{event.event_id}")
    return WebhookAccepted(event_id=event.event_id, subscription=after, operation=operation)
