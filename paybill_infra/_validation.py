"""Turning pydantic's errors into the SDK's typed errors, with the entry and field named."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from paybill_infra.errors import FieldProblem, InvalidInputError

M = TypeVar("M", bound=BaseModel)


def problems_from(error: ValidationError, prefix: str = "") -> list[FieldProblem]:
    """One :class:`FieldProblem` per pydantic error, located by a dotted path (``limits.seats``)."""
    out = []
    for item in error.errors(include_url=False, include_input=False):
        path = ".".join(str(p) for p in item["loc"] if not str(p).startswith("function-"))
        full = ".".join(p for p in (prefix, path) if p)
        out.append(FieldProblem(full, item["msg"]))
    return out


def validate_entries(
    entries: Sequence[object],
    model: type[M],
    *,
    source: str,
    error: type[InvalidInputError],
    list_name: str,
    key: str,
    what: str,
    prepare: Callable[[object], object] = lambda entry: entry,
) -> list[M]:
    """Validate a list of ``model`` entries unique by ``key``. The first bad or repeated entry raises
    ``error`` naming ``<list_name>[i] '<key>'`` and the field, so a user finds it in the file at once."""
    items: list[M] = []
    seen: dict[object, int] = {}
    for index, entry in enumerate(entries):
        label = f"{list_name}[{index}]"
        if isinstance(entry, Mapping) and isinstance(entry.get(key), str):
            label += f" '{entry[key]}'"
        try:
            item = model.model_validate(prepare(entry))
        except ValidationError as err:
            raise error(source, problems_from(err), entry=label) from None
        value = getattr(item, key)
        if value in seen:
            raise error(
                source, [FieldProblem(key, f"duplicate {what} (first at {list_name}[{seen[value]}])")], entry=label
            )
        seen[value] = index
        items.append(item)
    return items
