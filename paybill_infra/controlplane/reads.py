"""Reads of the registry: tenants, operations, the audit log and the fleet's status.

They use the registry alone (no engine run), except :meth:`Reads.credentials`, which reads the tenant's
stack outputs. Listing runs a constant number of statements whatever the fleet's size: subscriptions and
pools are joined, not fetched per tenant.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

from paybill_infra.controlplane.jobs import result_of
from paybill_infra.controlplane.models import (
    AuditEntry,
    FleetStatus,
    OperationResult,
    OperationStatus,
    PoolView,
    SubscriptionView,
    TenantCredentials,
    TenantPage,
    TenantQuery,
    TenantView,
)
from paybill_infra.controlplane.programs import BRIDGE_DATABASE
from paybill_infra.controlplane.registry import AuditRow, OperationRow, PoolRow, StackRow, SubscriptionRow, TenantRow
from paybill_infra.controlplane.runtime import Runtime
from paybill_infra.controlplane.transitions import PLACED
from paybill_infra.errors import IllegalTransitionError
from paybill_infra.local import sql as q
from paybill_infra.schema.enums import Isolation, SubscriptionStatus
from paybill_infra.topology.naming import NameKind, name_for


def _no_program() -> None:
    """Reading outputs never runs a program."""


_TENANT_COLUMNS = (
    "slug",
    "display_name",
    "plan",
    "isolation",
    "cloud",
    "region",
    "state",
    "stack",
    "role",
    "suspended",
    "seats_used",
    "storage_gb_used",
    "created_at",
    "updated_at",
)


def _tenants() -> Select[Any]:
    """Tenants with their subscription and pool, as plain columns: a listing builds views straight from
    rows, without materialising three ORM objects per tenant (the bulk of a 10,000-tenant listing)."""
    return (
        select(
            *(getattr(TenantRow, name) for name in _TENANT_COLUMNS),
            SubscriptionRow.tenant.label("sub_tenant"),
            SubscriptionRow.status.label("sub_status"),
            SubscriptionRow.plan.label("sub_plan"),
            SubscriptionRow.period_end.label("sub_period_end"),
            SubscriptionRow.past_due_since.label("sub_past_due_since"),
            SubscriptionRow.canceled_at.label("sub_canceled_at"),
            PoolRow.stack.label("pool_stack"),
            PoolRow.database.label("pool_database"),
        )
        .outerjoin(SubscriptionRow, SubscriptionRow.tenant == TenantRow.slug)
        .outerjoin(PoolRow, PoolRow.id == TenantRow.pool_id)
    )


def tenant_view(row: Row[Any]) -> TenantView:
    """The view of one :func:`_tenants` row."""
    placed = row.state in PLACED and row.stack is not None
    database = schema = None
    if placed:
        if row.isolation is Isolation.POOLED:
            database, schema = row.pool_database, q.POOLED_SCHEMA
        elif row.isolation is Isolation.BRIDGE:
            database, schema = BRIDGE_DATABASE, name_for(row.cloud, row.slug, NameKind.SCHEMA)
        else:
            database, schema = name_for(row.cloud, row.slug, NameKind.DATABASE), q.SILO_SCHEMA
    subscription = None
    if row.sub_tenant is not None:
        subscription = SubscriptionView(
            status=SubscriptionStatus(row.sub_status),
            plan=row.sub_plan,
            period_end=row.sub_period_end,
            past_due_since=row.sub_past_due_since,
            canceled_at=row.sub_canceled_at,
        )
    return TenantView(
        **{name: getattr(row, name) for name in _TENANT_COLUMNS if name != "role"},
        pool=row.pool_stack,
        role=row.role if placed else None,
        database=database,
        schema_name=schema,
        subscription=subscription,
    )


class Reads:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def show(self, slug: str) -> TenantView:
        """The tenant, offboarded ones included (their record and audit trail stay)."""
        with self.rt.registry.transaction() as session:
            self.rt.tenant(session, slug, include_offboarded=True)
            return tenant_view(session.execute(_tenants().where(TenantRow.slug == slug)).one())

    def tenants(self, query: TenantQuery) -> TenantPage:
        """One statement per page, whatever the fleet's size; a page of ``limit`` fetches one row more to know
        whether another page follows."""
        select_ = _tenants().order_by(TenantRow.slug)
        for column, wanted in (
            (TenantRow.state, query.state),
            (TenantRow.plan, query.plan),
            (TenantRow.cloud, query.cloud),
        ):
            if wanted is not None:
                select_ = select_.where(column == wanted)
        if query.cursor is not None:
            select_ = select_.where(TenantRow.slug > query.cursor)
        if query.limit is not None:
            select_ = select_.limit(query.limit + 1)
        with self.rt.registry.transaction() as session:
            views = [tenant_view(row) for row in session.execute(select_)]
        if query.limit is None or len(views) <= query.limit:
            return TenantPage(tenants=views, next_cursor=None)
        return TenantPage(tenants=views[: query.limit], next_cursor=views[query.limit - 1].slug)

    def operations(self, slug: str | None = None, *, limit: int = 100) -> list[OperationResult]:
        with self.rt.registry.transaction() as session:
            query = select(OperationRow).order_by(OperationRow.created_at.desc()).limit(limit)
            if slug is not None:
                query = query.where(OperationRow.tenant == slug)
            return [result_of(row) for row in session.scalars(query)]

    def audit_log(self, slug: str | None = None) -> list[AuditEntry]:
        with self.rt.registry.transaction() as session:
            query = select(AuditRow).order_by(AuditRow.id)
            if slug is not None:
                query = query.where(AuditRow.tenant == slug)
            return [
                AuditEntry(
                    id=r.id,
                    at=r.at,
                    actor=r.actor,
                    tenant=r.tenant,
                    operation_id=r.operation_id,
                    action=r.action,
                    detail=dict(r.detail),
                )
                for r in session.scalars(query)
            ]

    def status(self) -> FleetStatus:
        with self.rt.registry.transaction() as session:
            states = Counter(s.value for s in session.scalars(select(TenantRow.state)))
            stacks = tuple(session.scalars(select(StackRow.name).order_by(StackRow.name)))
            return FleetStatus(
                tenants=dict(sorted(states.items())),
                stacks=stacks,
                pools=self._pools(session),
                running=tuple(
                    result_of(r)
                    for r in session.scalars(select(OperationRow).where(OperationRow.status == OperationStatus.RUNNING))
                ),
            )

    @staticmethod
    def _pools(session: Session) -> tuple[PoolView, ...]:
        counted = session.execute(
            select(TenantRow.pool_id, func.count()).where(TenantRow.pool_id.is_not(None)).group_by(TenantRow.pool_id)
        )
        members: dict[int, int] = {int(pool): int(n) for pool, n in counted if pool is not None}
        return tuple(
            PoolView(
                stack=p.stack,
                plan=p.plan,
                cloud=p.cloud,
                region=p.region,
                database=p.database,
                capacity=p.capacity,
                members=members.get(p.id, 0),
            )
            for p in session.scalars(
                select(PoolRow).order_by(PoolRow.cloud, PoolRow.region, PoolRow.plan, PoolRow.ordinal)
            )
        )

    def credentials(self, slug: str) -> TenantCredentials:
        """The tenant's connection details from its stack's outputs (the password stays a ``SecretStr``)."""
        with self.rt.registry.transaction() as session:
            row = self.rt.tenant(session, slug)
            stack, state = row.stack, row.state
        if stack is None:
            raise IllegalTransitionError(slug, "read the credentials of", state.value)
        outputs = self.rt.stacks.outputs(stack, _no_program)
        info, platform = outputs["tenants"][slug], outputs["platform"]
        return TenantCredentials(
            tenant=slug,
            host=platform["host"],
            port=int(platform["port"]),
            database=info["database"],
            schema_name=info["schema"],
            user=info["user"],
            password=SecretStr(outputs["credentials"][slug]),
        )
