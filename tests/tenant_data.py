"""A tenant's data as the tenant itself sees it: its own credentials, login role and isolation (shared by
the control-plane lifecycle tests on the local target and on every cloud)."""

from __future__ import annotations

import psycopg

from paybill_infra.controlplane import ControlPlane


def login(plane: ControlPlane, slug: str, *, seen: list[str] | None = None) -> psycopg.Connection[tuple[object, ...]]:
    """A connection as ``slug``'s own login role; its password is appended to ``seen`` (to check later that
    no password was stored anywhere)."""
    creds = plane.credentials(slug)
    password = creds.password.get_secret_value()
    if seen is not None:
        seen.append(password)
    return psycopg.connect(
        host=creds.host,
        port=creds.port,
        dbname=creds.database,
        user=creds.user,
        password=password,
        autocommit=True,
    )


def own_rows(plane: ControlPlane, slug: str, *, seen: list[str] | None = None) -> list[tuple[object, ...]]:
    """The tenant's customers with their invoices, read through its own role and isolation."""
    schema = plane.show(slug).schema_name
    with login(plane, slug, seen=seen) as conn:
        return conn.execute(
            f'SELECT c.name, c.email, i.amount_cents, i.status FROM "{schema}".customers c '
            f'LEFT JOIN "{schema}".invoices i ON i.customer_id = c.id AND i.tenant_id = c.tenant_id ORDER BY 1, 3'
        ).fetchall()
