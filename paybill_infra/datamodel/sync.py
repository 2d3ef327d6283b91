"""Keeping a renamed column and its predecessor in sync while both exist (between a rename's expand and
contract versions).

During that window old code writes the old column and new code the new one, under live traffic. A row
trigger on the unit's table copies each write across, so either side sees the other's writes:

- ``INSERT``: a column left NULL takes the other's value;
- ``UPDATE``: when only one of the two changes, the other follows (when both change, both are kept).

The trigger exists exactly in the versions where the file declares ``renamed_from`` and still has the old
column (:func:`live_renames`): a step creates the triggers its new version has and its old one lacked (the
expand step, or the rollback of a contract) and drops the ones its old version had and its new one lacks
(the contract step, or the rollback of an expand), in the unit's transaction like the rest of its DDL. The
function is owned by the migrating administrator, so a tenant cannot rewrite it, and PUBLIC cannot call it
directly (a trigger's function needs no EXECUTE privilege from the writer).
"""

from __future__ import annotations

import hashlib

from psycopg import sql

from paybill_infra.datamodel.source import Rename, SchemaFile

NAME_PREFIX = "paybill_rename_"
MAX_NAME = 63
"""PostgreSQL's identifier length: a longer name would be truncated silently (and could collide)."""


def live_renames(file: SchemaFile) -> frozenset[Rename]:
    """The renames of ``file`` whose old column is still there: the pairs a trigger keeps in sync."""
    return frozenset(
        r.model_copy(update={"path": ""})
        for r in file.renames
        if file.data.has_table(r.table) and file.data.table(r.table).has_column(r.renamed_from)
    )


def sync_name(rename: Rename) -> str:
    """The trigger's (and its function's) name, unique per table and new column, at most 63 bytes."""
    name = f"{NAME_PREFIX}{rename.table}_{rename.column}"
    if len(name.encode()) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name.encode()[: MAX_NAME - 11].decode(errors='ignore')}_{digest}"


def _body(rename: Rename) -> sql.Composed:
    new, old = sql.Identifier(rename.column), sql.Identifier(rename.renamed_from)
    return sql.SQL(
        "BEGIN "
        "IF TG_OP = 'INSERT' THEN "
        "IF NEW.{new} IS NULL THEN NEW.{new} := NEW.{old}; "
        "ELSIF NEW.{old} IS NULL THEN NEW.{old} := NEW.{new}; END IF; "
        "ELSIF NEW.{old} IS DISTINCT FROM OLD.{old} AND NEW.{new} IS NOT DISTINCT FROM OLD.{new} THEN "
        "NEW.{new} := NEW.{old}; "
        "ELSIF NEW.{new} IS DISTINCT FROM OLD.{new} AND NEW.{old} IS NOT DISTINCT FROM OLD.{old} THEN "
        "NEW.{old} := NEW.{new}; "
        "END IF; "
        "RETURN NEW; "
        "END"
    ).format(new=new, old=old)


def create_sync(schema: str, rename: Rename) -> list[sql.Composed]:
    """The function and the BEFORE INSERT OR UPDATE row trigger keeping ``rename``'s two columns in sync, in
    the unit whose tables live in ``schema``. A migration's expand step creates them, and so does
    provisioning a unit at a version whose renames are live (a tenant onboarded mid-rename)."""
    name = sync_name(rename)
    function = sql.Identifier(schema, name)
    return [
        sql.SQL(
            "CREATE OR REPLACE FUNCTION {f}() RETURNS trigger LANGUAGE plpgsql SET search_path = pg_catalog AS $sync$"
        ).format(f=function)
        + _body(rename)
        + sql.SQL("$sync$"),
        sql.SQL("REVOKE ALL ON FUNCTION {f}() FROM PUBLIC").format(f=function),
        sql.SQL("CREATE TRIGGER {n} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION {f}()").format(
            n=sql.Identifier(name), t=sql.Identifier(schema, rename.table), f=function
        ),
    ]


def drop_sync(schema: str, rename: Rename) -> list[sql.Composed]:
    """Drop ``rename``'s trigger and function; ``IF EXISTS``, since a unit migrated through the expand step
    before triggers were created has none."""
    name = sync_name(rename)
    return [
        sql.SQL("DROP TRIGGER IF EXISTS {n} ON {t}").format(
            n=sql.Identifier(name), t=sql.Identifier(schema, rename.table)
        ),
        sql.SQL("DROP FUNCTION IF EXISTS {f}()").format(f=sql.Identifier(schema, name)),
    ]
