"""A schema diff rendered as the SQL of one unit (a pool, a bridge schema or a silo database).

Statements are psycopg ``sql`` constructs; column and table DDL is compiled by SQLAlchemy from the
``MetaData`` derived from the new schema file (:func:`agent_acl.models.build_metadata`), so the migration
creates exactly what provisioning would. Everything of one unit but its index changes runs in **one transaction**
(:mod:`~paybill_infra.datamodel.apply`): the DDL, the backfills, the agent ACL's regenerated grants and the
unit's version marker, so access never runs ahead of or behind the schema, and a crash leaves the unit fully
old or fully new. The functions are pure; the golden files under ``tests/golden/datamodel`` pin their output.

Index changes of existing tables are the exception (:attr:`UnitScript.concurrent`): ``CREATE INDEX
CONCURRENTLY`` / ``DROP INDEX CONCURRENTLY`` build or remove an index without blocking the table's writes,
and PostgreSQL refuses both inside a transaction block. They run first, one statement at a time, before the
transaction and its version marker: a crash after them leaves the marker at the old version, and the
re-run repeats them harmlessly (``IF NOT EXISTS`` / ``IF EXISTS``; an INVALID index a crashed build left
is dropped and rebuilt by :mod:`~paybill_infra.datamodel.apply`). An index of a new table is created with
the table; one on a column the same step adds cannot precede the transaction, so it is built in it (the
``ADD COLUMN`` holds the table's exclusive lock until commit anyway). In a pool the index covers all
tenants' rows (one table).

Per topology:

- pool: new tables get ENABLE + FORCE row-level security, the tenant policy, and DML grants for every member
  role of the pool; the shared tables are changed once for all members;
- bridge and silo: new tables are created as the tenant's role (it owns its schema) and PUBLIC gets nothing.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from pydantic import BaseModel, ConfigDict
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.schema import CreateColumn, CreateIndex, CreateTable

from agent_acl import AclPolicy, Names
from agent_acl.access import explain_access
from agent_acl.models import sa_table, sorted_tables
from agent_acl.policy import parse_policy
from agent_acl.roles import grant_matrix
from paybill_infra.datamodel.changes import Change, ChangeKind, SchemaDiff
from paybill_infra.datamodel.sync import create_sync, drop_sync, live_renames
from paybill_infra.datamodel.units import MARKER_SCHEMA, MARKER_TABLE, Unit, UnitKind
from paybill_infra.local import sql as q

Statements = list[sql.Composable]
DIALECT = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves this __init__ unannotated
LOCK_TIMEOUT = "10s"
"""How long a unit's DDL waits for its tables' locks before the unit fails (and rolls back) retryably."""


class ConcurrentIndex(BaseModel):
    """One index change run outside the transaction: ``statement`` creates (``creates``) or drops index
    ``name`` of schema ``schema``."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    schema_name: str
    name: str
    creates: bool
    statement: sql.Composable


class UnitScript(BaseModel):
    """The statements of one unit's step: ``concurrent`` first, each on its own (autocommit), then
    ``statements`` in one transaction, in order."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    unit: str
    concurrent: tuple[ConcurrentIndex, ...] = ()
    statements: tuple[sql.Composable, ...]
    after_restore: tuple[sql.Composable, ...] = ()
    """With ``defer_not_null`` (a rollback): NOT NULL on re-added columns, once their values are restored."""

    def text(self) -> str:
        """The script as SQL text (``paybill db plan``, golden files)."""
        body = "".join(s.as_string(None) + ";\n" for s in self.statements)
        if not self.concurrent:
            return body
        first = "".join(c.statement.as_string(None) + ";\n" for c in self.concurrent)
        return f"-- each on its own, before the transaction:\n{first}-- one transaction:\n{body}"


def _compiled(element: Any) -> sql.SQL:
    return sql.SQL(str(element.compile(dialect=DIALECT)).strip())


def _table(diff: SchemaDiff, unit: Unit, name: str) -> sql.Identifier:
    return sql.Identifier(unit.schema_name, name)


def _column_type(diff: SchemaDiff, unit: Unit, change: Change) -> sql.SQL:
    column = sa_table(diff.new.data, unit.schema_name, change.table).c[change.column]
    return sql.SQL(str(column.type.compile(dialect=DIALECT)))


def _default(diff: SchemaDiff, unit: Unit, change: Change) -> sql.SQL:
    column = sa_table(diff.new.data, unit.schema_name, change.table).c[change.column]
    default = column.server_default
    arg = getattr(default, "arg", None)
    if arg is None:
        raise ValueError(f"{change.table}.{change.column} has no server default")
    compiled = arg.compile(dialect=DIALECT, compile_kwargs={"literal_binds": True})
    return sql.SQL(str(compiled))


def _new_tables(diff: SchemaDiff, unit: Unit, added: set[str]) -> Statements:
    """Added tables in dependency order, created as the unit's owner, with their indexes and access."""
    tables = [t for t in sorted_tables(diff.new.data, unit.schema_name) if t.name in added]
    if not tables:
        return []
    out: Statements = list(q.set_local_role(unit.owner))
    for table in tables:
        out.append(_compiled(CreateTable(table)))
        out += [_compiled(CreateIndex(index)) for index in sorted(table.indexes, key=str)]
    out.append(sql.SQL("RESET ROLE"))
    for table in tables:
        out.append(sql.SQL("REVOKE ALL ON {t} FROM PUBLIC").format(t=_table(diff, unit, table.name)))
    if unit.kind is UnitKind.POOL:
        out += q.enable_pooled_rls(tables, tenant_column=diff.new.data.tenant_column)
        for role in unit.roles:
            for table in tables:
                out.append(
                    sql.SQL("GRANT {dml} ON {t} TO {role}").format(
                        dml=q.DML, t=_table(diff, unit, table.name), role=sql.Identifier(role)
                    )
                )
    return out


def _change(
    diff: SchemaDiff, unit: Unit, change: Change, added_columns: set[tuple[str, str]], deferred: Statements | None
) -> Statements:
    table = _table(diff, unit, change.table)
    column = sql.Identifier(change.column)
    alter = sql.SQL("ALTER TABLE {t} ").format(t=table)
    kind = change.kind
    if kind is ChangeKind.ADD_COLUMN:
        definition = sa_table(diff.new.data, unit.schema_name, change.table).c[change.column]
        if deferred is not None and not definition.nullable:
            definition = definition._copy()
            definition.nullable = True
            deferred.append(alter + sql.SQL("ALTER COLUMN {c} SET NOT NULL").format(c=column))
        return [alter + sql.SQL("ADD COLUMN ") + _compiled(CreateColumn(definition))]
    if kind is ChangeKind.BACKFILL:
        source = sql.Identifier(change.source)
        statement = sql.SQL("UPDATE {t} SET {c} = {s}").format(t=table, c=column, s=source)
        if (change.table, change.column) not in added_columns:
            # contract of a rename: only rows written to the old column since the expand step
            statement += sql.SQL(" WHERE {c} IS NULL AND {s} IS NOT NULL").format(c=column, s=source)
        return [statement]
    if kind in (ChangeKind.WIDEN_TYPE, ChangeKind.NARROW_TYPE):
        kind_sql = _column_type(diff, unit, change)
        return [alter + sql.SQL("ALTER COLUMN {c} TYPE {ty} USING {c}::{ty}").format(c=column, ty=kind_sql)]
    simple = {
        ChangeKind.SET_NOT_NULL: "SET NOT NULL",
        ChangeKind.DROP_NOT_NULL: "DROP NOT NULL",
        ChangeKind.DROP_DEFAULT: "DROP DEFAULT",
    }
    if kind in simple:
        return [alter + sql.SQL("ALTER COLUMN {c} ").format(c=column) + sql.SQL(simple[kind])]
    if kind is ChangeKind.SET_DEFAULT:
        return [alter + sql.SQL("ALTER COLUMN {c} SET DEFAULT ").format(c=column) + _default(diff, unit, change)]
    if kind is ChangeKind.DROP_COLUMN:
        return [alter + sql.SQL("DROP COLUMN {c}").format(c=column)]
    if kind is ChangeKind.DROP_TABLE:
        return [sql.SQL("DROP TABLE {t}").format(t=table)]
    raise ValueError(f"no rendering for {kind.value}")  # ADD_TABLE is rendered with the other new tables


def drop_index_concurrently(schema_name: str, name: str) -> sql.Composed:
    return sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {i}").format(i=sql.Identifier(schema_name, name))


def _create_index(diff: SchemaDiff, unit: Unit, change: Change, *, concurrently: bool) -> sql.Composed:
    index = next(i for i in diff.new.data.table(change.table).indexes if i.name == change.index)
    return sql.SQL("CREATE {unique}INDEX {how}{name} ON {t} ({columns})").format(
        unique=sql.SQL("UNIQUE " if index.unique else ""),
        how=sql.SQL("CONCURRENTLY IF NOT EXISTS " if concurrently else ""),
        name=sql.Identifier(index.name),
        t=_table(diff, unit, change.table),
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in index.columns),
    )


def _index_changes(diff: SchemaDiff, unit: Unit) -> tuple[list[ConcurrentIndex], Statements]:
    """The index changes run concurrently before the transaction (drops first), and the creations that
    need a column this step adds (run in the transaction, after the column)."""
    concurrent: list[ConcurrentIndex] = []
    in_transaction: Statements = []
    for change in diff.changes:
        if change.kind is ChangeKind.DROP_INDEX:
            statement = drop_index_concurrently(unit.schema_name, change.index)
            concurrent.append(
                ConcurrentIndex(schema_name=unit.schema_name, name=change.index, creates=False, statement=statement)
            )
    old_table = {t.name: t for t in diff.old.data.tables}
    for change in diff.changes:
        if change.kind is not ChangeKind.ADD_INDEX:
            continue
        index = next(i for i in diff.new.data.table(change.table).indexes if i.name == change.index)
        if all(old_table[change.table].has_column(c) for c in index.columns):
            statement = _create_index(diff, unit, change, concurrently=True)
            concurrent.append(
                ConcurrentIndex(schema_name=unit.schema_name, name=change.index, creates=True, statement=statement)
            )
        else:
            in_transaction.append(_create_index(diff, unit, change, concurrently=False))
    return concurrent, in_transaction


def acl_grants(policy: AclPolicy, diff: SchemaDiff, unit: Unit) -> Statements:
    """The agent roles' grants on the unit's tables, regenerated from the policy over the *new* schema: every
    agent role of every member tenant loses all it held there and gets exactly its access matrix.

    The policy is re-validated against the new schema first, so a version that removes a column a workflow
    still uses is refused (:class:`agent_acl.errors.PolicyError`) before anything runs.
    """
    document = policy.model_dump(mode="json", by_alias=True) | {"schema": diff.new.data.model_dump(mode="json")}
    migrated = parse_policy(document, f"{diff.new.source} (agent ACL policy '{policy.name}')")
    names = Names(migrated.name)
    out: Statements = []
    for tenant in unit.members:
        for agent in migrated.agents:
            role = names.agent_role(tenant, agent.name)
            out.append(
                sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}").format(
                    s=sql.Identifier(unit.schema_name), r=sql.Identifier(role)
                )
            )
            out += grant_matrix(explain_access(migrated, agent), unit.schema_name, role)
    return out


def marker_setup() -> q.Statements:
    """The unit's version marker table (idempotent); only the administrator can reach it."""
    table = sql.Identifier(MARKER_SCHEMA, MARKER_TABLE)
    return [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {s}").format(s=sql.Identifier(MARKER_SCHEMA)),
        sql.SQL("REVOKE ALL ON SCHEMA {s} FROM PUBLIC").format(s=sql.Identifier(MARKER_SCHEMA)),
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {t} (unit text PRIMARY KEY, version integer NOT NULL CHECK (version >= 1), "
            "schema_hash text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        ).format(t=table),
        sql.SQL("REVOKE ALL ON {t} FROM PUBLIC").format(t=table),
    ]


def set_marker(unit: Unit, version: int, schema_hash: str) -> q.Statements:
    return set_marker_key(unit.marker_key, version, schema_hash)


def set_marker_key(key: str, version: int, schema_hash: str) -> q.Statements:
    """Record ``version`` (and the schema's hash) as the version of the unit whose marker row is ``key``."""
    return [
        sql.SQL(
            "INSERT INTO {t} (unit, version, schema_hash) VALUES ({u}, {v}, {h}) ON CONFLICT (unit) DO UPDATE "
            "SET version = excluded.version, schema_hash = excluded.schema_hash, applied_at = now()"
        ).format(
            t=sql.Identifier(MARKER_SCHEMA, MARKER_TABLE),
            u=sql.Literal(key),
            v=sql.Literal(version),
            h=sql.Literal(schema_hash),
        )
    ]


_RENDERED_APART = frozenset({ChangeKind.ADD_TABLE, ChangeKind.DROP_TABLE, ChangeKind.ADD_INDEX, ChangeKind.DROP_INDEX})


def render_unit(
    diff: SchemaDiff, unit: Unit, to_version: int, *, acl: AclPolicy | None = None, defer_not_null: bool = False
) -> UnitScript:
    """The whole step of ``unit`` to ``to_version``: the concurrent index changes (outside the transaction),
    then lock timeout, the rename sync triggers the old version
    had and the new one lacks dropped, DDL (expand first, then contract), backfills, the sync triggers the new
    version adds (:mod:`~paybill_infra.datamodel.sync`), regenerated agent grants, and the version marker.

    ``defer_not_null`` (a rollback, whose data comes back from a backup afterwards) adds required columns as
    nullable and returns their NOT NULL in :attr:`UnitScript.after_restore`, with the sync triggers it re-creates
    (so the restored old values do not overwrite the new column's current ones)."""
    deferred: Statements = []
    added_tables = {c.table for c in diff.changes if c.kind is ChangeKind.ADD_TABLE}
    added_columns = {(c.table, c.column) for c in diff.changes if c.kind is ChangeKind.ADD_COLUMN}
    was_synced, synced = live_renames(diff.old), live_renames(diff.new)
    out: Statements = [sql.SQL("SET LOCAL lock_timeout = {t}").format(t=sql.Literal(LOCK_TIMEOUT))]
    for rename in sorted(was_synced - synced, key=str):
        out += drop_sync(unit.schema_name, rename)
    out += _new_tables(diff, unit, added_tables)
    dependents_first = [t.name for t in reversed(sorted_tables(diff.old.data))]
    concurrent, indexes_in_transaction = _index_changes(diff, unit)
    for change in diff.changes:
        if change.kind not in (
            ChangeKind.ADD_TABLE,
            ChangeKind.DROP_TABLE,
            ChangeKind.ADD_INDEX,
            ChangeKind.DROP_INDEX,
        ):
            out += _change(diff, unit, change, added_columns, deferred if defer_not_null else None)
    dropped = {c.table: c for c in diff.changes if c.kind is ChangeKind.DROP_TABLE}
    for name in dependents_first:
        if name in dropped:
            out += _change(diff, unit, dropped[name], added_columns, None)
    out += indexes_in_transaction
    for rename in sorted(synced - was_synced, key=str):
        (deferred if defer_not_null else out).extend(create_sync(unit.schema_name, rename))
    if acl is not None:
        out += acl_grants(acl, diff, unit)
    out += set_marker(unit, to_version, diff.new.content_hash)
    return UnitScript(unit=unit.key, concurrent=tuple(concurrent), statements=tuple(out), after_restore=tuple(deferred))
