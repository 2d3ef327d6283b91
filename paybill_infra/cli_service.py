"""``paybill service create-key|revoke-key|list-keys``: API keys of the product backend, from a shell.

It lives outside :mod:`paybill_infra.service` so that ``paybill`` works without the ``service`` extra.
Settings come from the same ``PAYBILL_SERVICE_*`` environment as the API and the workers; a missing or
bad variable is named in one line (no traceback). A key's secret is printed once, when it is created.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from paybill_infra.cli_output import emit, fail, guard, out, table
from paybill_infra.errors import FieldProblem, InvalidInputError

service_app = typer.Typer(
    help="The product backend's API keys (PAYBILL_SERVICE_* environment).", no_args_is_help=True, rich_markup_mode=None
)
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output (errors too, on stdout).")]


def _store(as_json: bool) -> Any:
    """The service store, its database migrated if needed (``paybill-infra[service]`` must be installed)."""
    try:
        from paybill_infra.service.migrate import migrate
        from paybill_infra.service.settings import ServiceSettings
        from paybill_infra.service.store import Store
    except ImportError as err:
        problem = FieldProblem("", f"{err.name} is not installed; run: pip install 'paybill-infra[service]'")
        fail(InvalidInputError("paybill service", [problem]), as_json=as_json)
    settings = guard(ServiceSettings.from_env, as_json=as_json)
    guard(lambda: migrate(settings), as_json=as_json)
    return Store.connect(settings.sqlalchemy_url())


@service_app.command("create-key")
def create_key(
    subject: Annotated[str, typer.Option("--subject", help="Who the key is for (recorded as the actor).")],
    role: Annotated[str, typer.Option("--role", help="platform_admin or tenant_admin.")],
    tenant: Annotated[str | None, typer.Option("--tenant", help="The tenant of a tenant_admin key.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key and print its secret (shown this once; only a hash is stored)."""
    from paybill_infra.service.auth import create_api_key
    from paybill_infra.service.models import Role

    roles = [r.value for r in Role]
    if role not in roles:
        fail(
            InvalidInputError("--role", [FieldProblem("role", f"expected one of: {', '.join(roles)}")]), as_json=as_json
        )
    if (role == Role.TENANT_ADMIN.value) != (tenant is not None):
        problem = FieldProblem("tenant", "a tenant_admin key needs --tenant; a platform_admin key takes none")
        fail(InvalidInputError("--tenant", [problem]), as_json=as_json)
    store = _store(as_json)
    try:
        secret = create_api_key(store, subject, Role(role), tenant=tenant).get_secret_value()
    except ValueError as err:
        fail(InvalidInputError("create-key", [FieldProblem("subject", str(err))]), as_json=as_json)
    finally:
        store.close()
    if as_json:
        emit({"key": secret, "id": secret.split("_")[1], "subject": subject, "role": role, "tenant": tenant})
    else:
        out.print(secret, markup=False, highlight=False)


@service_app.command("revoke-key")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key's id: the part after pbk_ (see list-keys).")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API key; sessions signed in with it end at their next request."""
    store = _store(as_json)
    try:
        found = store.revoke_key(key_id)
    finally:
        store.close()
    if not found:
        fail(
            InvalidInputError("revoke-key", [FieldProblem("key_id", f"no API key with id '{key_id}'")]), as_json=as_json
        )
    if as_json:
        emit({"id": key_id, "revoked": True})
    else:
        out.print(f"revoked {key_id}", markup=False, highlight=False)


@service_app.command("list-keys")
def list_keys(as_json: JsonOpt = False) -> None:
    """Every API key: id, subject, role, tenant, created and revoked (never a secret)."""
    store = _store(as_json)
    try:
        keys = store.keys()
    finally:
        store.close()
    if as_json:
        emit(keys)
        return
    rows = table("id", "subject", "role", "tenant", "created", "revoked")
    for k in keys:
        revoked = f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "-"
        rows.add_row(k.id, k.subject, k.role.value, k.tenant or "-", f"{k.created_at:%Y-%m-%d %H:%M}", revoked)
    out.print(rows)
