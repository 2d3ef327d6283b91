"""A pooled tenant's membership carries only what it needs of the schema (its tables' names, parents first,
and the tenant column), not the whole document every member of a pool would store twice; memberships in state
written before that still resolve their tables from the document they carry."""

from __future__ import annotations

from pathlib import Path

from paybill_infra.datamodel.source import DataModel, load_schema_file
from paybill_infra.local import sql as q
from paybill_infra.local.app_schema import tables_in
from paybill_infra.local.provider.tenants import _tables, _tenant_column
from paybill_infra.local.resources import _membership_inputs

EXAMPLE = Path(__file__).resolve().parents[1] / "datamodel" / "schemas" / "v3.yaml"


def test_a_membership_carries_table_names_not_the_schema_document() -> None:
    file = load_schema_file(EXAMPLE)
    inputs = _membership_inputs(DataModel(3, file.document()))
    assert set(inputs) == {"tables", "tenant_column"}
    assert inputs["tables"] == [t.name for t in tables_in(None, file.data)]
    assert inputs["tables"][0] == "accounts" and set(inputs["tables"]) == {"accounts", "orders", "notes"}
    assert inputs["tenant_column"] == file.data.tenant_column
    assert _membership_inputs(None) == {"tables": list(q.TABLE_NAMES), "tenant_column": q.TENANT_COLUMN}


def test_memberships_written_before_keep_resolving_their_tables_from_the_document() -> None:
    file = load_schema_file(EXAMPLE)
    legacy = {"data_schema": file.document(), "schema_version": 3}
    assert _tables(legacy) == tuple(_membership_inputs(DataModel(3, file.document()))["tables"])
    assert _tenant_column(legacy) == file.data.tenant_column
    assert _tables({}) == q.TABLE_NAMES and _tenant_column({}) == q.TENANT_COLUMN
    assert _tables({"tables": ["a", "b"], "data_schema": file.document()}) == ("a", "b")
