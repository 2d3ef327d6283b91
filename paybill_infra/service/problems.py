"""Every error as RFC 9457 ``application/problem+json``, naming the field that failed.

A body that is not JSON at all is a 400 naming ``body`` (not a 422 pointing at a character offset);
a body of the wrong media type is a 415 and an oversized one a 413 (:mod:`paybill_infra.service.limits`).

The SDK's errors already carry the field and a message free of secrets (``paybill_infra.errors``); this
module only chooses the HTTP status. An unexpected exception becomes a bare 500 whose body says nothing
about the cause (the cause goes to the server log).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from paybill_infra.errors import (
    BillingGateError,
    IdempotencyConflictError,
    IllegalSubscriptionTransitionError,
    IllegalTransitionError,
    InvalidInputError,
    LockTimeoutError,
    PaybillError,
    PlanLimitError,
    RolloutBusyError,
    TenantExistsError,
    UnknownPlanError,
    UnknownRolloutError,
    UnknownTenantError,
    WebhookSignatureError,
)
from paybill_infra.service.errors import ServiceError
from paybill_infra.service.models import Problem, ProblemField

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("paybill.service")

_STATUS: tuple[tuple[type[PaybillError], int, str, str], ...] = (
    (UnknownTenantError, 404, "Not Found", "slug"),
    (UnknownRolloutError, 404, "Not Found", "id"),
    (RolloutBusyError, 409, "Conflict", "kind"),
    (UnknownPlanError, 422, "Unprocessable Content", "plan"),
    (PlanLimitError, 422, "Unprocessable Content", "plan"),
    (InvalidInputError, 422, "Unprocessable Content", ""),
    (TenantExistsError, 409, "Conflict", "slug"),
    (IllegalTransitionError, 409, "Conflict", "state"),
    (BillingGateError, 409, "Conflict", "subscription"),
    (IllegalSubscriptionTransitionError, 409, "Conflict", "status"),
    (IdempotencyConflictError, 409, "Conflict", "Idempotency-Key"),
    (WebhookSignatureError, 401, "Unauthorized", "Paybill-Signature"),
    (LockTimeoutError, 503, "Service Unavailable", ""),
)


def problem(status: int, title: str, detail: str, errors: tuple[ProblemField, ...] = ()) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail, errors=errors)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body.model_dump(mode="json"), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_error(err: PaybillError) -> JSONResponse:
    fields: tuple[ProblemField, ...]
    if isinstance(err, ServiceError):
        fields = (ProblemField(field=err.field, message=err.detail),) if err.field else ()
        return problem(err.status, err.title, err.detail, fields)
    for kind, status, title, field in _STATUS:
        if isinstance(err, kind):
            listed = getattr(err, "problems", None)
            if listed:
                fields = tuple(ProblemField(field=p.path or field, message=p.message) for p in listed)
            else:
                fields = (ProblemField(field=field, message=str(err)),) if field else ()
            return problem(status, title, str(err), fields)
    log.error("unmapped error %s", type(err).__name__)
    return problem(500, "Internal Server Error", "the request failed; see the server log")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    async def paybill(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, PaybillError):
            raise exc
        return from_error(exc)

    async def validation(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):
            raise exc
        errors = exc.errors()
        malformed = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if malformed is not None:
            reason = str((malformed.get("ctx") or {}).get("error", "invalid JSON"))
            position = malformed.get("loc", ("body", 0))[-1]
            detail = f"the body is not valid JSON: {reason} at character {position}"
            return problem(400, "Bad Request", detail, (ProblemField(field="body", message=detail),))
        fields = tuple(
            ProblemField(field=".".join(str(p) for p in e.get("loc", ())), message=str(e.get("msg", "invalid")))
            for e in errors
        )
        return problem(422, "Unprocessable Content", "the request failed validation", fields)

    async def http(_request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):
            raise exc
        return problem(exc.status_code, str(exc.detail), str(exc.detail))

    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled %s", type(exc).__name__)
        return problem(500, "Internal Server Error", "the request failed; see the server log")

    app.add_exception_handler(PaybillError, paybill)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)
    app.add_exception_handler(Exception, unexpected)
