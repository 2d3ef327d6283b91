"""``DataSchema``: the typed declaration of the tenant data, from which everything else is derived.

Tables, columns (type, nullability, default), primary and foreign keys, indexes, a sensitivity per column
and, per table, whether it is tenant-scoped. Validation happens here, at the edge, and names the path of every
problem (``tables[1].foreign_keys[0].references.table``):

* identifiers are lowercase ASCII ``[a-z0-9_]`` without a double underscore (``__`` separates the parts of
  generated role and database names, so no two declarations can produce the same name), at most 40
  characters, and never a PostgreSQL reserved word, a system column name or a ``pg_`` name;
* a tenant-scoped table has the tenant column, ``text NOT NULL``;
* foreign keys point at an existing table and at its primary key (or at ``(tenant column, primary key)``),
  with matching column types; between tenant-scoped tables they must include the tenant column on both
  sides, because PostgreSQL runs foreign-key checks as the table owner and so past row-level security;
* a shared (not tenant-scoped) table may not reference a tenant-scoped one;
* an index lists existing columns of its table and its name is unique in the schema and no table's (in
  PostgreSQL indexes and tables share one namespace per schema); a unique index of a tenant-scoped table
  includes the tenant column, so it means the same in a pool (one table for all tenants) as in a silo, and a
  tenant's insert never fails because of another tenant's row.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictInt,
    StrictStr,
    model_serializer,
    model_validator,
)

from agent_acl.errors import Problem

IDENTIFIER_PATTERN = r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$"
IDENTIFIER_MAX = 40

POSTGRES_RESERVED = frozenset(
    """
    all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate
    collation column concurrently constraint create cross current_catalog current_date current_role
    current_schema current_time current_timestamp current_user default deferrable desc distinct do else end
    except false fetch for foreign freeze from full grant group having ilike in initially inner intersect
    into is isnull join lateral leading left like limit localtime localtimestamp natural not notnull null
    offset on only or order outer overlaps placing primary references returning right select session_user
    similar some symmetric system_user table tablesample then to trailing true union unique user using
    variadic verbose when where window with
    """.split()  # noqa: SIM905 - a readable word list
)
"""PostgreSQL's reserved (and reserved-for-functions) key words: legal when quoted, confusing everywhere."""

SYSTEM_COLUMNS = frozenset({"oid", "tableoid", "xmin", "xmax", "cmin", "cmax", "ctid"})
RESERVED_PREFIXES = ("pg_", "acl_", "sql_")
"""``pg_`` is PostgreSQL's, ``acl_`` is this package's (bind names, control objects)."""


def _safe_identifier(value: str) -> str:
    if value in POSTGRES_RESERVED:
        raise ValueError(f"'{value}' is a PostgreSQL reserved word")
    if value in SYSTEM_COLUMNS:
        raise ValueError(f"'{value}' is a PostgreSQL system column name")
    for prefix in RESERVED_PREFIXES:
        if value.startswith(prefix):
            raise ValueError(f"identifiers may not start with '{prefix}' (reserved)")
    return value


Identifier = Annotated[
    str,
    Field(min_length=1, max_length=IDENTIFIER_MAX, pattern=IDENTIFIER_PATTERN),
    AfterValidator(_safe_identifier),
]
"""A table, column, key, workflow, step, agent or parameter name."""


class Sensitivity(enum.Enum):
    """How much harm a column's values do when they leak, in increasing order."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    PII = "pii"
    SECRET = "secret"  # noqa: S105 - a classification label, not a secret

    @property
    def rank(self) -> int:
        return _SENSITIVITY_ORDER.index(self)


_SENSITIVITY_ORDER = tuple(Sensitivity)


class ColumnType(enum.Enum):
    """The closed set of column types the compiler knows how to declare, bind and validate."""

    TEXT = "text"
    SMALLINT = "smallint"
    INTEGER = "integer"
    BIGINT = "bigint"
    BOOLEAN = "boolean"
    NUMERIC = "numeric"
    DOUBLE = "double"
    DATE = "date"
    TIMESTAMPTZ = "timestamptz"
    UUID = "uuid"
    JSONB = "jsonb"
    BYTEA = "bytea"


INTEGER_TYPES = frozenset({ColumnType.SMALLINT, ColumnType.INTEGER, ColumnType.BIGINT})
NUMBER_TYPES = INTEGER_TYPES | {ColumnType.NUMERIC, ColumnType.DOUBLE}


class Generated(enum.Enum):
    """Server-side generated values."""

    IDENTITY = "identity"
    NOW = "now"
    RANDOM_UUID = "random_uuid"
    UUIDV7 = "uuidv7"
    """A time-ordered UUID (PostgreSQL 18's ``uuidv7()``): index-friendly like a sequence, but it reveals
    nothing about how many rows other tenants inserted."""


_GENERATED_TYPES: dict[Generated, frozenset[ColumnType]] = {
    Generated.IDENTITY: INTEGER_TYPES,
    Generated.NOW: frozenset({ColumnType.TIMESTAMPTZ, ColumnType.DATE}),
    Generated.RANDOM_UUID: frozenset({ColumnType.UUID}),
    Generated.UUIDV7: frozenset({ColumnType.UUID}),
}

LiteralValue = StrictBool | StrictInt | StrictStr
"""A constant in a default, a condition or an assignment: a boolean, an integer or a string."""


def literal_fits(value: LiteralValue, column_type: ColumnType) -> bool:
    """Whether a YAML/Python constant can stand for a value of ``column_type`` without a cast."""
    if isinstance(value, bool):
        return column_type is ColumnType.BOOLEAN
    if isinstance(value, int):
        if column_type is ColumnType.SMALLINT:
            return -(2**15) <= value < 2**15
        if column_type is ColumnType.INTEGER:
            return -(2**31) <= value < 2**31
        if column_type is ColumnType.BIGINT:
            return -(2**63) <= value < 2**63
        return column_type in NUMBER_TYPES
    return column_type is ColumnType.TEXT


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Column(_Frozen):
    """One column. ``default`` is a constant; ``generated`` a server-generated value; at most one of both."""

    name: Identifier
    type: ColumnType
    nullable: bool = True
    default: LiteralValue | None = None
    generated: Generated | None = None
    sensitivity: Sensitivity = Sensitivity.INTERNAL


class OnDelete(enum.Enum):
    NO_ACTION = "no_action"
    RESTRICT = "restrict"
    CASCADE = "cascade"
    SET_NULL = "set_null"


class Reference(_Frozen):
    table: Identifier
    columns: Annotated[tuple[Identifier, ...], Field(min_length=1, max_length=8)]


class ForeignKey(_Frozen):
    name: Identifier
    columns: Annotated[tuple[Identifier, ...], Field(min_length=1, max_length=8)]
    references: Reference
    on_delete: OnDelete = OnDelete.NO_ACTION


class Index(_Frozen):
    """A secondary index on ``columns`` (in that order); ``name`` is the PostgreSQL index name as is."""

    name: Identifier
    columns: Annotated[tuple[Identifier, ...], Field(min_length=1, max_length=8)]
    unique: bool = False


class Table(_Frozen):
    """A table. A tenant-scoped table holds one tenant's rows per tenant column value."""

    name: Identifier
    columns: Annotated[tuple[Column, ...], Field(min_length=1, max_length=200)]
    primary_key: Annotated[tuple[Identifier, ...], Field(min_length=1, max_length=8)]
    foreign_keys: tuple[ForeignKey, ...] = ()
    indexes: Annotated[tuple[Index, ...], Field(max_length=50)] = ()
    tenant_scoped: bool = True

    @model_serializer(mode="wrap")
    def _without_empty_indexes(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A table without indexes serialises as before they existed, so a schema file's content hash (its
        registry version) and the resources' inputs do not change for files that declare none."""
        data: dict[str, Any] = handler(self)
        if not self.indexes:
            data.pop("indexes", None)
        return data

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def has_column(self, name: str) -> bool:
        return any(col.name == name for col in self.columns)


class DataSchema(_Frozen):
    """The whole data schema. Construct it in Python or load it from YAML with :func:`agent_acl.load_policy`."""

    tenant_column: Identifier = "tenant_id"
    tables: Annotated[tuple[Table, ...], Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _consistent(self) -> DataSchema:
        problems = list(schema_problems(self))
        if problems:
            raise ProblemsFoundError(problems)
        return self

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def has_table(self, name: str) -> bool:
        return any(table.name == name for table in self.tables)


class ProblemsFoundError(ValueError):
    """Raised inside pydantic validators to carry several path-named problems out of one validation."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def _duplicates(names: list[str]) -> Iterator[tuple[int, str]]:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            yield index, name
        seen.add(name)


def _column_problems(path: str, column: Column) -> Iterator[Problem]:
    if column.default is not None and column.generated is not None:
        yield Problem(path, "declare either 'default' or 'generated', not both")
    if column.default is not None and not literal_fits(column.default, column.type):
        kind = type(column.default).__name__
        yield Problem(f"{path}.default", f"default {kind} does not fit type {column.type.value}")
    if column.generated is not None and column.type not in _GENERATED_TYPES[column.generated]:
        allowed = ", ".join(sorted(t.value for t in _GENERATED_TYPES[column.generated]))
        yield Problem(f"{path}.generated", f"'{column.generated.value}' needs a column of type {allowed}")


def _key_columns_problems(path: str, table: Table, names: tuple[str, ...]) -> Iterator[Problem]:
    for index, name in _duplicates(list(names)):
        yield Problem(f"{path}[{index}]", f"column '{name}' listed twice")
    for index, name in enumerate(names):
        if not table.has_column(name):
            yield Problem(f"{path}[{index}]", f"table '{table.name}' has no column '{name}'")


def schema_problems(schema: DataSchema) -> Iterator[Problem]:
    """Every cross-field problem of ``schema``, each with its path (empty when the schema is consistent)."""
    tenant = schema.tenant_column
    for index, name in _duplicates([t.name for t in schema.tables]):
        yield Problem(f"tables[{index}].name", f"table '{name}' declared twice")
    for t_index, table in enumerate(schema.tables):
        base = f"tables[{t_index}]"
        for index, name in _duplicates([c.name for c in table.columns]):
            yield Problem(f"{base}.columns[{index}].name", f"column '{name}' declared twice")
        for c_index, column in enumerate(table.columns):
            yield from _column_problems(f"{base}.columns[{c_index}]", column)
        yield from _key_columns_problems(f"{base}.primary_key", table, table.primary_key)
        for name in table.primary_key:
            if table.has_column(name) and table.column(name).nullable:
                yield Problem(f"{base}.primary_key", f"primary key column '{name}' must be nullable: false")
        if table.tenant_scoped:
            if not table.has_column(tenant):
                yield Problem(f"{base}.columns", f"tenant-scoped table '{table.name}' has no tenant column '{tenant}'")
            else:
                col = table.column(tenant)
                if col.type is not ColumnType.TEXT or col.nullable or col.default is not None or col.generated:
                    yield Problem(
                        f"{base}.columns", f"tenant column '{tenant}' must be text, nullable: false, without default"
                    )
        for index, name in _duplicates([fk.name for fk in table.foreign_keys]):
            yield Problem(f"{base}.foreign_keys[{index}].name", f"foreign key '{name}' declared twice")
        for f_index, fk in enumerate(table.foreign_keys):
            yield from _foreign_key_problems(schema, f"{base}.foreign_keys[{f_index}]", table, fk)
    yield from _index_problems(schema)


def _index_problems(schema: DataSchema) -> Iterator[Problem]:
    tables = {t.name for t in schema.tables}
    seen: set[str] = set()
    for t_index, table in enumerate(schema.tables):
        for i_index, index in enumerate(table.indexes):
            path = f"tables[{t_index}].indexes[{i_index}]"
            if index.name in seen:
                yield Problem(f"{path}.name", f"index '{index.name}' declared twice (names are unique per schema)")
            elif index.name in tables:
                yield Problem(f"{path}.name", f"index '{index.name}' has the name of a table")
            seen.add(index.name)
            yield from _key_columns_problems(f"{path}.columns", table, index.columns)
            if index.unique and table.tenant_scoped and schema.tenant_column not in index.columns:
                yield Problem(
                    f"{path}.columns",
                    f"a unique index of a tenant-scoped table includes '{schema.tenant_column}' "
                    "(in a pool it would otherwise be unique across tenants)",
                )


def referenceable_keys(schema: DataSchema, table: Table) -> tuple[tuple[str, ...], ...]:
    """Column sets a foreign key may reference: the primary key, and ``(tenant, *pk)`` on tenant tables."""
    keys: list[tuple[str, ...]] = [table.primary_key]
    if table.tenant_scoped and schema.tenant_column not in table.primary_key:
        keys.append((schema.tenant_column, *table.primary_key))
    return tuple(keys)


def _foreign_key_problems(schema: DataSchema, path: str, table: Table, fk: ForeignKey) -> Iterator[Problem]:
    yield from _key_columns_problems(f"{path}.columns", table, fk.columns)
    if not schema.has_table(fk.references.table):
        yield Problem(f"{path}.references.table", f"references unknown table '{fk.references.table}'")
        return
    target = schema.table(fk.references.table)
    yield from _key_columns_problems(f"{path}.references.columns", target, fk.references.columns)
    if len(fk.columns) != len(fk.references.columns):
        yield Problem(f"{path}.references.columns", "must list as many columns as 'columns'")
        return
    if all(target.has_column(c) for c in fk.references.columns) and all(table.has_column(c) for c in fk.columns):
        if set(fk.references.columns) not in [set(key) for key in referenceable_keys(schema, target)]:
            yield Problem(
                f"{path}.references.columns",
                f"must be the primary key of '{target.name}' (or the tenant column plus it)",
            )
        for local, remote in zip(fk.columns, fk.references.columns, strict=True):
            if table.column(local).type is not target.column(remote).type:
                yield Problem(f"{path}.columns", f"'{local}' and '{target.name}.{remote}' have different types")
        if fk.on_delete is OnDelete.SET_NULL and schema.tenant_column in fk.columns:
            yield Problem(f"{path}.on_delete", "set_null would null the tenant column; use cascade or restrict")
    if target.tenant_scoped and not table.tenant_scoped:
        yield Problem(path, f"shared table '{table.name}' may not reference tenant-scoped '{target.name}'")
    if target.tenant_scoped and table.tenant_scoped:
        pairs = set(zip(fk.columns, fk.references.columns, strict=False))
        if (schema.tenant_column, schema.tenant_column) not in pairs:
            yield Problem(
                path,
                f"a foreign key between tenant-scoped tables must map '{schema.tenant_column}' to "
                f"'{schema.tenant_column}' (foreign-key checks bypass row-level security)",
            )


def problems_from_validation_error(errors: list[Any], prefix: str = "") -> list[Problem]:
    """Turn pydantic's error list into path-named problems, unpacking :class:`ProblemsFoundError`."""
    out: list[Problem] = []
    for error in errors:
        loc = _format_loc(prefix, tuple(error.get("loc", ())))
        ctx = error.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, ProblemsFoundError):
            for problem in inner.problems:
                path = f"{loc}.{problem.path}" if loc and problem.path else (loc or problem.path)
                out.append(Problem(path, problem.message))
        else:
            out.append(Problem(loc, str(error.get("msg", "invalid"))))
    return out


def _format_loc(prefix: str, loc: tuple[Any, ...]) -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text = f"{text}.{part}" if text else str(part)
    return text
