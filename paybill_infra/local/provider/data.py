"""The tenant data schema a provider's resource provisions, read from its inputs.

Resources carry the project's schema file (at the unit's recorded version) as their ``data_schema`` input;
resources declared before schema files existed carry none and keep the shipped default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from paybill_infra.local.provider.lazy import app_schema, render, source, sync
from paybill_infra.local.provider.sessions import run

if TYPE_CHECKING:
    import psycopg
    from sqlalchemy import Table

    from agent_acl import DataSchema


def data_of(props: Mapping[str, Any]) -> DataSchema:
    """The data schema of a resource: its ``data_schema`` input, or the shipped default without one."""
    document = props.get("data_schema")
    if not document:
        return app_schema.APP_SCHEMA
    return source.parse_schema_file(document, "the data_schema input").data


def tables_of(props: Mapping[str, Any]) -> tuple[Table, ...]:
    return app_schema.tables_in(None, data_of(props))


def mark_version(conn: psycopg.Connection[Any], props: Mapping[str, Any], unit: str) -> None:
    """Record the unit's schema version in its marker (in the creating transaction), so a later migration
    knows where it starts, and give it the rename triggers of that version (a unit born between a rename's
    expand and contract keeps both columns in sync like the migrated ones); resources declared without a
    version leave the baseline."""
    if props.get("schema_version") is None:
        return
    data = source.parse_schema_file(props["data_schema"], "the data_schema input")
    run(conn, render.marker_setup())
    run(conn, render.set_marker_key(unit, int(props["schema_version"]), data.content_hash))
    for rename in sorted(sync.live_renames(data), key=sync.sync_name):
        for statement in sync.create_sync(unit, rename):
            conn.execute(statement)
