"""The schema diff: what changes between two versions of the schema file, classified expand or contract.

Expand changes only add (a table, a nullable column or one with a default, a wider type, a dropped NOT NULL,
a default, an index); old code keeps working after them, so they go first. Dropping an index (or changing
one: drop, then create) loses no data, so it is not destructive either; index changes of existing tables
run concurrently, outside the unit's transaction (:mod:`~paybill_infra.datamodel.render`). Contract changes
remove or tighten (drop a table or column, narrow a type, NOT NULL on existing rows): they are
**destructive** and refused unless the caller passes ``allow_destructive``, and the migrator backs the
affected data up before running them (:mod:`~paybill_infra.datamodel.backup`).

A rename is never an in-place ``RENAME COLUMN`` under live traffic. The new column declares
``renamed_from: <old>`` and the rename spans two versions:

1. expand: the file keeps ``<old>`` and adds ``<new>`` with ``renamed_from``; the migration adds ``<new>``
   and backfills it from ``<old>``;
2. contract: a later file drops ``<old>``; the migration backfills rows written to ``<old>`` meanwhile,
   then drops it (destructive, backed up).

A file that adds ``<new>`` and drops ``<old>`` in one step is refused (:class:`RenameWithoutExpandError`).
Type changes follow PostgreSQL's casts: widening ones are expand, lossy ones destructive, and a change
PostgreSQL cannot cast at all is refused (:class:`UncastableTypeChangeError`). Every refusal names the path
in the new file (or the table/column it removes) and nothing is applied.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from agent_acl.schema import Column, ColumnType, Table
from paybill_infra.datamodel.source import SchemaFile
from paybill_infra.errors import (
    DestructiveChangeError,
    FieldProblem,
    RenameWithoutExpandError,
    SchemaChangeError,
    UncastableTypeChangeError,
    UnsupportedSchemaChangeError,
)

T = ColumnType
_INTEGERS = (T.SMALLINT, T.INTEGER, T.BIGINT)
WIDENING: frozenset[tuple[ColumnType, ColumnType]] = frozenset(
    {(T.SMALLINT, T.INTEGER), (T.SMALLINT, T.BIGINT), (T.INTEGER, T.BIGINT), (T.DATE, T.TIMESTAMPTZ)}
    | {(i, T.NUMERIC) for i in _INTEGERS}
    | {(i, T.DOUBLE) for i in (T.SMALLINT, T.INTEGER)}
    | {(t, T.TEXT) for t in ColumnType if t not in (T.TEXT, T.BYTEA)}
)
"""Type changes that keep every value exactly: expand."""
NARROWING: frozenset[tuple[ColumnType, ColumnType]] = frozenset(
    {(T.BIGINT, T.INTEGER), (T.BIGINT, T.SMALLINT), (T.INTEGER, T.SMALLINT), (T.TIMESTAMPTZ, T.DATE)}
    | {(T.BIGINT, T.DOUBLE)}
    | {(s, t) for s in (T.NUMERIC, T.DOUBLE) for t in (*_INTEGERS, T.NUMERIC, T.DOUBLE) if s is not t}
    | {(T.TEXT, t) for t in ColumnType if t not in (T.TEXT, T.BYTEA)}
)
"""Type changes PostgreSQL casts but that may fail or lose precision on existing values: destructive."""


class ChangeKind(enum.Enum):
    ADD_TABLE = "add_table"
    ADD_COLUMN = "add_column"
    BACKFILL = "backfill"
    WIDEN_TYPE = "widen_type"
    DROP_NOT_NULL = "drop_not_null"
    SET_DEFAULT = "set_default"
    DROP_DEFAULT = "drop_default"
    DROP_INDEX = "drop_index"
    ADD_INDEX = "add_index"
    NARROW_TYPE = "narrow_type"
    SET_NOT_NULL = "set_not_null"
    DROP_COLUMN = "drop_column"
    DROP_TABLE = "drop_table"


class Phase(enum.Enum):
    EXPAND = "expand"
    CONTRACT = "contract"


DESTRUCTIVE = frozenset(
    {ChangeKind.NARROW_TYPE, ChangeKind.SET_NOT_NULL, ChangeKind.DROP_COLUMN, ChangeKind.DROP_TABLE}
)


class Change(BaseModel):
    """One change of one table (``column`` empty for table changes, ``index`` set for index changes).
    ``source`` is the column a backfill copies from; ``path`` locates the change in the new file (or names
    what it removes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ChangeKind
    table: str
    column: str = ""
    index: str = ""
    source: str = ""
    path: str
    destructive: bool = False

    @property
    def phase(self) -> Phase:
        return Phase.CONTRACT if self.destructive else Phase.EXPAND

    def __str__(self) -> str:
        target = f"{self.table}.{self.column or self.index}" if self.column or self.index else self.table
        origin = f" from {self.source}" if self.source else ""
        return f"{self.phase.value}: {self.kind.value} {target}{origin}"


class SchemaDiff(BaseModel):
    """The changes from ``old`` to ``new``, expand changes first, each group in a stable order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    old: SchemaFile
    new: SchemaFile
    changes: tuple[Change, ...]

    @property
    def destructive(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.destructive)

    @property
    def empty(self) -> bool:
        return not self.changes


def _default_changed(old: Column, new: Column) -> bool:
    return (old.default, old.generated) != (new.default, new.generated)


def _column_changes(path: str, table: str, old: Column, new: Column) -> Iterator[Change | FieldProblem]:
    if old.type is not new.type:
        pair = (old.type, new.type)
        if pair in WIDENING:
            yield Change(kind=ChangeKind.WIDEN_TYPE, table=table, column=new.name, path=f"{path}.type")
        elif pair in NARROWING:
            yield Change(
                kind=ChangeKind.NARROW_TYPE, table=table, column=new.name, path=f"{path}.type", destructive=True
            )
        else:
            yield FieldProblem(
                f"{path}.type", f"PostgreSQL cannot cast {old.type.value} to {new.type.value} ({table}.{new.name})"
            )
    if old.nullable and not new.nullable:
        yield Change(
            kind=ChangeKind.SET_NOT_NULL, table=table, column=new.name, path=f"{path}.nullable", destructive=True
        )
    elif new.nullable and not old.nullable:
        yield Change(kind=ChangeKind.DROP_NOT_NULL, table=table, column=new.name, path=f"{path}.nullable")
    if _default_changed(old, new):
        kind = ChangeKind.DROP_DEFAULT if new.default is None and new.generated is None else ChangeKind.SET_DEFAULT
        yield Change(kind=kind, table=table, column=new.name, path=f"{path}.default")


def _index_changes(base: str, old: Table, new: Table) -> Iterator[Change]:
    """Indexes of an existing table added, dropped, or changed (dropped, then created under the same name)."""
    before = {index.name: index for index in old.indexes}
    after = {index.name for index in new.indexes}
    for i_index, index in enumerate(new.indexes):
        if before.get(index.name) == index:
            continue
        if index.name in before:
            yield Change(
                kind=ChangeKind.DROP_INDEX, table=new.name, index=index.name, path=f"{base}.indexes[{i_index}]"
            )
        yield Change(kind=ChangeKind.ADD_INDEX, table=new.name, index=index.name, path=f"{base}.indexes[{i_index}]")
    for index in old.indexes:
        if index.name not in after:
            path = f"{base}.indexes (drops '{index.name}')"
            yield Change(kind=ChangeKind.DROP_INDEX, table=new.name, index=index.name, path=path)


def _table_changes(new_file: SchemaFile, t_index: int, old: Table, new: Table) -> Iterator[Change | FieldProblem]:
    base = f"tables[{t_index}]"
    if old.primary_key != new.primary_key:
        yield FieldProblem(f"{base}.primary_key", "changing a primary key is not supported")
    if old.tenant_scoped != new.tenant_scoped:
        yield FieldProblem(f"{base}.tenant_scoped", "changing whether a table is tenant-scoped is not supported")
    if {fk.name: fk for fk in old.foreign_keys} != {fk.name: fk for fk in new.foreign_keys}:
        yield FieldProblem(f"{base}.foreign_keys", "changing the foreign keys of an existing table is not supported")
    for c_index, column in enumerate(new.columns):
        path = f"{base}.columns[{c_index}]"
        rename = new_file.rename_of(new.name, column.name)
        if old.has_column(column.name):
            yield from _column_changes(path, new.name, old.column(column.name), column)
            continue
        required = not column.nullable and column.default is None and column.generated is None
        if rename is not None and not new.has_column(rename.renamed_from):
            if old.has_column(rename.renamed_from):
                yield FieldProblem(
                    rename.path,
                    f"renames '{rename.renamed_from}' to '{column.name}' in one step: keep '{rename.renamed_from}' "
                    f"in this version (expand), drop it in a later one (contract)",
                )
            else:
                yield FieldProblem(rename.path, f"'{rename.renamed_from}' is not a column of the previous version")
            continue
        yield Change(kind=ChangeKind.ADD_COLUMN, table=new.name, column=column.name, path=path, destructive=required)
        if rename is not None:
            if rename.renamed_from not in {c.name for c in old.columns}:
                yield FieldProblem(rename.path, f"'{rename.renamed_from}' is not a column of the previous version")
                continue
            yield Change(
                kind=ChangeKind.BACKFILL,
                table=new.name,
                column=column.name,
                source=rename.renamed_from,
                path=rename.path,
            )
    yield from _index_changes(base, old, new)
    for column in old.columns:
        if new.has_column(column.name):
            continue
        for rename in new_file.renames:
            if rename.table == new.name and rename.renamed_from == column.name and old.has_column(rename.column):
                yield Change(
                    kind=ChangeKind.BACKFILL, table=new.name, column=rename.column, source=column.name, path=rename.path
                )
        yield Change(
            kind=ChangeKind.DROP_COLUMN,
            table=new.name,
            column=column.name,
            path=f"{base}.columns (drops '{column.name}')",
            destructive=True,
        )


_REFUSALS: tuple[tuple[str, type[SchemaChangeError]], ...] = (
    ("cannot cast", UncastableTypeChangeError),
    ("in one step", RenameWithoutExpandError),
)


def _refuse(source: str, problems: list[FieldProblem]) -> None:
    for marker, error in _REFUSALS:
        matching = [p for p in problems if marker in p.message]
        if matching:
            raise error(source, matching)
    raise UnsupportedSchemaChangeError(source, problems)


def diff(old: SchemaFile, new: SchemaFile, *, allow_destructive: bool = False) -> SchemaDiff:
    """The changes from ``old`` to ``new``; raises a :class:`SchemaChangeError` subclass naming the paths of
    the refused changes (uncastable type, rename without expand, unsupported change, destructive change
    without ``allow_destructive``) before anything is applied."""
    if old.data.tenant_column != new.data.tenant_column:
        raise UnsupportedSchemaChangeError(
            new.source, [FieldProblem("tenant_column", "the tenant column cannot change")]
        )
    found: list[Change | FieldProblem] = []
    for t_index, table in enumerate(new.data.tables):
        if old.data.has_table(table.name):
            found += _table_changes(new, t_index, old.data.table(table.name), table)
        else:
            found.append(Change(kind=ChangeKind.ADD_TABLE, table=table.name, path=f"tables[{t_index}]"))
    for table in old.data.tables:
        if not new.data.has_table(table.name):
            found.append(
                Change(
                    kind=ChangeKind.DROP_TABLE,
                    table=table.name,
                    path=f"tables (drops '{table.name}')",
                    destructive=True,
                )
            )
    problems = [p for p in found if isinstance(p, FieldProblem)]
    if problems:
        _refuse(new.source, problems)
    changes = [c for c in found if isinstance(c, Change)]
    if not allow_destructive and any(c.destructive for c in changes):
        raise DestructiveChangeError(
            new.source,
            [
                FieldProblem(c.path, f"{c.kind.value} is destructive; pass allow_destructive")
                for c in changes
                if c.destructive
            ],
        )
    order = list(ChangeKind)
    changes.sort(key=lambda c: (c.destructive, order.index(c.kind) if not c.destructive else 0))
    return SchemaDiff(old=old, new=new, changes=tuple(changes))
