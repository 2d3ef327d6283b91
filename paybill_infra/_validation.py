"""Turning pydantic's errors into the SDK's typed errors, with the entry and field named."""

from __future__ import annotations

from pydantic import ValidationError

from paybill_infra.errors import FieldProblem


def problems_from(error: ValidationError, prefix: str = "") -> list[FieldProblem]:
    """One :class:`FieldProblem` per pydantic error, located by a dotted path (``limits.seats``)."""
    out = []
    for item in error.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in item["loc"] if not str(p).startswith("function-"))
        full = ".".join(p for p in (prefix, path) if p)
        out.append(FieldProblem(full, item["msg"]))
    return out
