"""The registry's record of schema versions: each distinct schema file content gets the next number once.

Numbers only grow and a content hash is recorded once, so recording the same file twice is a no-op and a
rollout's target version is stable across restarts. The document is stored with the version, so the diff
between any two recorded versions can be recomputed later (a resumed rollout needs no file at hand).
"""

from __future__ import annotations

import tenacity
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paybill_infra.controlplane.registry import Registry, SchemaVersionRow
from paybill_infra.datamodel.source import SchemaFile, parse_schema_file
from paybill_infra.errors import ControlPlaneError


def record(registry: Registry, file: SchemaFile) -> int:
    """The version number of ``file``'s content, recording it as the next version if it is new. Two processes
    recording at once (workers starting together) collide on the number's key; the loser reads again and
    finds the winner's row, or takes the next number."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(IntegrityError), stop=tenacity.stop_after_attempt(5), reraise=True
    )
    return retrying(_record_once, registry, file)


def _record_once(registry: Registry, file: SchemaFile) -> int:
    digest = file.content_hash
    with registry.transaction() as session:
        existing = session.scalar(select(SchemaVersionRow.number).where(SchemaVersionRow.content_hash == digest))
        if existing is not None:
            return existing
        number = (session.scalar(select(func.max(SchemaVersionRow.number))) or 0) + 1
        session.add(
            SchemaVersionRow(number=number, content_hash=digest, source=file.source[:500], document=file.document())
        )
        return number


def newest(session: Session) -> int | None:
    """The highest recorded version (``None`` before the first is recorded)."""
    return session.scalar(select(func.max(SchemaVersionRow.number)))


def load(session: Session, number: int) -> SchemaFile:
    """Recorded version ``number`` as a validated schema file."""
    row = session.get(SchemaVersionRow, number)
    if row is None:
        raise ControlPlaneError(f"schema version {number} is not recorded")
    return parse_schema_file(row.document, f"schema version {number} ({row.source})")


def ensure_baseline(registry: Registry, file: SchemaFile) -> int:
    """Record ``file`` as version 1 when nothing is recorded yet (the fleet was provisioned from it); the
    newest version otherwise."""
    with registry.transaction() as session:
        current = newest(session)
    return current if current is not None else record(registry, file)
