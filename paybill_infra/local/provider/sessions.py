"""Provisioning sessions: bounded lock waits and statements, and the one server-wide provisioning lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from paybill_infra.errors import ProvisioningBusyError
from paybill_infra.local.provider.lazy import pg_errors, psycopg, q

if TYPE_CHECKING:
    from paybill_infra.local.server import AdminConnection


LOCK_TIMEOUT_MS = 10_000
"""How long a provisioning statement waits for any lock before failing with a retryable error."""
STATEMENT_TIMEOUT_MS = 300_000
"""How long one provisioning statement may run (``CREATE DATABASE`` included)."""
PROVISIONING_LOCK_TIMEOUT_MS = 120_000
"""How long a provisioner waits for :func:`provisioning_lock`. Only other provisioners hold it, each for a short
section, but a large parallel ``up`` queues many of them; still bounded, so a stuck holder fails retryably."""


@contextmanager
def connect(admin: AdminConnection, dbname: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
    """A provisioning session: bounded lock waits and statements, so nothing a tenant holds can hang it.

    A timeout becomes :class:`ProvisioningBusyError` (retryable) instead of a hang or an anonymous error.
    """
    conninfo = psycopg.conninfo.make_conninfo(
        admin.conninfo(dbname),
        options=f"-c lock_timeout={int(LOCK_TIMEOUT_MS)} -c statement_timeout={int(STATEMENT_TIMEOUT_MS)}",
    )
    try:
        with psycopg.connect(conninfo, autocommit=autocommit, connect_timeout=30) as conn:
            yield conn
    except (pg_errors.LockNotAvailable, pg_errors.QueryCanceled) as err:
        raise ProvisioningBusyError(dbname, str(err).strip().splitlines()[0]) from None


@contextmanager
def provisioning_lock(admin: AdminConnection) -> Iterator[None]:
    """Serialise changes to shared objects (databases' ACLs, the shared schemas and pooled tables, roles).

    PostgreSQL rewrites an object's ACL in place, so two concurrent GRANTs on one object fail with "tuple
    concurrently updated"; the engine runs tenant resources in parallel, so they take turns here. The lock
    is ``LOCK TABLE ... IN EXCLUSIVE MODE`` on a table of the maintenance database that only the
    provisioner can reach: an advisory lock would do the same job, but any tenant session could take it and
    stall provisioning for as long as it liked (issue 10). One lock for the whole server, because database
    ACLs live in a shared catalog. Held until the ``with`` block ends.
    """
    with connect(admin, q.MAINTENANCE_DATABASE, autocommit=True) as conn:
        if not exists(conn, "SELECT 1 WHERE to_regclass(%s) IS NOT NULL", f"{q.LOCK_SCHEMA}.{q.LOCK_TABLE}"):
            for statement in q.create_lock_table():
                # A concurrent provisioner may run the same statement first: its duplicate is as good as ours,
                # whether it shows as a duplicate or, for the schema's ACL, as "tuple concurrently updated".
                with suppress(pg_errors.UniqueViolation, pg_errors.DuplicateObject, pg_errors.InternalError_):
                    conn.execute(statement)
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(PROVISIONING_LOCK_TIMEOUT_MS)}ms",))
            run(conn, q.take_provisioning_lock())
            yield


def run(conn: psycopg.Connection[Any], statements: q.Statements) -> None:
    for statement in statements:
        conn.execute(statement)


def exists(conn: psycopg.Connection[Any], query: str, *params: object) -> bool:
    return conn.execute(query, params).fetchone() is not None
