"""DataSchema and policy validation: unsafe identifiers, tenant columns, dangling keys; every error names its path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from agent_acl import AclError, PolicyError, SchemaError, load_policy, parse_policy, parse_schema
from tests.agent_acl.conftest import POLICY_FILE, policy_document


def document() -> dict[str, Any]:
    return policy_document()


def paths(err: PolicyError) -> list[str]:
    return [p.path for p in err.problems]


def test_example_policy_loads() -> None:
    policy = load_policy(POLICY_FILE)
    assert policy.name == "billing"
    assert [t.name for t in policy.data.tables] == ["currencies", "customers", "invoices"]
    assert policy.agent("collector").workflows == ("collect_overdue", "escalate")


@pytest.mark.parametrize(
    "bad",
    [
        "Customers",
        "drop table",
        "x;y",
        "select",
        "user",
        "pg_class",
        "acl_x",
        "a__b",
        "_x",
        "x_",
        "ctid",
        "é",
        "a" * 41,
        "",
    ],
)
def test_unsafe_or_reserved_table_names_are_rejected(bad: str) -> None:
    doc = document()
    doc["schema"]["tables"][0]["name"] = bad
    with pytest.raises(SchemaError) as info:
        parse_policy(doc, "p.yaml")
    assert "schema.tables[0].name" in paths(info.value)
    assert "p.yaml" in str(info.value)


def test_unsafe_column_name_path_is_precise() -> None:
    doc = document()
    doc["schema"]["tables"][2]["columns"][3]["name"] = 'amount"; DROP TABLE x; --'
    with pytest.raises(SchemaError) as info:
        parse_policy(doc)
    assert "schema.tables[2].columns[3].name" in paths(info.value)


def test_tenant_scoped_table_without_tenant_column() -> None:
    doc = document()
    table = doc["schema"]["tables"][1]
    table["columns"] = [c for c in table["columns"] if c["name"] != "tenant_id"]
    with pytest.raises(SchemaError) as info:
        parse_policy(doc)
    assert any(p.path == "schema.tables[1].columns" and "no tenant column" in p.message for p in info.value.problems)


def test_tenant_column_must_be_text_not_null() -> None:
    doc = document()
    for column in doc["schema"]["tables"][1]["columns"]:
        if column["name"] == "tenant_id":
            column["nullable"] = True
    with pytest.raises(SchemaError, match="must be text, nullable: false"):
        parse_policy(doc)


def test_dangling_foreign_key_table_and_columns() -> None:
    doc = document()
    fk = doc["schema"]["tables"][2]["foreign_keys"][0]
    fk["references"]["table"] = "clients"
    with pytest.raises(SchemaError) as info:
        parse_policy(doc)
    assert "schema.tables[2].foreign_keys[0].references.table" in paths(info.value)
    doc = document()
    doc["schema"]["tables"][2]["foreign_keys"][0]["columns"] = ["tenant_id", "client_id"]
    with pytest.raises(SchemaError) as info:
        parse_policy(doc)
    assert "schema.tables[2].foreign_keys[0].columns[1]" in paths(info.value)


def test_foreign_key_between_tenant_tables_must_carry_tenant() -> None:
    doc = document()
    fk = doc["schema"]["tables"][2]["foreign_keys"][0]
    fk["columns"] = ["customer_id"]
    fk["references"]["columns"] = ["id"]
    with pytest.raises(SchemaError, match="bypass row-level security") as info:
        parse_policy(doc)
    assert "schema.tables[2].foreign_keys[0]" in paths(info.value)


def test_foreign_key_must_target_a_key() -> None:
    doc = document()
    fk = doc["schema"]["tables"][2]["foreign_keys"][0]
    fk["columns"] = ["tenant_id", "note"]
    fk["references"]["columns"] = ["tenant_id", "name"]
    with pytest.raises(SchemaError, match="must be the primary key"):
        parse_policy(doc)


def test_shared_table_cannot_reference_tenant_table() -> None:
    doc = document()
    doc["schema"]["tables"][0]["columns"].append({"name": "owner_id", "type": "bigint"})
    doc["schema"]["tables"][0]["foreign_keys"] = [
        {"name": "owner", "columns": ["owner_id"], "references": {"table": "customers", "columns": ["id"]}}
    ]
    with pytest.raises(SchemaError, match="shared table 'currencies' may not reference"):
        parse_policy(doc)


def test_defaults_must_fit_their_type() -> None:
    doc = document()
    doc["schema"]["tables"][2]["columns"][3]["default"] = "lots"
    doc["schema"]["tables"][2]["columns"][1]["generated"] = "now"
    with pytest.raises(SchemaError) as info:
        parse_policy(doc)
    assert {"schema.tables[2].columns[3].default", "schema.tables[2].columns[1].generated"} <= set(paths(info.value))


def test_several_problems_are_all_reported() -> None:
    doc = document()
    doc["schema"]["tables"][1]["name"] = "invoices"
    doc["schema"]["tables"][2]["primary_key"] = ["nope"]
    with pytest.raises(SchemaError) as info:
        parse_policy(doc)
    assert {"schema.tables[2].name", "schema.tables[2].primary_key[0]"} <= set(paths(info.value))


def test_parse_schema_alone() -> None:
    schema = parse_schema(document()["schema"])
    assert schema.table("invoices").tenant_scoped
    with pytest.raises(SchemaError):
        parse_schema({"tables": []})


def step_doc(doc: dict[str, Any], workflow: int, step: int) -> dict[str, Any]:
    found = doc["workflows"][workflow]["steps"][step]
    assert isinstance(found, dict)
    return found


@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [
        (lambda d: step_doc(d, 0, 0)["columns"].append("ghost"), "workflows[0].steps[0].columns[5]", "no column"),
        (
            lambda d: step_doc(d, 0, 0)["where"].append({"column": "tenant_id", "param": "min_amount"}),
            "workflows[0].steps[0].where[2].column",
            "trusted context",
        ),
        (
            lambda d: step_doc(d, 0, 1)["values"].append({"column": "tenant_id", "value": "globex"}),
            "workflows[0].steps[1].values[1].column",
            "trusted context",
        ),
        (lambda d: step_doc(d, 0, 1).update(where=[]), "workflows[0].steps[1].where", "at least one condition"),
        (
            lambda d: step_doc(d, 0, 0)["where"].append({"column": "status", "param": "nope"}),
            "workflows[0].steps[0].where[2].param",
            "no parameter",
        ),
        (
            lambda d: step_doc(d, 0, 0)["where"].append({"column": "status", "param": "min_amount"}),
            "workflows[0].steps[0].where[2].param",
            "not of the column type",
        ),
        (lambda d: step_doc(d, 2, 1)["values"].pop(), "workflows[2].steps[1].values", "required column"),
        (
            lambda d: step_doc(d, 2, 0).update(
                table="currencies",
                operation="delete",
                columns=[],
                where=[{"column": "code", "param": "name"}],
                params=[{"name": "name", "type": "text"}],
            ),
            "workflows[2].steps[0].operation",
            "shared by all tenants",
        ),
        (lambda d: d["agents"][0]["workflows"].append("ghost"), "agents[0].workflows[2]", "unknown workflow"),
        (lambda d: d["agents"][0].update(clearance="secret"), "agents[0].clearance", "no agent may be cleared"),
        (
            lambda d: step_doc(d, 0, 0)["where"].append({"column": "note", "op": "ne", "value": "x"}),
            "agents[0].workflows",
            "above the agent's clearance",
        ),
        (
            lambda d: d["agents"][1]["approval"].update(steps=["collect_overdue.flag"]),
            "agents[1].approval.steps[0]",
            "not a step of this agent",
        ),
    ],
)
def test_policy_problems_name_their_path(mutate: Any, path: str, message: str) -> None:
    doc = copy.deepcopy(document())
    mutate(doc)
    with pytest.raises(PolicyError) as info:
        parse_policy(doc)
    assert any(p.path == path and message in p.message for p in info.value.problems), info.value.problems


def test_unknown_keys_are_rejected() -> None:
    doc = document()
    doc["workflows"][0]["steps"][0]["sql"] = "SELECT * FROM invoices"
    with pytest.raises(PolicyError) as info:
        parse_policy(doc)
    assert "workflows[0].steps[0].sql" in paths(info.value)


def test_load_policy_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(PolicyError, match="cannot read file"):
        load_policy(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(broken)
    assert issubclass(PolicyError, AclError)


def test_models_are_frozen() -> None:
    policy = load_policy(POLICY_FILE)
    with pytest.raises(ValueError, match="frozen"):
        policy.name = "other"  # type: ignore[misc]
