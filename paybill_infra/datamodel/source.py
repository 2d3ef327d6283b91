"""The user's schema file: an ``agent_acl`` ``DataSchema`` in YAML, plus ``renamed_from`` on a column.

It is the one declaration of the tenant tables: provisioning (every topology, every target), the SQLAlchemy
models (:func:`agent_acl.models.build_metadata`) and the agent ACL (a policy names only workflows and agents
and refers to this file) are all derived from it. A project names it once (``control_plane: data_schema:``
in ``paybill.yaml``, ``paybill:dataSchema`` in stack config, ``PAYBILL_DATA_SCHEMA`` for the service); a
project that names none gets :data:`DEFAULT_SCHEMA_FILE`.

``renamed_from: <old column>`` on a column says it replaces ``<old column>`` of the same table: the
migration copies the data over instead of starting empty (see :mod:`~paybill_infra.datamodel.changes`).

The tables the local target provisions are tenant-scoped and keyed by ``id`` (the topology migration's data
mover remaps that key between placements); both are checked here, with the file's paths.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from agent_acl import AclPolicy, DataSchema
from agent_acl.errors import PolicyError, SchemaError
from agent_acl.policy import parse_policy, parse_schema
from agent_acl.schema import Identifier
from paybill_infra.errors import DataSchemaError, FieldProblem, InvalidInputError

DEFAULT_SCHEMA_FILE = Path(__file__).resolve().with_name("default_schema.yaml")
KEY_COLUMN = "id"
RENAME_KEY = "renamed_from"


@dataclass(frozen=True)
class DataModel:
    """A recorded schema version as the local resources receive it: plain data in their inputs, so a program
    stays picklable and a version change shows in ``pulumi preview``."""

    version: int
    document: Mapping[str, Any]

    def inputs(self) -> dict[str, Any]:
        return {"data_schema": dict(self.document), "schema_version": self.version}


class Rename(BaseModel):
    """Column ``column`` of ``table`` replaces ``renamed_from``; ``path`` locates it in the file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: Identifier
    column: Identifier
    renamed_from: Identifier
    path: str


class SchemaFile(BaseModel):
    """A validated schema file: the data schema, its renames, and the document they came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str
    data: DataSchema
    renames: tuple[Rename, ...] = ()

    def document(self) -> dict[str, Any]:
        """The file's content as plain data (what the registry stores for the version)."""
        document = self.data.model_dump(mode="json", by_alias=True)
        for rename in self.renames:
            table = next(t for t in document["tables"] if t["name"] == rename.table)
            column = next(c for c in table["columns"] if c["name"] == rename.column)
            column[RENAME_KEY] = rename.renamed_from
        return document

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical document: equal files (whatever their formatting) hash the same."""
        canonical = json.dumps(self.document(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def rename_of(self, table: str, column: str) -> Rename | None:
        return next((r for r in self.renames if r.table == table and r.column == column), None)


def _split_renames(document: Any) -> tuple[Any, list[Rename], list[FieldProblem]]:
    """The document without ``renamed_from`` keys, the renames they declared, and misplaced ones."""
    if not isinstance(document, dict) or not isinstance(document.get("tables"), list):
        return document, [], []
    renames: list[Rename] = []
    problems: list[FieldProblem] = []
    tables = []
    for t_index, table in enumerate(document["tables"]):
        if not isinstance(table, dict) or not isinstance(table.get("columns"), list):
            tables.append(table)
            continue
        columns = []
        for c_index, column in enumerate(table["columns"]):
            if isinstance(column, dict) and RENAME_KEY in column:
                column = dict(column)
                old = column.pop(RENAME_KEY)
                path = f"tables[{t_index}].columns[{c_index}].{RENAME_KEY}"
                if not isinstance(old, str) or old == column.get("name"):
                    problems.append(FieldProblem(path, "expected the name of another column of this table"))
                else:
                    renames.append(
                        Rename.model_construct(
                            table=str(table.get("name")), column=str(column.get("name")), renamed_from=old, path=path
                        )
                    )
            columns.append(column)
        tables.append({**table, "columns": columns})
    return {**document, "tables": tables}, renames, problems


def _provisioning_problems(data: DataSchema) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for index, table in enumerate(data.tables):
        if not table.tenant_scoped:
            problems.append(
                FieldProblem(f"tables[{index}].tenant_scoped", "the provisioned tables are tenant-scoped (true)")
            )
        if table.primary_key != (KEY_COLUMN,):
            problems.append(FieldProblem(f"tables[{index}].primary_key", f"expected [{KEY_COLUMN}]"))
    return problems


def parse_schema_file(document: Any, source: str) -> SchemaFile:
    """Validate a schema document (parsed YAML); raises :class:`DataSchemaError` naming every failing path."""
    stripped, renames, problems = _split_renames(document)
    try:
        data = parse_schema(stripped, source)
    except SchemaError as err:
        raise DataSchemaError(source, [FieldProblem(p.path, p.message) for p in err.problems]) from None
    problems += _provisioning_problems(data)
    for rename in renames:
        table = data.table(rename.table)
        column = table.column(rename.column)
        if table.has_column(rename.renamed_from):
            old = table.column(rename.renamed_from)
            if old.type is not column.type:
                problems.append(
                    FieldProblem(rename.path, f"'{rename.renamed_from}' is {old.type.value}, not {column.type.value}")
                )
        try:
            Rename.model_validate(rename.model_dump())
        except ValueError as err:
            problems.append(FieldProblem(rename.path, str(err).splitlines()[-1].strip()))
    if problems:
        raise DataSchemaError(source, problems)
    return SchemaFile(source=source, data=data, renames=tuple(renames))


def load_schema_file(path: str | Path | None = None) -> SchemaFile:
    """Load ``path`` (default: :data:`DEFAULT_SCHEMA_FILE`); an unreadable or invalid file raises
    :class:`DataSchemaError` naming the file and each failing path."""
    file = Path(path) if path is not None else DEFAULT_SCHEMA_FILE
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise DataSchemaError(str(file), [FieldProblem("", f"cannot read file: {err.strerror}")]) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise DataSchemaError(str(file), [FieldProblem("", f"not valid YAML: {err}")]) from None
    return parse_schema_file(document, str(file))


def load_policy_over(path: str | Path, schema: SchemaFile) -> AclPolicy:
    """The agent ACL policy at ``path`` (its workflows and agents) validated over ``schema``, whatever schema
    the file itself refers to: the fleet's schema file is the one source of the tables. A policy whose steps
    do not fit ``schema`` raises :class:`~paybill_infra.errors.InvalidInputError` naming the file and paths."""
    file = Path(path)
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise InvalidInputError(str(file), [FieldProblem("", f"cannot read the policy: {err}")]) from None
    if not isinstance(document, dict):
        raise InvalidInputError(str(file), [FieldProblem("", "expected a mapping (name, workflows, agents)")])
    document = {**document, "schema": schema.data.model_dump(mode="json", by_alias=True)}
    try:
        return parse_policy(document, f"{file} over {schema.source}")
    except PolicyError as err:
        raise InvalidInputError(str(file), [FieldProblem(p.path, p.message) for p in err.problems]) from None
