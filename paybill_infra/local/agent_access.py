"""Agent ACL deployments on the local target: the same roles, grants and policies ``paybill acl sql`` exports,
applied and removed by the engine.

``agent_acl`` generates the SQL (one typed data schema → owner/migrator/app roles, a role per tenant and per
agent with column grants, RLS for pooled tenants); these providers only run its batches as the admin, and
check on refresh that the roles they created still exist. Any drift or policy change replaces the
deployment: ``agent_acl`` plans are create-or-teardown, so a rebuild is the only change that is always
correct (schema migrations of live agent data belong to the migration export, not to ``up``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import psycopg

from agent_acl import AclPolicy, Batch, Isolation, Names, enable_login, parse_policy
from agent_acl.ddl import shared_plan, shared_teardown, tenant_plan, tenant_teardown
from paybill_infra.local.credentials import generate_password, scram_sha256_verifier
from paybill_infra.local.provider import PostgresProvider, Props, connect, exists, provisioning_lock
from paybill_infra.local.server import AdminConnection

SHARED_ISOLATION = Isolation.POOLED
"""The shared plan for pooled tenants is a superset of the bridge and silo ones (cluster roles, the shared
database, its control schema and pooled tables), so one shared deployment serves tenants of every isolation."""


def _policy(props: Props) -> AclPolicy:
    return parse_policy(props["policy"], "agent ACL policy")


def run_batches(admin: AdminConnection, batches: Sequence[Batch], *, skip_missing: bool = False) -> None:
    """Run ``agent_acl`` batches as the admin, each in its database, under the provisioning lock; optionally
    skip vanished databases."""
    with provisioning_lock(admin):
        for batch in batches:
            if skip_missing:
                with connect(admin, "postgres") as conn:
                    if not exists(conn, "SELECT 1 FROM pg_database WHERE datname = %s", batch.database):
                        continue
            with connect(admin, batch.database, autocommit=batch.autocommit) as conn:
                for statement in batch.statements:
                    conn.execute(statement.as_string(conn))


def _missing_roles(admin: AdminConnection, roles: Sequence[str]) -> list[str]:
    with connect(admin, "postgres") as conn:
        present = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (list(roles),))}
    return [f"role:{r}" for r in roles if r not in present]


class AclProvider(PostgresProvider):
    """Deployments are rebuilt, never patched: drift replaces them."""

    replace_on_drift: ClassVar[bool] = True


class AclSharedProvider(AclProvider):
    replace_on = ("policy",)
    secret_outputs = ("app_password",)
    computed = ("app_role",)

    def _id(self, props: Props) -> str:
        return Names(_policy(props).name).shared_database()

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        policy = _policy(props)
        run_batches(admin, shared_plan(policy, SHARED_ISOLATION))
        password = generate_password()
        with connect(admin, "postgres") as conn:
            for statement in enable_login(Names(policy.name).app, scram_sha256_verifier(password)):
                conn.execute(statement.as_string(conn))
        return {"app_role": Names(policy.name).app, "app_password": password}

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        names = Names(_policy(props).name)
        with connect(admin, "postgres") as conn:
            if not exists(conn, "SELECT 1 FROM pg_database WHERE datname = %s", names.shared_database()):
                return None
        return _missing_roles(admin, (names.owner, names.migrator, names.app))

    def _converge(self, admin: AdminConnection, olds: Props, news: Props) -> Props:
        raise psycopg.ProgrammingError("agent ACL deployments are replaced, never updated in place")

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        run_batches(admin, shared_teardown(_policy(props), SHARED_ISOLATION), skip_missing=True)


class AclTenantProvider(AclProvider):
    replace_on = ("policy", "isolation", "tenant")

    def _id(self, props: Props) -> str:
        return Names(_policy(props).name).tenant_role(props["tenant"])

    def _create(self, admin: AdminConnection, props: Props) -> Props:
        run_batches(admin, tenant_plan(_policy(props), Isolation(props["isolation"]), props["tenant"]))
        return {}

    def _inspect(self, admin: AdminConnection, props: Props) -> list[str] | None:
        policy = _policy(props)
        names = Names(policy.name)
        roles = names.roles_of_tenant(props["tenant"], tuple(a.name for a in policy.agents))
        missing = _missing_roles(admin, roles)
        return None if len(missing) == len(roles) else missing

    def _converge(self, admin: AdminConnection, olds: Props, news: Props) -> Props:
        raise psycopg.ProgrammingError("agent ACL deployments are replaced, never updated in place")

    def _delete(self, admin: AdminConnection, props: Props) -> None:
        run_batches(
            admin, tenant_teardown(_policy(props), Isolation(props["isolation"]), props["tenant"]), skip_missing=True
        )


def policy_input(policy: AclPolicy) -> dict[str, Any]:
    """The policy as a resource input: plain JSON data, so a change shows up in ``pulumi preview``."""
    return policy.model_dump(mode="json", by_alias=True)
