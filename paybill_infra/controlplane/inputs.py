"""Validation of the scalar inputs of the control plane's calls (slugs, plans, actors, keys, operation ids):
a bad value is an :class:`~paybill_infra.errors.InvalidInputError` naming the field, before anything runs.

Kept apart from the runtime so that read-only processes (:mod:`~paybill_infra.controlplane.reader`)
validate the same way without importing the engine.
"""

from __future__ import annotations

import uuid

from pydantic import TypeAdapter, ValidationError

from paybill_infra.controlplane.models import Actor, IdempotencyKey
from paybill_infra.errors import FieldProblem, InvalidInputError
from paybill_infra.schema.identifiers import PlanName, Slug

_SLUG = TypeAdapter(Slug)
_PLAN = TypeAdapter(PlanName)
_ACTOR = TypeAdapter(Actor)
_KEY = TypeAdapter(IdempotencyKey)


def valid_slug(value: str) -> str:
    return _validated(_SLUG, value, "tenant slug", "slug")


def valid_plan(value: str) -> str:
    return _validated(_PLAN, value, "plan", "plan")


def valid_actor(value: str) -> str:
    return _validated(_ACTOR, value, "actor", "actor")


def valid_key(value: str) -> str:
    return _validated(_KEY, value, "idempotency key", "key")


def valid_operation_id(value: str) -> str:
    """A caller-chosen operation id: a UUID, in its canonical form."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidInputError("operation id", [FieldProblem("operation_id", "expected a UUID")]) from None


def _validated(adapter: TypeAdapter[str], value: str, what: str, field: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as err:
        raise InvalidInputError(what, [FieldProblem(field, e["msg"]) for e in err.errors()]) from None
