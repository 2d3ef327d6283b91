"""The operations view for on-call: fleet status, tenants, recent operations and drift.

``GET /ops/summary`` is the JSON an alerting job or a dashboard reads; ``GET /ops`` renders the same data
as one HTML page (escaped, no scripts); ``POST /ops/drift`` queues a drift check (it runs the engine's
``refresh``, so it is a job like any other) whose report the next summary shows.
"""

from __future__ import annotations

import asyncio
from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse

from paybill_infra.controlplane import DriftReport
from paybill_infra.schema.identifiers import SLUG_MAX, SLUG_MIN, SLUG_PATTERN
from paybill_infra.service.auth import require, require_platform
from paybill_infra.service.models import JobKind, JobStatus, OperationView, OpsSummary, Scope
from paybill_infra.service.routes import PROBLEMS, Caller, Runtime
from paybill_infra.service.runtime import ApiRuntime

router = APIRouter(prefix="/ops", tags=["ops"], responses=PROBLEMS)
RECENT = 50


def summary(rt: ApiRuntime) -> OpsSummary:
    drifts = [op for op in rt.store.recent(kind=JobKind.DRIFT, limit=20) if op.status is JobStatus.SUCCEEDED]
    last = drifts[0] if drifts else None
    return OpsSummary(
        fleet=rt.plane.status(),
        tenants=tuple(rt.plane.tenants()),
        operations=tuple(rt.store.recent(limit=RECENT)),
        queue=rt.store.counts(),
        last_drift=last,
        drift=DriftReport.model_validate(last.summary) if last is not None else None,
    )


@router.get("/summary", summary="Fleet, tenants, recent operations and the last drift report")
async def ops_summary(rt: Runtime, caller: Caller) -> OpsSummary:
    require(caller, Scope.OPS_READ)
    require_platform(caller, "read the operations view")
    return await asyncio.to_thread(summary, rt)


@router.post("/drift", status_code=202, summary="Queue a drift check (one tenant, or the fleet)")
async def check_drift(
    rt: Runtime,
    caller: Caller,
    response: Response,
    tenant: Annotated[str | None, Query(min_length=SLUG_MIN, max_length=SLUG_MAX, pattern=SLUG_PATTERN)] = None,
) -> OperationView:
    require(caller, Scope.OPS_WRITE)
    require_platform(caller, "check drift")
    if tenant is not None:
        await asyncio.to_thread(rt.plane.show, tenant)
    operation = await rt.submit(JobKind.DRIFT, tenant, caller.actor, {"tenant": tenant}, None)
    response.headers["Location"] = f"/operations/{operation.id}"
    return operation


@router.get("", response_class=HTMLResponse, summary="The operations page")
async def ops_page(rt: Runtime, caller: Caller) -> HTMLResponse:
    require(caller, Scope.OPS_READ)
    require_platform(caller, "read the operations view")
    return HTMLResponse(render(await asyncio.to_thread(summary, rt)))


def _table(headers: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(data: OpsSummary) -> str:
    """One self-contained page; every value is escaped."""
    tenants = _table(
        ("slug", "plan", "isolation", "cloud", "region", "state", "stack", "subscription"),
        [
            (
                t.slug,
                t.plan,
                t.isolation.value,
                t.cloud.value,
                t.region,
                t.state.value,
                t.stack or "",
                t.subscription.status if t.subscription else "",
            )
            for t in data.tenants
        ],
    )
    operations = _table(
        ("created", "kind", "tenant", "status", "phase", "actor", "error"),
        [
            (
                o.created_at.isoformat(timespec="seconds"),
                o.kind,
                o.tenant or "fleet",
                o.status,
                o.phase,
                o.actor,
                o.error or "",
            )
            for o in data.operations
        ],
    )
    drift = (
        _table(("stack", "resource", "fields"), [(d.stack, d.urn, ", ".join(d.fields)) for d in data.drift.drifted])
        if data.drift is not None
        else "<p>no drift check yet (POST /ops/drift)</p>"
    )
    counts = ", ".join(f"{escape(k)}: {v}" for k, v in sorted(data.queue.items())) or "none"
    states = ", ".join(f"{escape(k)}: {v}" for k, v in data.fleet.tenants.items()) or "none"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Paybill operations</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}</style></head><body>"
        f"<h1>Paybill operations</h1><p>Tenants by state: {states}</p><p>Operations by status: {counts}</p>"
        f"<h2>Tenants</h2>{tenants}<h2>Recent operations</h2>{operations}<h2>Drift</h2>{drift}</body></html>"
    )
