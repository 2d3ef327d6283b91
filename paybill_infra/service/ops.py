"""The operations view for on-call: fleet status, tenants, recent operations and drift.

``GET /ops/summary`` is the JSON an alerting job or a dashboard reads (the browser console,
:mod:`paybill_infra.service.console`, renders it); ``POST /ops/drift`` queues a drift check (it runs the engine's
``refresh``, so it is a job like any other) whose report the next summary shows.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response

from paybill_infra.controlplane import DriftReport, OperationKind, OperationStatus
from paybill_infra.schema.identifiers import SLUG_MAX, SLUG_MIN, SLUG_PATTERN
from paybill_infra.service.auth import require, require_platform
from paybill_infra.service.models import OperationView, OpsSummary, Scope
from paybill_infra.service.routes import PROBLEMS, Caller, Runtime
from paybill_infra.service.runtime import ApiRuntime

router = APIRouter(prefix="/ops", tags=["ops"], responses=PROBLEMS)
RECENT = 50


def summary(rt: ApiRuntime) -> OpsSummary:
    drifts = [
        op for op in rt.store.recent(kind=OperationKind.DRIFT, limit=20) if op.status is OperationStatus.SUCCEEDED
    ]
    last = drifts[0] if drifts else None
    return OpsSummary(
        fleet=rt.reader.status(),
        tenants=tuple(rt.reader.tenants()),
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
        await asyncio.to_thread(rt.reader.show, tenant)
    operation = await rt.submit(OperationKind.DRIFT, tenant, caller.actor, {"tenant": tenant}, None)
    response.headers["Location"] = f"/operations/{operation.id}"
    return operation
