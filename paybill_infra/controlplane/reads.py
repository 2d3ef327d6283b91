"""Reads of the registry: tenants, operations, the audit log and the fleet's status.

They use the registry alone (no engine run, no migration, no lock), except :meth:`Reads.credentials`, which
reads the outputs of the tenant's component in its stack and so needs the stack manager. Inputs are
validated here, so the control plane and the read-only
:class:`~paybill_infra.controlplane.reader.RegistryReader` answer alike. Listing runs a constant number of
statements whatever the fleet's size: subscriptions and pools are joined, not fetched per tenant. This
module imports neither the engine nor alembic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict, Unpack

from pydantic import SecretStr
from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

from paybill_infra.controlplane.inputs import valid_slug
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
    TenantState,
    TenantView,
    validate,
)
from paybill_infra.controlplane.registry import (
    AuditRow,
    OperationRow,
    PoolRow,
    PoolShardRow,
    Registry,
    StackRow,
    SubscriptionRow,
    TenantRow,
    tenant_row,
)
from paybill_infra.controlplane.transitions import PLACED
from paybill_infra.errors import ControlPlaneError, IllegalTransitionError
from paybill_infra.schema.enums import Cloud, Isolation, SubscriptionStatus
from paybill_infra.topology.naming import BRIDGE_DATABASE, POOLED_SCHEMA, SILO_SCHEMA, NameKind, name_for

if TYPE_CHECKING:
    from paybill_infra.controlplane.stacks import StackManager


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
    rows, without materialising three ORM objects per tenant (the bulk of a 10,000-tenant listing).
    :func:`tenant_document` unpacks these rows by position, in this order."""
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


def _placement(
    slug: str,
    isolation: Isolation,
    cloud: Cloud,
    state: TenantState,
    stack: str | None,
    role: str | None,
    pool: str | None,
) -> tuple[str | None, str | None, str | None]:
    """The role, database and schema of a tenant's data (``pool`` is its pool's database); all ``None``
    until it is placed."""
    if state not in PLACED or stack is None:
        return None, None, None
    if isolation is Isolation.POOLED:
        return role, pool, POOLED_SCHEMA
    if isolation is Isolation.BRIDGE:
        return role, BRIDGE_DATABASE, name_for(cloud, slug, NameKind.SCHEMA)
    return role, name_for(cloud, slug, NameKind.DATABASE), SILO_SCHEMA


def tenant_view(row: Row[Any]) -> TenantView:
    """The view of one :func:`_tenants` row, built without re-validating it: every value comes from a typed
    registry column (enums already members, datetimes aware), and validating 10,000 views again was half of
    a fleet listing's time."""
    role, database, schema = _placement(
        row.slug, row.isolation, row.cloud, row.state, row.stack, row.role, row.pool_database
    )
    subscription = None
    if row.sub_tenant is not None:
        subscription = SubscriptionView.model_construct(
            status=SubscriptionStatus(row.sub_status),
            plan=row.sub_plan,
            period_end=row.sub_period_end,
            past_due_since=row.sub_past_due_since,
            canceled_at=row.sub_canceled_at,
        )
    return TenantView.model_construct(
        **{name: getattr(row, name) for name in _TENANT_COLUMNS if name != "role"},
        pool=row.pool_stack,
        role=role,
        database=database,
        schema_name=schema,
        subscription=subscription,
    )


def tenant_document(row: Sequence[Any]) -> dict[str, Any]:
    """The JSON object of :func:`tenant_view` for one :func:`_tenants` row, with no model in between: the
    keys are written in sorted order (what ``--json`` promises, so the serializer need not sort) and enums
    as their values; datetimes stay for the serializer, which formats them as pydantic does. The row is
    unpacked by position (in :func:`_tenants`' column order), a tenth of the cost of reading its columns
    by name: building and dumping 10,000 views was a third of a JSON listing's time."""
    (
        slug,
        display_name,
        plan,
        isolation,
        cloud,
        region,
        state,
        stack,
        role,
        suspended,
        seats_used,
        storage_gb_used,
        created_at,
        updated_at,
        sub_tenant,
        sub_status,
        sub_plan,
        sub_period_end,
        sub_past_due_since,
        sub_canceled_at,
        pool_stack,
        pool_database,
    ) = row
    role, database, schema = _placement(slug, isolation, cloud, state, stack, role, pool_database)
    subscription = None
    if sub_tenant is not None:
        subscription = {
            "canceled_at": sub_canceled_at,
            "past_due_since": sub_past_due_since,
            "period_end": sub_period_end,
            "plan": sub_plan,
            "status": SubscriptionStatus(sub_status).value,
        }
    return {
        "cloud": cloud.value,
        "created_at": created_at,
        "database": database,
        "display_name": display_name,
        "isolation": isolation.value,
        "plan": plan,
        "pool": pool_stack,
        "region": region,
        "role": role,
        "schema_name": schema,
        "seats_used": seats_used,
        "slug": slug,
        "stack": stack,
        "state": state.value,
        "storage_gb_used": storage_gb_used,
        "subscription": subscription,
        "suspended": suspended,
        "updated_at": updated_at,
    }


class TenantFilters(TypedDict, total=False):
    """Which tenants a page holds (validated as :class:`~paybill_infra.controlplane.models.TenantQuery`)."""

    state: TenantState | str | None
    plan: str | None
    cloud: Cloud | str | None
    cursor: str | None
    limit: int | None


class TenantDocuments(NamedTuple):
    """A page of :func:`tenant_document` objects, in slug order; ``next_cursor`` as in :class:`TenantPage`."""

    tenants: list[dict[str, Any]]
    next_cursor: str | None


class Reads:
    """The registry's reads. ``stacks`` is needed by :meth:`credentials` alone."""

    def __init__(self, registry: Registry, stacks: StackManager | None = None) -> None:
        self.registry = registry
        self.stacks = stacks

    def show(self, slug: str) -> TenantView:
        """The tenant, offboarded ones included (their record and audit trail stay)."""
        slug = valid_slug(slug)
        with self.registry.transaction() as session:
            tenant_row(session, slug, include_offboarded=True)
            return tenant_view(session.execute(_tenants().where(TenantRow.slug == slug)).one())

    def tenants(
        self, state: TenantState | None = None, *, plan: str | None = None, cloud: Cloud | str | None = None
    ) -> list[TenantView]:
        """Every tenant matching the filters, in slug order (one statement)."""
        return self.tenant_page(state=state, plan=plan, cloud=cloud).tenants

    def tenant_page(self, **query: Unpack[TenantFilters]) -> TenantPage:
        """A page of at most ``limit`` tenants after ``cursor`` (the previous page's ``next_cursor``): one
        statement per page, whatever the fleet's size; a page of ``limit`` fetches one row more to know
        whether another page follows."""
        rows, next_cursor = self._tenant_rows(query)
        return TenantPage(tenants=[tenant_view(row) for row in rows], next_cursor=next_cursor)

    def tenant_documents(self, **query: Unpack[TenantFilters]) -> TenantDocuments:
        """:meth:`tenant_page` as JSON-ready objects (:func:`tenant_document`), for callers that only
        serialize the page (``paybill tenants list --json``): the same query, no model per tenant."""
        rows, next_cursor = self._tenant_rows(query)
        return TenantDocuments([tenant_document(row) for row in rows], next_cursor)

    def _tenant_rows(self, filters: TenantFilters) -> tuple[Sequence[Row[Any]], str | None]:
        """The page's rows and the cursor of the next page. The statement runs on a Core connection: the
        ORM's result processing would only wrap rows of plain columns again."""
        query = validate(TenantQuery, filters, "tenant query")
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
        with self.registry.engine.begin() as connection:
            rows = connection.execute(select_).all()
        if query.limit is None or len(rows) <= query.limit:
            return rows, None
        return rows[: query.limit], rows[query.limit - 1].slug

    def subscription(self, slug: str) -> SubscriptionView | None:
        return self.show(slug).subscription

    def operations(self, slug: str | None = None, *, limit: int = 100) -> list[OperationResult]:
        with self.registry.transaction() as session:
            query = select(OperationRow).order_by(OperationRow.created_at.desc()).limit(limit)
            if slug is not None:
                query = query.where(OperationRow.tenant == valid_slug(slug))
            return [OperationResult.model_validate(row) for row in session.scalars(query)]

    def audit_log(self, slug: str | None = None) -> list[AuditEntry]:
        with self.registry.transaction() as session:
            query = select(AuditRow).order_by(AuditRow.id)
            if slug is not None:
                query = query.where(AuditRow.tenant == valid_slug(slug))
            return [AuditEntry.model_validate(r) for r in session.scalars(query)]

    def status(self) -> FleetStatus:
        with self.registry.transaction() as session:
            states = Counter(s.value for s in session.scalars(select(TenantRow.state)))
            stacks = tuple(session.scalars(select(StackRow.name).order_by(StackRow.name)))
            return FleetStatus(
                tenants=dict(sorted(states.items())),
                stacks=stacks,
                pools=self._pools(session),
                running=tuple(
                    OperationResult.model_validate(r)
                    for r in session.scalars(select(OperationRow).where(OperationRow.status == OperationStatus.RUNNING))
                ),
            )

    @staticmethod
    def _pools(session: Session) -> tuple[PoolView, ...]:
        counted = session.execute(
            select(TenantRow.pool_id, func.count()).where(TenantRow.pool_id.is_not(None)).group_by(TenantRow.pool_id)
        )
        members: dict[int, int] = {int(pool): int(n) for pool, n in counted if pool is not None}
        shards: dict[int, list[str]] = {}
        for pool_id, stack in session.execute(
            select(PoolShardRow.pool_id, PoolShardRow.stack).order_by(PoolShardRow.pool_id, PoolShardRow.ordinal)
        ):
            shards.setdefault(pool_id, []).append(stack)
        return tuple(
            PoolView(
                stack=p.stack,
                plan=p.plan,
                cloud=p.cloud,
                region=p.region,
                database=p.database,
                capacity=p.capacity,
                members=members.get(p.id, 0),
                shards=tuple(shards.get(p.id, ())),
            )
            for p in session.scalars(
                select(PoolRow).order_by(PoolRow.cloud, PoolRow.region, PoolRow.plan, PoolRow.ordinal)
            )
        )

    def credentials(self, slug: str) -> TenantCredentials:
        """The tenant's connection details from its tenant component's outputs in its stack (the password stays
        a ``SecretStr``)."""
        slug = valid_slug(slug)
        if self.stacks is None:
            raise ControlPlaneError("a registry reader cannot read credentials (they are in the stack's outputs)")
        with self.registry.transaction() as session:
            row = tenant_row(session, slug)
            stack, state = row.stack, row.state
        if stack is None:
            raise IllegalTransitionError(slug, "read the credentials of", state.value)
        outputs = self.stacks.tenant_outputs(stack, slug)
        if outputs is None:
            raise ControlPlaneError(f"stack '{stack}' holds no resources of tenant '{slug}'")
        return TenantCredentials(
            tenant=slug,
            host=outputs["db_host"],
            port=int(outputs["db_port"]),
            database=outputs["db_name"],
            schema_name=outputs["db_schema"],
            user=outputs["db_user"],
            password=SecretStr(outputs["db_password"]),
        )
