"""Moving a tenant's data between placements: the pluggable hook of topology migrations, and its local
implementation.

A topology migration (pooled -> bridge -> silo and back) is driven by the control plane in five steps:
provision the target, **move** the data, **verify** it, switch the tenant's record, tear down the source.
This module owns the two data steps plus the retention **export** of offboarding, behind the
:class:`DataMover` protocol, so a cloud target can plug in ``pg_dump``/DMS/logical replication instead.

class:`PostgresDataMover` works on any target's PostgreSQL as its administrator (RLS does not apply), table
by table in dependency order (``app_schema.TABLES``):

- the copy into the target runs in **one transaction**, after deleting whatever an earlier, interrupted
  attempt left there, so it is all-or-nothing and safe to retry; the source is only ever read;
- into a tenant-exclusive placement (silo, bridge) primary keys are kept (``OVERRIDING SYSTEM VALUE``) and
  the identity sequences are moved past them; into a pool, whose keys are shared by every tenant of the
  pool, rows get fresh keys and foreign keys are remapped through the parents' old -> new key maps;
- verification compares per-table row counts and a content digest over every column that is not a
  surrogate key, so a dropped, duplicated or altered row fails the migration before the switch.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import sql
from sqlalchemy import Table

from paybill_infra.local.app_schema import TABLES, TENANT_COLUMN
from paybill_infra.local.server import AdminConnection
from paybill_infra.schema.enums import Isolation

KEY_COLUMN = "id"


@dataclass(frozen=True)
class Placement:
    """Where a tenant's tables are: the server (its administrator connection), database and schema (for
    pooled placements, shared with others)."""

    isolation: Isolation
    database: str
    schema: str
    server: AdminConnection = field(repr=False, compare=False)

    def __str__(self) -> str:
        return f"{self.isolation.value}:{self.database}.{self.schema}"


@dataclass(frozen=True)
class Verification:
    source_counts: dict[str, int]
    target_counts: dict[str, int]
    source_digests: dict[str, str]
    target_digests: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.source_counts == self.target_counts and self.source_digests == self.target_digests

    def mismatches(self) -> list[str]:
        return [
            name
            for name in self.source_counts
            if self.source_counts[name] != self.target_counts.get(name)
            or self.source_digests[name] != self.target_digests.get(name)
        ]


@dataclass(frozen=True)
class ExportManifest:
    path: Path
    counts: dict[str, int]
    sha256: str


class DataMover(Protocol):
    """The data steps of a migration, and the retention export. Implementations must leave the source
    untouched and make :meth:`copy` atomic and repeatable.

    :meth:`freeze` stops writes through the tenant's source role before the copy, so nothing written after
    the copy can be lost at the switch; :meth:`thaw` lifts it when the migration rolls back to the source.
    """

    def freeze(self, role: str, placement: Placement) -> None: ...

    def thaw(self, role: str, placement: Placement) -> None: ...

    def copy(self, tenant: str, source: Placement, target: Placement) -> dict[str, int]: ...

    def verify(self, tenant: str, source: Placement, target: Placement) -> Verification: ...

    def counts(self, tenant: str, placement: Placement) -> dict[str, int]: ...

    def export(self, tenant: str, placement: Placement, directory: Path) -> ExportManifest: ...


class PostgresDataMover:
    """:class:`DataMover` on any PostgreSQL: each placement carries its server's administrator connection, so
    source and target may be on different servers, regions or clouds."""

    def __init__(self, tables: Sequence[Table] = TABLES) -> None:
        self.tables = tuple(tables)

    @contextmanager
    def _connect(self, placement: Placement) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(placement.server.conninfo(placement.database), connect_timeout=30) as conn:
            yield conn

    def freeze(self, role: str, placement: Placement) -> None:
        """No new sessions for ``role``, and its open ones are ended (their open transactions roll back)."""
        with psycopg.connect(placement.server.conninfo("postgres"), autocommit=True, connect_timeout=30) as conn:
            conn.execute(sql.SQL("ALTER ROLE {r} NOLOGIN").format(r=sql.Identifier(role)))
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))

    def thaw(self, role: str, placement: Placement) -> None:
        with psycopg.connect(placement.server.conninfo("postgres"), autocommit=True, connect_timeout=30) as conn:
            conn.execute(sql.SQL("ALTER ROLE {r} LOGIN").format(r=sql.Identifier(role)))

    def _rows(self, conn: psycopg.Connection[Any], tenant: str, placement: Placement, table: Table) -> list[Any]:
        columns = [c.name for c in table.columns]
        query = sql.SQL("SELECT {cols} FROM {t} WHERE {tc} = %s ORDER BY {key}").format(
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            t=sql.Identifier(placement.schema, table.name),
            tc=sql.Identifier(TENANT_COLUMN),
            key=sql.Identifier(KEY_COLUMN),
        )
        return conn.execute(query, (tenant,)).fetchall()

    def copy(self, tenant: str, source: Placement, target: Placement) -> dict[str, int]:
        """Copy every row of ``tenant`` from ``source`` to ``target`` in one target transaction."""
        with self._connect(source) as src:
            data = {table.name: self._rows(src, tenant, source, table) for table in self.tables}
        copied: dict[str, int] = {}
        keep_keys = target.isolation is not Isolation.POOLED
        with self._connect(target) as dst, dst.transaction():
            for table in reversed(self.tables):
                dst.execute(
                    sql.SQL("DELETE FROM {t} WHERE {tc} = %s").format(
                        t=sql.Identifier(target.schema, table.name), tc=sql.Identifier(TENANT_COLUMN)
                    ),
                    (tenant,),
                )
            key_maps: dict[str, dict[Any, Any]] = {}
            for table in self.tables:
                rows = data[table.name]
                if keep_keys:
                    self._insert_keeping_keys(dst, target, table, rows)
                else:
                    key_maps[table.name] = self._insert_remapped(dst, target, table, rows, key_maps)
                copied[table.name] = len(rows)
        return copied

    def _insert_keeping_keys(
        self, conn: psycopg.Connection[Any], target: Placement, table: Table, rows: list[Any]
    ) -> None:
        columns = [c.name for c in table.columns]
        name = sql.Identifier(target.schema, table.name)
        if rows:
            statement = sql.SQL("INSERT INTO {t} ({cols}) OVERRIDING SYSTEM VALUE VALUES ({vals})").format(
                t=name,
                cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                vals=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            )
            with conn.cursor() as cur:
                cur.executemany(statement, rows)
        if table.c[KEY_COLUMN].identity is None:
            return  # UUID keys: nothing to move past them
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence({qualified}, {key}), "
                "GREATEST((SELECT max({key_id}) FROM {t}), 1), (SELECT count(*) > 0 FROM {t}))"
            ).format(
                qualified=sql.Literal(f"{target.schema}.{table.name}"),
                key=sql.Literal(KEY_COLUMN),
                key_id=sql.Identifier(KEY_COLUMN),
                t=name,
            )
        )

    def _insert_remapped(
        self,
        conn: psycopg.Connection[Any],
        target: Placement,
        table: Table,
        rows: list[Any],
        key_maps: dict[str, dict[Any, Any]],
    ) -> dict[Any, Any]:
        columns = [c.name for c in table.columns]
        remaps = _foreign_key_remaps(table)
        kept = [c for c in columns if c != KEY_COLUMN]
        statement = sql.SQL("INSERT INTO {t} ({cols}) VALUES ({vals}) RETURNING {key}").format(
            t=sql.Identifier(target.schema, table.name),
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in kept),
            vals=sql.SQL(", ").join(sql.Placeholder() * len(kept)),
            key=sql.Identifier(KEY_COLUMN),
        )
        mapping: dict[Any, Any] = {}
        for row in rows:
            record = dict(zip(columns, row, strict=True))
            for column, parent in remaps.items():
                record[column] = key_maps[parent][record[column]]
            new = conn.execute(statement, [record[c] for c in kept]).fetchone()
            if new is None:
                raise psycopg.DataError(f"INSERT into {table.name} returned no key")
            mapping[record[KEY_COLUMN]] = new[0]
        return mapping

    def counts(self, tenant: str, placement: Placement) -> dict[str, int]:
        with self._connect(placement) as conn:
            return {table.name: len(self._rows(conn, tenant, placement, table)) for table in self.tables}

    def _digests(self, tenant: str, placement: Placement) -> tuple[dict[str, int], dict[str, str]]:
        counts: dict[str, int] = {}
        digests: dict[str, str] = {}
        with self._connect(placement) as conn:
            for table in self.tables:
                columns = [c.name for c in table.columns]
                surrogate = {KEY_COLUMN, *_foreign_key_remaps(table)}
                rows = self._rows(conn, tenant, placement, table)
                content = sorted(
                    json.dumps([v for c, v in zip(columns, row, strict=True) if c not in surrogate], default=str)
                    for row in rows
                )
                counts[table.name] = len(rows)
                digests[table.name] = hashlib.sha256("\n".join(content).encode()).hexdigest()
        return counts, digests

    def verify(self, tenant: str, source: Placement, target: Placement) -> Verification:
        source_counts, source_digests = self._digests(tenant, source)
        target_counts, target_digests = self._digests(tenant, target)
        return Verification(source_counts, target_counts, source_digests, target_digests)

    def export(self, tenant: str, placement: Placement, directory: Path) -> ExportManifest:
        """Write every row of ``tenant`` to ``<directory>/<tenant>-<utc>.json`` (mode 0600) and return its
        counts and SHA-256: the retention copy offboarding keeps."""
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        document: dict[str, Any] = {"tenant": tenant, "exported_at": stamp, "source": str(placement), "tables": {}}
        counts: dict[str, int] = {}
        with self._connect(placement) as conn:
            for table in self.tables:
                rows = self._rows(conn, tenant, placement, table)
                document["tables"][table.name] = {
                    "columns": [c.name for c in table.columns],
                    "rows": [list(row) for row in rows],
                }
                counts[table.name] = len(rows)
        body = json.dumps(document, default=str, sort_keys=True).encode()
        path = directory / f"{tenant}-{stamp}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        return ExportManifest(path=path, counts=counts, sha256=hashlib.sha256(body).hexdigest())


def _foreign_key_remaps(table: Table) -> dict[str, str]:
    """Columns of ``table`` that point at a parent's surrogate key: column -> parent table name."""
    out: dict[str, str] = {}
    for constraint in table.foreign_key_constraints:
        for element in constraint.elements:
            if element.column.name == KEY_COLUMN:
                out[element.parent.name] = element.column.table.name
    return out
