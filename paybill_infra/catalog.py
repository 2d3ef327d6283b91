"""The plan catalog: a YAML file of plans, validated as a whole before anything uses it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from paybill_infra._validation import validate_entries
from paybill_infra.errors import CatalogError, FieldProblem, UnknownPlanError
from paybill_infra.schema.plan import Plan


class PlanCatalog:
    """An immutable, name-indexed set of plans."""

    def __init__(self, plans: tuple[Plan, ...], source: str = "<memory>") -> None:
        self.source = source
        self._plans = {p.name: p for p in plans}

    def __getitem__(self, name: str) -> Plan:
        try:
            return self._plans[name]
        except KeyError:
            raise UnknownPlanError(name, tuple(self._plans)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._plans

    def __iter__(self) -> Iterator[Plan]:
        return iter(sorted(self._plans.values(), key=lambda p: (p.tier, p.name)))

    def __len__(self) -> int:
        return len(self._plans)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self)


def parse_catalog(document: object, source: str) -> PlanCatalog:
    """Validate a parsed catalog document (``{"plans": [...]}``); errors name the entry and the field."""
    if not isinstance(document, Mapping) or set(document) != {"plans"} or not isinstance(document["plans"], list):
        raise CatalogError(source, [FieldProblem("", "expected a mapping with exactly one key 'plans' (a list)")])
    entries: list[Any] = document["plans"]
    if not entries:
        raise CatalogError(source, [FieldProblem("plans", "the catalog defines no plan")])
    plans = validate_entries(
        entries, Plan, source=source, error=CatalogError, list_name="plans", key="name", what="plan name"
    )
    tiers = [p.tier for p in plans]
    if len(set(tiers)) != len(tiers):
        raise CatalogError(source, [FieldProblem("plans", "two plans share a tier; tiers must rank plans uniquely")])
    return PlanCatalog(tuple(plans), source)


def load_catalog(path: str | Path) -> PlanCatalog:
    """Read and validate ``plans.yaml``. Raises :class:`CatalogError` naming the file, entry and field."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise CatalogError(str(path), [FieldProblem("", f"cannot read file: {err.strerror}")]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise CatalogError(
            str(path), [FieldProblem(where, f"not valid YAML: {getattr(err, 'problem', err)}")]
        ) from None
    return parse_catalog(document, str(path))


SAMPLE_CATALOG = Path(__file__).with_name("sample_plans.yaml")
"""A three-plan catalog (pooled starter, bridge growth, silo enterprise) shipped in the wheel, so a program
outside this repository has a catalog to start from: ``load_catalog(SAMPLE_CATALOG)`` or ``paybill plans
init``, which copies it to ``plans.yaml``."""


def catalog_json_schema() -> dict[str, Any]:
    """JSON Schema of the catalog file, for editors and CI validation (``paybill plans schema``)."""
    plans = TypeAdapter(list[Plan]).json_schema()
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Paybill plan catalog",
        "type": "object",
        "additionalProperties": False,
        "required": ["plans"],
        "properties": {"plans": {**plans, "minItems": 1}},
    }
    if "$defs" in plans:
        schema["$defs"] = schema["properties"]["plans"].pop("$defs")
    return schema
