"""``paybill acl``: a typer sub-app (``matrix``, ``sql``, ``check``) over a policy YAML file.

Mount it with ``app.add_typer(agent_acl.cli.app, name="acl")``. Exit codes: 0 success, 1 the check found
violations, 2 the policy file is invalid.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from agent_acl.access import explain_access
from agent_acl.closure import check_tenant_closure
from agent_acl.ddl import migration, render, teardown
from agent_acl.errors import AclError, PolicyError, TenantClosureError
from agent_acl.naming import Isolation
from agent_acl.policy import AclPolicy, load_policy

app = typer.Typer(
    help="Agent ACL: access matrix, SQL migration, static checks.", no_args_is_help=True, rich_markup_mode=None
)

PolicyPath = Annotated[Path, typer.Argument(help="Schema/policy YAML file.", exists=False, dir_okay=False)]


class IsolationChoice(enum.StrEnum):
    silo = "silo"
    bridge = "bridge"
    pooled = "pooled"


def _load(path: Path) -> AclPolicy:
    try:
        return load_policy(path)
    except PolicyError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None


@app.command()
def matrix(
    policy_file: PolicyPath,
    agent: Annotated[list[str] | None, typer.Option("--agent", "-a", help="Only these agents.")] = None,
) -> None:
    """Print each agent's table x column x operation matrix (and masked columns)."""
    policy = _load(policy_file)
    names = agent or [a.name for a in policy.agents]
    for name in names:
        try:
            typer.echo(explain_access(policy, name).render(), nl=False)
        except KeyError:
            typer.echo(f"unknown agent '{name}'", err=True)
            raise typer.Exit(2) from None


@app.command("sql")
def sql_command(
    policy_file: PolicyPath,
    isolation: Annotated[IsolationChoice, typer.Option("--isolation", "-i", help="Isolation model.")],
    tenant: Annotated[list[str] | None, typer.Option("--tenant", "-t", help="Tenants to provision.")] = None,
    down: Annotated[bool, typer.Option("--down", help="Emit the teardown instead.")] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Export the migration (roles, databases/schemas, tables, RLS, grants) as a psql script."""
    policy = _load(policy_file)
    model = Isolation(isolation.value)
    try:
        batches = teardown(policy, model, tenant or []) if down else migration(policy, model, tenant or [])
    except AclError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None
    text = render(batches)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@app.command()
def check(policy_file: PolicyPath) -> None:
    """Validate the policy and prove every compiled statement carries the tenant predicate."""
    policy = _load(policy_file)
    try:
        count = check_tenant_closure(policy)
    except TenantClosureError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1) from None
    except AclError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"ok: {len(policy.agents)} agent(s), {count} compiled statement(s), all tenant-closed")


def main() -> None:  # pragma: no cover - console entry for `python -m agent_acl.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
