"""Reconciliation: derive what a stack should hold from the registry, and converge it on its target.

A program never reads the registry itself: :meth:`Reconciler.spec` snapshots a stack's intent into a
frozen :class:`StackSpec` *before* the engine runs, so a run is a pure function of its spec.

Every logical stack is converged in two steps:

1. **infrastructure** (cloud targets only): the target's program for the stack runs as the stack's twin
   ``<stack>-infra`` (:mod:`paybill_infra.targets`); its outputs say which server the tenant's data lives
   on, with its administrator credential (a secret, never stored by the control plane);
2. **database layer**: the one set of PostgreSQL resources (roles, schemas, tables, row-level security) in
   the stack itself, applied to that server on the real engine.

An emptied stack is destroyed in the reverse order. The local target has no infrastructure step: its
server is the embedded one.

**Per-tenant work in a pool is bounded by the shard size, not the pool's size** (issue 13, item 3). Two
rules make it so:

- *A pool is sharded.* Its own stack holds the pool's database and its first ``pool_shard_size`` members
  (16 by default); every further member sits in a shard, a stack of up to that many members over the same
  database (:class:`~paybill_infra.controlplane.programs.ShardProgram`, placed by
  :func:`~paybill_infra.controlplane.placement.seat`). The pool's stack is provisioned before its first
  shard and kept while any shard is recorded; a shard emptied of members is destroyed, and the pool with it
  once it has neither members nor shards (:meth:`Reconciler.sync`). A pool of 200 is thirteen stacks, none of
  them holding more than 16 members, so the checkpoint the engine loads and writes on every run and the
  untouched resources it walks stay those of 16 members at most, and so does each stack's state.
- *A run is scoped to its tenants.* A run of a provisioned pool stack or shard on behalf of tenant
  operations alone (onboarding, suspension, a plan change, offboarding, and their recovery) registers the
  stack's database (or its reference) and those tenants only, and targets their ``paybill:local:Tenant``
  components (``up --target ... --target-dependents``, see
  :meth:`~paybill_infra.controlplane.stacks.StackManager.tenant_target`): the engine creates, updates or
  deletes exactly their resources and keeps every other member as the checkpoint holds it. A tenant's drift
  check refreshes its own resources only. A stack's first run, and any run with a converge or a rollout in
  its batch (``fleet up``, ``converge``), is a full run that applies every member of the stack. The
  database layer's per-tenant data lives in each tenant's component outputs (not in stack-wide maps the
  engine would replace on every run), so a scoped run loses nothing of the other members. On a cloud, each
  stack's infrastructure twin serves that stack's members only.

Why this shape, measured in ``benchmarks/pool_size.py`` (BENCHMARKS.md, "Per-tenant work against pool size"),
and not the two alternatives issue 13 names:

- Scoped runs of one stack per pool, alone, left what the engine does per run growing with the pool: loading
  and writing the whole checkpoint (about 15 kB per member) and a ``same`` step per untouched resource. A
  tenant's onboarding into a pool of 200 cost 1.6x the CPU of one into a pool of 2.
- A database-layer stack per tenant beside a pool stack holding only the database would be flat too, but it
  gives up what pools are for on the engine's side: a batch of k pooled tenants (``onboard_many``,
  concurrent callers) would be k engine runs instead of one per stack touched, against fleet onboarding's
  target; and every pooled tenant would become a unit of infrastructure rollouts with, on a cloud, an
  infrastructure twin of its own. Shards keep one run per 16 members of a batch (the runs of a batch's stacks
  overlap), and a pool no larger than the shard size is one stack, as before.
- Why 16: with the shared provider host a run's fixed cost is small, so the share of the checkpoint's size
  shows. A stack of 25 members cost 1.29x the CPU of a pool of 2 per onboarding, one of 32 members 1.39x;
  a stack of 16 keeps every step under the 1.3x target while batches stay large.
- Existing pools need no state moved between stacks: their members stay in the pool's own stack, and only
  new members beyond its share go to shards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from paybill_infra.controlplane.jobs import Batcher, Gate
from paybill_infra.controlplane.migration import Placement
from paybill_infra.controlplane.models import StackChange, StackKind
from paybill_infra.controlplane.placement import infra_stack, platform_stack, pool_of
from paybill_infra.controlplane.programs import (
    Endpoint,
    MemberSpec,
    PlatformProgram,
    PoolProgram,
    ServerConfig,
    ShardProgram,
    TenantProgram,
)
from paybill_infra.controlplane.registry import (
    PoolRow,
    PoolShardRow,
    SchemaVersionRow,
    StackRow,
    TenantRow,
    utcnow,
)
from paybill_infra.controlplane.runtime import Runtime
from paybill_infra.datamodel import versions
from paybill_infra.datamodel.source import DataModel
from paybill_infra.errors import ControlPlaneError, EndpointUnreachableError, PaybillError
from paybill_infra.local import sql as q
from paybill_infra.local.server import AdminConnection, ServerSpec, admin_connection
from paybill_infra.schema.enums import Cloud, Isolation
from paybill_infra.schema.tenant import Tenant
from paybill_infra.targets.base import Member, Target
from paybill_infra.topology.model import Topology
from paybill_infra.topology.naming import BRIDGE_DATABASE, NameKind
from paybill_infra.topology.resolve import resolve_topology

PROBE_TIMEOUT_S = 10
REVIEW_ADMIN = AdminConnection(host="review.invalid", port=5432, user="review", password="review")  # noqa: S106
"""The server a database-layer program is built against for a review under mocks (never contacted)."""


def _no_program() -> None:
    """Reading outputs or state never runs a program."""


@dataclass(frozen=True)
class StackSpec:
    """What one stack should hold now. ``members`` empty (and not a platform, nor ``retained``): destroy it."""

    name: str
    kind: StackKind
    target: Target
    region: str
    members: tuple[MemberSpec, ...]
    database: str = BRIDGE_DATABASE
    owner: str = ""
    schema_version: int | None = None
    """The data schema version the stack's tables are at (``None``: the newest recorded)."""
    shard_of: str = ""
    """A pool shard's pool stack (which holds the pool's database); empty for every other stack."""
    retained: bool = False
    """A pool stack left without members of its own while its shards hold the pool's: it keeps the database."""

    @property
    def slugs(self) -> tuple[str, ...]:
        return tuple(m.topology.tenant for m in self.members)

    def narrowed(self, tenants: frozenset[str]) -> StackSpec:
        """This spec with only the members among ``tenants`` (what a run scoped to them registers)."""
        return replace(self, members=tuple(m for m in self.members if m.topology.tenant in tenants))


class Reconciler:
    """Converges stacks to the registry (see the module docstring)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._batchers: dict[str, Batcher[StackChange]] = {}
        self._waiting: dict[str, dict[str, str | None]] = {}
        """Per stack, the callers waiting for a run of it: operation id -> the tenant of a journaled
        operation, or ``None`` for a caller that asks for the whole stack (a converge, a rollout)."""
        self._guard = threading.Lock()
        self.gate = Gate()

    # --- intent ----------------------------------------------------------------------------------------------

    def topology(self, row: TenantRow, plan: str, role: str, *, target: bool = False) -> Topology:
        """The tenant's topology on its (or its migration target's) cloud and region, whose database user is
        the login role of that generation."""
        cloud = (row.target_cloud or row.cloud) if target else row.cloud
        region = (row.target_region or row.region) if target else row.region
        return self.resolve(row.slug, row.display_name, plan, dict(row.tags or {}), cloud, region, role)

    def resolve(
        self,
        slug: str,
        display_name: str,
        plan: str,
        tags: dict[str, str],
        cloud: Cloud,
        region: str | None,
        role: str | None = None,
    ) -> Topology:
        """Resolve the tenant on ``cloud``'s target: a region it does not allow, or an isolation it does not
        offer, is a :class:`~paybill_infra.errors.TopologyError` (raised before anything is recorded)."""
        tenant = Tenant(slug=slug, display_name=display_name, plan=plan, tags=tags, cloud=cloud, region=region)
        topology = resolve_topology(self.rt.catalog[plan], tenant, self.rt.target(cloud).defaults())
        if role is None:
            return topology
        return topology.model_copy(update={"names": {**topology.names, NameKind.DB_USER: role}})

    def members(
        self,
        session: Session,
        stack: str,
        *,
        exclude: str | None = None,
        override: dict[str, tuple[str, bool]] | None = None,
    ) -> list[MemberSpec]:
        """Tenants placed on ``stack`` (current placement, or target of a running migration). ``override``
        replaces a tenant's (plan, suspended) for previews."""
        rows = session.scalars(
            select(TenantRow)
            .where(or_(TenantRow.stack == stack, TenantRow.target_stack == stack), TenantRow.slug != (exclude or ""))
            .order_by(TenantRow.slug)
        )
        out: list[MemberSpec] = []
        for row in rows:
            if row.stack == stack:
                plan, suspended = (override or {}).get(row.slug, (row.plan, row.suspended))
                role = row.role or ""
                out.append(MemberSpec(self.topology(row, plan, role), role, suspended))
            else:
                role = row.target_role or ""
                out.append(MemberSpec(self.topology(row, row.target_plan or row.plan, role, target=True), role, False))
        return out

    def spec(self, session: Session, stack: str) -> StackSpec:
        """What ``stack`` should hold now, read from the registry in the caller's transaction."""
        pool = pool_of(session, stack)
        if pool is not None:
            shard = pool.stack != stack
            members = tuple(self.members(session, stack))
            retained = not shard and not members and _has_shards(session, pool.id)
            return StackSpec(
                stack,
                StackKind.POOL,
                self.rt.target(pool.cloud),
                pool.region,
                members,
                pool.database,
                pool.owner,
                pool.schema_version,
                shard_of=pool.stack if shard else "",
                retained=retained,
            )
        place = self.platform_place(session, stack)
        if place is not None:
            return StackSpec(stack, StackKind.PLATFORM, self.rt.target(place[0]), place[1], ())
        members = tuple(self.members(session, stack))
        if members:
            topology = members[0].topology
            tenant = session.get(TenantRow, topology.tenant)
            version = tenant.schema_version if tenant is not None else None
            return StackSpec(
                stack,
                StackKind.TENANT,
                self.rt.target(topology.cloud),
                topology.region,
                members,
                schema_version=version,
            )
        row = session.get(StackRow, stack)
        cloud, region = (row.cloud, row.region) if row is not None else (Cloud.LOCAL, "local")
        return StackSpec(stack, StackKind.TENANT, self.rt.target(cloud), region, ())

    def platform_place(self, session: Session, stack: str) -> tuple[Cloud, str] | None:
        """The (cloud, region) whose platform ``stack`` is, if it is one."""
        row = session.get(StackRow, stack)
        if row is not None and row.kind is StackKind.PLATFORM:
            return row.cloud, row.region
        for target in self.rt.targets.values():
            for region in target.allowed_regions():
                if platform_stack(target, region) == stack:
                    return target.cloud, region
        return None

    # --- convergence -----------------------------------------------------------------------------------------

    def sync(self, stack: str, operation_id: str) -> StackChange:
        """Converge ``stack`` to the registry (batched with concurrent requests for the same stack).

        A pool shard needs its pool's database: the pool's stack is converged first when it has not been
        provisioned yet, and destroyed after the shard when the pool is left with no member and no shard."""
        pool_stack = self._pool_of_shard(stack)
        if pool_stack is not None and not self._provisioned(pool_stack):
            self._sync(pool_stack, operation_id)
        change = self._sync(stack, operation_id)
        if pool_stack is not None and self._deserted(pool_stack):
            self._sync(pool_stack, operation_id)
        return change

    def _pool_of_shard(self, stack: str) -> str | None:
        with self.rt.registry.transaction() as session:
            pool = pool_of(session, stack)
            return pool.stack if pool is not None and pool.stack != stack else None

    def _provisioned(self, stack: str) -> bool:
        with self.rt.registry.transaction() as session:
            row = session.get(StackRow, stack)
            return row is not None and "platform" in (row.outputs or {})

    def _deserted(self, pool_stack: str) -> bool:
        """Whether the pool whose stack is ``pool_stack`` has neither members nor shards left."""
        with self.rt.registry.transaction() as session:
            pool = session.scalars(select(PoolRow).where(PoolRow.stack == pool_stack)).one_or_none()
            if pool is None or _has_shards(session, pool.id):
                return False
            placed = or_(TenantRow.pool_id == pool.id, TenantRow.target_pool_id == pool.id)
            return session.scalars(select(TenantRow.slug).where(placed).limit(1)).first() is None

    def _sync(self, stack: str, operation_id: str) -> StackChange:
        row = self.rt.journal.get(operation_id)
        with self._guard:
            batcher = self._batchers.setdefault(stack, Batcher())
            self._waiting.setdefault(stack, {})[operation_id] = row.tenant if row is not None else None
        try:
            ticket = batcher.ticket()
            self.gate.pass_()
            return batcher.run(lambda: self.apply(stack, operation_id), ticket)
        finally:
            with self._guard:
                self._waiting.get(stack, {}).pop(operation_id, None)

    def waiting(self, stack: str) -> dict[str, str]:
        """The operation each tenant waiting for a run of ``stack`` is in (slug -> operation id): a batched run
        carries their changes, so its events about their resources are theirs. With the running operations
        of the stack's members (whose intent a run applies even before they wait for it), this names the
        operation of every tenant a run serves, members being removed included."""
        with self._guard:
            return {tenant: op for op, tenant in self._waiting.get(stack, {}).items() if tenant is not None}

    def scope(self, spec: StackSpec) -> frozenset[str] | None:
        """The tenants a run of ``spec``'s stack must converge, or ``None`` for all of them (a full run).

        A run of a pool stack that has been provisioned, on behalf of tenant operations only, is scoped to
        those operations' tenants (see the module docstring); a platform or tenant stack, a pool's first
        run, and any batch with a converge or rollout in it run in full."""
        if spec.kind is not StackKind.POOL:
            return None
        provisioned = self._provisioned(spec.name)
        with self._guard:
            tenants = set(self._waiting.get(spec.name, {}).values())
        if not provisioned or not tenants or None in tenants:
            return None
        return frozenset(t for t in tenants if t is not None)

    @staticmethod
    def needs_platform(target: Target, region: str, isolation: Isolation) -> bool:
        """Whether a tenant of ``isolation`` needs the region's platform first: on a cloud always (pools and
        bridge tenants live on its server); locally only bridge and silo tenants (pools have their own
        database on the embedded server)."""
        return isolation is not Isolation.POOLED or target.platform_program(region) is not None

    def ensure_platform(self, target: Target, region: str, operation_id: str) -> None:
        """Provision the platform of ``target``/``region`` once (the shared database of bridge tenants and,
        on a cloud, the shared server pools and bridge tenants live on)."""
        stack = platform_stack(target, region)
        if not self._provisioned(stack):
            self.sync(stack, operation_id)

    def apply(self, stack: str, operation_id: str) -> StackChange:
        rt = self.rt
        with rt.locks.hold(f"stack:{stack}", operation_id, rt.settings.lock_timeout_s), rt.slots:
            with rt.registry.transaction() as session:
                spec = self.spec(session, stack)
            owners = {**rt.journal.running_for(spec.slugs), **self.waiting(stack)}
            sink = rt.events.engine_sink(operation_id=operation_id, stack=stack, members=spec.slugs, waiting=owners)
            if not spec.members and spec.kind is not StackKind.PLATFORM and not spec.retained:
                return self._destroy(spec, sink)
            scope = self.scope(spec)
            twin_existed = rt.infra.exists(infra_stack(stack))
            infra, outputs = self._infra_up(spec)
            try:
                target: tuple[str, ...] = ()
                if scope is None:
                    program = self.program(spec, outputs)
                else:
                    program = self.program(spec.narrowed(scope), outputs)
                    target = tuple(rt.stacks.tenant_target(stack, slug) for slug in sorted(scope))
                outcome = rt.stacks.run(stack, "up", program, on_event=sink, target=target)
            except PaybillError:
                if infra is not None and not twin_existed and not rt.stacks.exists(stack):
                    # Nothing was built on the new infrastructure: take it back down, nothing half-created.
                    rt.infra.destroy(infra_stack(stack), spec.target.cloud, spec.region)
                raise
            public = {k: v for k, v in outcome.outputs.items() if k not in outcome.secret_keys}
            with rt.registry.transaction() as session:
                row = session.get(StackRow, stack)
                if row is None:
                    row = StackRow(name=stack, kind=spec.kind, cloud=spec.target.cloud, region=spec.region)
                    session.add(row)
                row.outputs, row.last_operation = public, "up"
                row.last_changes, row.last_run_at = outcome.change.changes, utcnow()
            return _merged(outcome.change, infra)

    def _destroy(self, spec: StackSpec, sink: Any) -> StackChange:
        rt = self.rt
        change = StackChange(stack=spec.name, operation="none", changes={})
        if rt.stacks.exists(spec.name):
            change = rt.stacks.run(spec.name, "destroy", _no_program, on_event=sink).change
        twin = infra_stack(spec.name)
        if rt.infra.exists(twin):
            gone = rt.infra.destroy(twin, spec.target.cloud, spec.region)
            change = _merged(
                change, StackChange(stack=twin, operation="destroy", changes=gone.changes, resources=gone.resources)
            )
        with rt.registry.transaction() as session:
            session.execute(delete(StackRow).where(StackRow.name == spec.name))
            # A placement made while the stack was being destroyed keeps the pool or shard it chose: its own
            # run then builds the stack again.
            if spec.shard_of:
                placed = select(TenantRow.slug).where(
                    or_(TenantRow.stack == spec.name, TenantRow.target_stack == spec.name)
                )
                session.execute(delete(PoolShardRow).where(PoolShardRow.stack == spec.name, ~placed.exists()))
            elif spec.kind is StackKind.POOL:
                session.execute(
                    delete(PoolRow).where(
                        PoolRow.stack == spec.name,
                        ~select(TenantRow.slug)
                        .where(or_(TenantRow.pool_id == PoolRow.id, TenantRow.target_pool_id == PoolRow.id))
                        .exists(),
                    )
                )
        return change

    def _infra_up(self, spec: StackSpec) -> tuple[StackChange | None, dict[str, Any] | None]:
        """Converge the stack's infrastructure twin: what it did and its outputs (secrets included, kept in
        memory only); ``(None, None)`` on a target without infrastructure."""
        program = self.infra_program(spec)
        if program is None:
            return None, None
        twin = infra_stack(spec.name)
        outcome = self.rt.infra.up(twin, spec.target.cloud, spec.region, program)
        change = StackChange(stack=twin, operation="up", changes=outcome.changes, resources=outcome.resources)
        return change, outcome.outputs

    def infra_program(self, spec: StackSpec) -> Callable[[], None] | None:
        """The infrastructure program of ``spec`` (``None`` on a target without infrastructure)."""
        if spec.kind is StackKind.PLATFORM:
            return spec.target.platform_program(spec.region)
        platform = self.platform_outputs(spec.target, spec.region)
        if platform is None:
            return None
        members = tuple(Member(m.topology, m.suspended) for m in spec.members)
        return spec.target.tenants_program(spec.region, platform, members)

    def platform_outputs(self, target: Target, region: str) -> dict[str, Any] | None:
        """The outputs of the region's platform infrastructure (secrets included; kept in memory only);
        ``None`` on a target without infrastructure."""
        program = target.platform_program(region)
        if program is None:
            return None
        twin = infra_stack(platform_stack(target, region))
        if not self.rt.infra.exists(twin):
            raise ControlPlaneError(f"the platform of {target.cloud.value}/{region} has not been provisioned")
        return self.rt.infra.outputs(twin, target.cloud, region, program)

    def infra_outputs(self, spec: StackSpec) -> dict[str, Any] | None:
        """The current outputs of ``spec``'s infrastructure twin, or ``None`` without infrastructure."""
        program = self.infra_program(spec)
        if program is None:
            return None
        return self.rt.infra.outputs(infra_stack(spec.name), spec.target.cloud, spec.region, program)

    # --- servers ---------------------------------------------------------------------------------------------

    def admin(self, spec: StackSpec, infra: Mapping[str, Any] | None) -> AdminConnection:
        """The administrator connection of the server ``spec``'s database layer runs on."""
        if infra is None:
            local = self.rt.server
            return admin_connection(ServerSpec(url=local.url, embedded_dir=local.embedded_dir))
        server = infra.get("server")
        if server is None:
            platform = self.platform_outputs(spec.target, spec.region) or {}
            server = platform["server"]
        return spec.target.connection(server)

    def program(self, spec: StackSpec, infra: Mapping[str, Any] | None, *, review: bool = False) -> Callable[[], None]:
        """The database-layer program of ``spec`` on the server its infrastructure exposes (``infra`` is
        ``None`` on the local target: its own server). A ``review`` (preview) neither probes the server nor
        needs the platform to exist yet."""
        passwords: Mapping[str, str] = {}
        if infra is None:
            server, endpoint, own_platform = self.rt.server, self._local_endpoint(spec, review), False
        else:
            admin = REVIEW_ADMIN if review and "server" not in infra else self.admin(spec, infra)
            if not review:
                _probe(spec.target, admin)
            server = ServerConfig(embedded_dir="", url=admin.url("postgres"))
            database = spec.database if spec.kind is StackKind.POOL else BRIDGE_DATABASE
            endpoint = Endpoint(database=database, host=admin.host, port=admin.port)
            own_platform = (
                "server" in infra
                and spec.kind is StackKind.TENANT
                and spec.members[0].topology.isolation is Isolation.BRIDGE
            )
            passwords = infra.get("passwords") or {}
        members = tuple(
            MemberSpec(m.topology, m.role, m.suspended, passwords.get(m.topology.tenant)) for m in spec.members
        )
        model = self.data_model(spec.schema_version)
        if spec.kind is StackKind.PLATFORM:
            return PlatformProgram(server, model)
        if spec.shard_of:
            return ShardProgram(server, endpoint, members, model)
        if spec.kind is StackKind.POOL:
            return PoolProgram(server, spec.database, spec.owner, members, model)
        return TenantProgram(server, endpoint, members[0], own_platform=own_platform, data_model=model)

    def data_model(self, version: int | None) -> DataModel | None:
        """Recorded schema ``version`` (the newest when ``None``) as resource input; ``None`` before any
        version is recorded (the shipped default schema)."""
        with self.rt.registry.transaction() as session:
            number = version if version is not None else versions.newest(session)
            if number is None or session.get(SchemaVersionRow, number) is None:
                return None
            return DataModel(number, versions.load(session, number).document())

    def _local_endpoint(self, spec: StackSpec, review: bool) -> Endpoint:
        """The database a tenant stack or a pool shard builds on: the one its platform or pool stack holds."""
        if spec.kind is not StackKind.TENANT and not spec.shard_of:
            return Endpoint(database=spec.database, host="", port=0)
        holder = spec.shard_of or platform_stack(spec.target, spec.region)
        with self.rt.registry.transaction() as session:
            row = session.get(StackRow, holder)
            platform = (row.outputs or {}).get("platform") if row is not None else None
        if not platform:
            if review:
                return Endpoint(database=spec.database, host="(not provisioned)", port=0)
            raise ControlPlaneError(f"stack '{holder}' has not been provisioned")
        return Endpoint(database=platform["database"], host=platform["host"], port=int(platform["port"]))

    # --- placements for the data mover -------------------------------------------------------------------------

    def placement(self, session: Session, row: TenantRow, *, target: bool = False) -> Placement:
        """Where the tenant's tables are (or will be, for a migration's target), with the administrator
        connection of that server."""
        stack = row.target_stack if target else row.stack
        isolation = (row.target_isolation if target else row.isolation) or row.isolation
        pool_id = row.target_pool_id if target else row.pool_id
        if stack is None:
            raise ControlPlaneError(f"tenant '{row.slug}' has no stack")
        spec = self.spec(session, stack)
        admin = self.admin(spec, self.infra_outputs(spec))
        topology = next((m.topology for m in spec.members if m.topology.tenant == row.slug), None)
        if topology is None:
            raise ControlPlaneError(f"tenant '{row.slug}' is not a member of stack '{stack}'")
        if isolation is Isolation.POOLED:
            pool = session.get(PoolRow, pool_id) if pool_id is not None else None
            if pool is None:
                raise ControlPlaneError(f"tenant '{row.slug}' is pooled but has no pool")
            return Placement(isolation, pool.database, q.POOLED_SCHEMA, admin)
        if isolation is Isolation.BRIDGE:
            return Placement(isolation, BRIDGE_DATABASE, topology.name(NameKind.SCHEMA), admin)
        return Placement(isolation, topology.name(NameKind.DATABASE), q.SILO_SCHEMA, admin)


def _has_shards(session: Session, pool_id: int) -> bool:
    return session.scalars(select(PoolShardRow.id).where(PoolShardRow.pool_id == pool_id).limit(1)).first() is not None


def _probe(target: Target, admin: AdminConnection) -> None:
    """Refuse to run the database layer against a server the control plane cannot reach (a clear error
    instead of a provider timeout deep inside the engine)."""
    try:
        psycopg.connect(admin.conninfo("postgres"), connect_timeout=PROBE_TIMEOUT_S).close()
    except psycopg.OperationalError as err:
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise EndpointUnreachableError(str(target.cloud), reason[:300], admin.host, admin.port) from None


def _merged(db: StackChange, infra: StackChange | None) -> StackChange:
    if infra is None:
        return db
    changes = dict(db.changes)
    for op, n in infra.changes.items():
        changes[op] = changes.get(op, 0) + n
    return StackChange(stack=db.stack, operation=db.operation, changes=changes, resources=infra.resources)
