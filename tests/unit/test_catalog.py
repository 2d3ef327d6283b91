"""The plan catalog file: loading, and errors that name the file, the entry and the field."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from paybill_infra.catalog import catalog_json_schema, load_catalog
from paybill_infra.errors import CatalogError, UnknownPlanError

GOOD = {
    "plans": [
        {
            "name": "basic",
            "tier": 1,
            "isolation": "pooled",
            "price": {"amount": "5", "currency": "USD"},
            "billing_id": "b",
        },
        {
            "name": "pro",
            "tier": 2,
            "isolation": "silo",
            "price": {"amount": "50", "currency": "USD"},
            "billing_id": "p",
        },
    ]
}


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "plans.yaml"
    path.write_text(yaml.safe_dump(document) if not isinstance(document, str) else document)
    return path


def test_repo_catalog_loads(repo_root: Path) -> None:
    catalog = load_catalog(repo_root / "plans.yaml")
    assert [p.name for p in catalog] == ["starter", "growth", "enterprise"]
    assert {p.isolation.value for p in catalog} == {"pooled", "bridge", "silo"}


def test_unknown_plan_lists_the_known_ones(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, GOOD))
    with pytest.raises(UnknownPlanError, match="unknown plan 'gold'; expected one of: basic, pro"):
        catalog["gold"]


def test_field_error_names_file_entry_and_field(tmp_path: Path) -> None:
    bad = {"plans": [GOOD["plans"][0], {**GOOD["plans"][1], "limits": {"seats": -3}}]}
    path = write(tmp_path, bad)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    err = info.value
    assert err.source == str(path)
    assert err.entry == "plans[1] 'pro'"
    assert err.problems[0].path == "limits.seats"
    assert "greater than or equal to 1" in str(err)


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ("plans: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "exactly one key 'plans'"),
        ({"plans": []}, "defines no plan"),
        ({"plans": [GOOD["plans"][0], GOOD["plans"][0]]}, "duplicate plan name"),
        ({"plans": [GOOD["plans"][0], {**GOOD["plans"][1], "tier": 1}]}, "share a tier"),
        ({"plans": [{**GOOD["plans"][0], "surprise": 1}]}, "surprise"),
    ],
)
def test_malformed_catalogs(tmp_path: Path, document: object, needle: str) -> None:
    with pytest.raises(CatalogError, match=needle):
        load_catalog(write(tmp_path, document))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read file"):
        load_catalog(tmp_path / "nope.yaml")


def test_json_schema_accepts_the_repo_catalog_and_rejects_bad_ones(repo_root: Path) -> None:
    schema = catalog_json_schema()
    jsonschema.validate(yaml.safe_load((repo_root / "plans.yaml").read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"plans": [{"name": "x"}]}, schema)
