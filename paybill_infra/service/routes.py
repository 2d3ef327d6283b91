"""The HTTP API: tenants, operations (with SSE progress) and the billing webhook.

Every mutating route answers ``202 Accepted`` with the :class:`OperationView` to poll (``Location``
header) once the operation is recorded and its job deferred; workers do the rest. Checks that do not
depend on operations still in flight (authorization, the catalog, billing entitlement, existence, and
the tenant's state when nothing of it is queued) are answered at once with a problem document.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials

from paybill_infra.controlplane import (
    BillingEvent,
    OnboardRequest,
    RetentionPolicy,
    SubscriptionView,
    TenantState,
    TenantView,
    allows_provisioning,
)
from paybill_infra.errors import (
    BillingGateError,
    IllegalTransitionError,
    PaybillError,
    TenantExistsError,
    UnknownPlanError,
    UnknownTenantError,
    WebhookSignatureError,
)
from paybill_infra.schema.enums import SubscriptionStatus
from paybill_infra.schema.identifiers import SLUG_MAX, SLUG_MIN, SLUG_PATTERN
from paybill_infra.service.auth import check_tenant, require, require_platform
from paybill_infra.service.errors import ServiceError, conflict, not_found
from paybill_infra.service.events import sse_stream
from paybill_infra.service.limits import json_body
from paybill_infra.service.models import (
    JobKind,
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
    operation = await rt.submit(JobKind.ONBOARD, body.slug, caller.actor, body.model_dump(mode="json"), key)
    return _accepted(response, operation)


def _check_onboard(rt: ApiRuntime, body: OnboardRequest) -> None:
    if body.plan not in rt.plane.catalog:
        raise UnknownPlanError(body.plan, rt.plane.catalog.names, body.slug)
    if not allows_provisioning(body.subscription):
        raise BillingGateError(body.slug, "onboard", body.subscription.value)
    try:
        existing = rt.plane.show(body.slug)
    except UnknownTenantError:
        return
    replaceable = existing.state in (TenantState.OFFBOARDED, TenantState.FAILED)
    if not replaceable and (existing.plan, existing.display_name) != (body.plan, body.display_name):
        raise TenantExistsError(body.slug, existing.state.value, existing.plan)


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
            lambda: rt.plane.tenant_page(state=state, plan=plan, cloud=cloud, cursor=cursor, limit=limit)
        )
        if page.next_cursor is not None:
            response.headers[NEXT_CURSOR] = page.next_cursor
        return page.tenants
    try:
        own = await asyncio.to_thread(rt.plane.show, caller.tenant or "")
    except PaybillError:
        return []
    return [own] if state is None or own.state is state else []


@router.get("/tenants/{slug}", tags=["tenants"], summary="Show a tenant")
async def show_tenant(slug: SlugPath, rt: Runtime, caller: Caller) -> TenantView:
    require(caller, Scope.TENANTS_READ)
    check_tenant(caller, slug)
    return await asyncio.to_thread(rt.plane.show, slug)


@router.patch(
    "/tenants/{slug}/plan", status_code=202, dependencies=[JsonBody], tags=["tenants"], summary="Change a tenant's plan"
)
async def change_plan(
    slug: SlugPath, body: PlanChange, rt: Runtime, caller: Caller, response: Response, key: IdempotencyKey = None
) -> OperationView:
    require(caller, Scope.TENANTS_WRITE)
    check_tenant(caller, slug)
    await asyncio.to_thread(_check_plan_change, rt, caller, slug, body.plan)
    operation = await rt.submit(JobKind.CHANGE_PLAN, slug, caller.actor, {"plan": body.plan}, key)
    return _accepted(response, operation)


def _check_plan_change(rt: ApiRuntime, caller: Principal, slug: str, plan: str) -> None:
    """A tenant admin may raise its plan only up to the tier its subscription pays for (the plan billing
    last reported); a platform admin is bound by the subscription's status alone (the control plane's
    billing gate)."""
    tenant, catalog = rt.plane.show(slug), rt.plane.catalog
    if plan not in catalog:
        raise UnknownPlanError(plan, catalog.names, slug)
    if plan == tenant.plan and rt.settled_state(slug) is not None:
        raise conflict(f"tenant '{slug}' is already on plan '{plan}'", "plan")
    target, current = catalog[plan], catalog[tenant.plan]
    if caller.role is Role.TENANT_ADMIN and target.tier > current.tier:
        paid = tenant.subscription.plan if tenant.subscription else ""
        entitled = catalog[paid] if paid in catalog.names else current
        if target.tier > entitled.tier:
            raise ServiceError(403, "Forbidden", f"billing allows plans up to '{entitled.name}'", "plan")
    state = rt.settled_state(slug)
    if state is not None and state is not TenantState.ACTIVE:
        raise IllegalTransitionError(slug, "change the plan of", state.value, (TenantState.ACTIVE.value,))


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
    await asyncio.to_thread(_check_move, rt, slug, body)
    request = {"cloud": body.cloud.value, "region": body.region}
    return _accepted(response, await rt.submit(JobKind.MOVE, slug, caller.actor, request, key))


def _check_move(rt: ApiRuntime, slug: str, body: Move) -> None:
    tenant = rt.plane.show(slug)
    state = rt.settled_state(slug)
    if state is not None and state is not TenantState.ACTIVE:
        raise IllegalTransitionError(slug, "move", state.value, (TenantState.ACTIVE.value,))
    if (tenant.cloud, tenant.region) == (body.cloud, body.region or tenant.region):
        raise ServiceError(409, "Conflict", f"tenant is already in {tenant.cloud.value}/{tenant.region}", "region")


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
    return _accepted(response, await _toggle(rt, caller, slug, JobKind.SUSPEND, body or Reason(), key))


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
    return _accepted(response, await _toggle(rt, caller, slug, JobKind.RESUME, body or Reason(), key))


async def _toggle(
    rt: ApiRuntime, caller: Principal, slug: str, kind: JobKind, body: Reason, key: str | None
) -> OperationView:
    require(caller, Scope.TENANTS_WRITE)
    check_tenant(caller, slug)
    source = TenantState.ACTIVE if kind is JobKind.SUSPEND else TenantState.SUSPENDED
    state = await asyncio.to_thread(rt.settled_state, slug)
    if state is not None and state is not source:
        raise IllegalTransitionError(slug, kind.value, state.value, (source.value,))
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
    allowed = (TenantState.ACTIVE, TenantState.SUSPENDED, TenantState.FAILED)
    state = await asyncio.to_thread(rt.settled_state, slug)
    if state is not None and state not in allowed:
        raise IllegalTransitionError(slug, "offboard", state.value, tuple(s.value for s in allowed))
    operation = await rt.submit(JobKind.OFFBOARD, slug, caller.actor, {"retention": retention.value}, key)
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
    response_class=StreamingResponse,
    responses={200: {"description": "`progress` events, then one `end` event", "content": {"text/event-stream": {}}}},
)
async def operation_events(
    operation_id: uuid.UUID,
    rt: Runtime,
    caller: Caller,
    follow: bool = True,
    last_event_id: Annotated[int, Header(alias="Last-Event-ID", ge=0, le=2**62)] = 0,
) -> StreamingResponse:
    operation = await _visible_operation(rt, caller, operation_id)
    poll_s = rt.settings.event_poll_s
    stream = sse_stream(rt.store, rt.wakeups, operation.id, after=last_event_id, poll_s=poll_s, follow=follow)
    return StreamingResponse(stream, media_type="text/event-stream", headers={"Cache-Control": "no-store"})


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
    """Apply the transition at once (a pure registry write), then queue the suspend or resume it implies,
    as the control plane's ``record_billing_event`` would do in-process."""
    before = await asyncio.to_thread(rt.plane.subscription, event.tenant)
    after: SubscriptionView = await asyncio.to_thread(rt.plane.billing.record, event)
    tenant = await asyncio.to_thread(rt.plane.show, event.tenant)
    kind: JobKind | None = None
    if after.status is SubscriptionStatus.SUSPENDED and tenant.state is TenantState.ACTIVE:
        kind = JobKind.SUSPEND
    elif (
        before is not None
        and before.status is SubscriptionStatus.SUSPENDED
        and after.status is SubscriptionStatus.ACTIVE
        and tenant.state is TenantState.SUSPENDED
    ):
        kind = JobKind.RESUME
    operation = None
    if kind is not None:
        request = {"reason": f"billing event {event.event_id}"}
        operation = await rt.submit(kind, event.tenant, "billing", request, f"billing:{event.event_id}")
    return WebhookAccepted(event_id=event.event_id, subscription=after, operation=operation)
