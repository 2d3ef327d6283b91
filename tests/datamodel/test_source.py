"""The schema file at the edge: the shipped default, renames, refusals with paths, and the stack config key."""

from __future__ import annotations

from pathlib import Path

import pytest

from paybill_infra.datamodel.source import DEFAULT_SCHEMA_FILE, load_policy_over, load_schema_file, parse_schema_file
from paybill_infra.errors import DataSchemaError, FleetConfigError, InvalidInputError
from paybill_infra.local.app_schema import APP_SCHEMA
from paybill_infra.program import fleet_topologies

SCHEMAS = Path(__file__).resolve().parent / "schemas"
SHARED = {
    "name": "regions",
    "tenant_scoped": False,
    "primary_key": ["code"],
    "columns": [
        {"name": "code", "type": "text", "nullable": False},
        {"name": "tenant_id", "type": "text", "nullable": False},
    ],
}


def test_the_shipped_default_is_the_local_targets_schema_and_hashes_stably(repo_root: Path) -> None:
    default = load_schema_file()
    assert default.source == str(DEFAULT_SCHEMA_FILE)
    assert default.data == APP_SCHEMA
    assert load_schema_file(repo_root / "examples" / "data-model" / "schema.yaml").content_hash == default.content_hash
    assert default.content_hash != load_schema_file(SCHEMAS / "v1.yaml").content_hash


def test_renames_are_read_and_kept_in_the_document() -> None:
    v3 = load_schema_file(SCHEMAS / "v3.yaml")
    rename = v3.rename_of("accounts", "display_name")
    assert rename is not None and rename.renamed_from == "name"
    assert rename.path == "tables[0].columns[3].renamed_from"
    assert parse_schema_file(v3.document(), "again").content_hash == v3.content_hash


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["tables"][0]["columns"][2].update(renamed_from="name"), "tables[0].columns[2].renamed_from"),
        (lambda d: d["tables"][0]["columns"][2].update(renamed_from="id"), "tables[0].columns[2].renamed_from"),
        (lambda d: d["tables"].append(SHARED), "tables[2].tenant_scoped"),
        (lambda d: d["tables"].append({**SHARED, "tenant_scoped": True, "name": "codes"}), "tables[2].primary_key"),
    ],
)
def test_bad_documents_name_their_path(mutate: object, path: str) -> None:
    document = load_schema_file(SCHEMAS / "v1.yaml").document()
    mutate(document)  # type: ignore[operator]
    with pytest.raises(DataSchemaError) as caught:
        parse_schema_file(document, "edited.yaml")
    assert any(p.path == path for p in caught.value.problems), caught.value.problems


def test_indexes_are_read_and_a_file_without_them_hashes_as_before() -> None:
    v4, v5 = (load_schema_file(SCHEMAS / f"v{v}.yaml") for v in (4, 5))
    assert [i.name for i in v5.data.table("accounts").indexes] == ["accounts_display_name_key", "accounts_email_idx"]
    assert v5.data.table("accounts").indexes[0].unique
    assert all("indexes" not in table for table in v4.document()["tables"])
    assert parse_schema_file(v5.document(), "again").content_hash == v5.content_hash


def _with_index(**index: object) -> dict[str, object]:
    document = load_schema_file(SCHEMAS / "v5.yaml").document()
    document["tables"][1]["indexes"].append(index)
    return document


@pytest.mark.parametrize(
    ("index", "path", "message"),
    [
        ({"name": "orders_x", "columns": ["nope"]}, "tables[1].indexes[1].columns[0]", "has no column 'nope'"),
        ({"name": "orders_x", "columns": ["id", "id"]}, "tables[1].indexes[1].columns[1]", "listed twice"),
        ({"name": "accounts_email_idx", "columns": ["id"]}, "tables[1].indexes[1].name", "declared twice"),
        ({"name": "notes", "columns": ["id"]}, "tables[1].indexes[1].name", "name of a table"),
        ({"name": "Orders-X", "columns": ["id"]}, "tables[1].indexes[1].name", "pattern"),
        ({"name": "orders_x", "columns": []}, "tables[1].indexes[1].columns", "at least 1"),
        ({"name": "orders_x", "columns": ["id"], "unique": True}, "tables[1].indexes[1].columns", "tenant_id"),
        ({"name": "orders_x", "columns": ["id"], "where": "x"}, "tables[1].indexes[1].where", "not permitted"),
    ],
)
def test_bad_index_declarations_name_their_path(index: dict[str, object], path: str, message: str) -> None:
    with pytest.raises(DataSchemaError) as caught:
        parse_schema_file(_with_index(**index), "indexed.yaml")
    assert any(p.path == path and message in p.message for p in caught.value.problems), caught.value.problems


def test_a_policy_that_no_longer_fits_the_schema_is_refused() -> None:
    v1 = load_schema_file(SCHEMAS / "v1.yaml")
    document = v1.document()
    accounts = document["tables"][0]
    accounts["columns"] = [c for c in accounts["columns"] if c["name"] != "plan_code"]
    with pytest.raises(InvalidInputError, match="plan_code"):
        load_policy_over(SCHEMAS / "policy.yaml", parse_schema_file(document, "without plan_code"))


def test_stack_config_names_the_schema_file(repo_root: Path) -> None:
    config = {"tenants": [], "dataSchema": str(SCHEMAS / "bad_no_tenant_column.yaml")}
    with pytest.raises(FleetConfigError) as caught:
        fleet_topologies(config, repo_root, "dev")
    assert "dataSchema" in str(caught.value) and "tables[2].columns" in str(caught.value)
