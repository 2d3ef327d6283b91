"""Reviews of a change before it is made, drift detection, and fleet-wide convergence.

A preview never records anything. On the local target it is the engine's own preview of the database
layer. On a cloud target it has two parts:

- the infrastructure: the engine's preview (needs the cloud's credentials and plugin), or, ``offline``,
  the infrastructure program run under Pulumi's mocks with and without the change, whose difference is
  what would be created and deleted: no credentials, no plugin, no cloud;
- the database layer: its program with and without the change, under mocks (it is deterministic: one
  role, and a database, schema or pool membership, per tenant).

Each stack's review lists its resources (type token and name) with the operation, plus the monthly price
delta of the plan change.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from paybill_infra.controlplane.models import (
    DriftedResource,
    DriftReport,
    OnboardRequest,
    PreviewResult,
    StackChange,
    StackKind,
)
from paybill_infra.controlplane.placement import infra_stack, next_ordinal, peek_place, platform_stack, pool_of
from paybill_infra.controlplane.programs import MemberSpec
from paybill_infra.controlplane.reconcile import Reconciler, StackSpec
from paybill_infra.controlplane.registry import PoolRow, StackRow, TenantRow
from paybill_infra.controlplane.runtime import Runtime
from paybill_infra.controlplane.transitions import stays_in_place
from paybill_infra.schema.enums import Isolation
from paybill_infra.schema.plan import Plan
from paybill_infra.targets.base import Member, Program, StackResource, Target
from paybill_infra.targets.isolated import run_isolated
from paybill_infra.topology.naming import pool_database, pool_owner, tenant_role

if TYPE_CHECKING:
    from pulumi import automation as auto


def _no_program() -> None:
    """Reading state never runs a program."""


class Review:
    def __init__(self, rt: Runtime, reconciler: Reconciler) -> None:
        self.rt = rt
        self.rec = reconciler

    # --- previews ----------------------------------------------------------------------------------------------

    def preview(self, slug: str, plan_name: str, *, offline: bool = False) -> PreviewResult:
        """Moving ``slug`` to ``plan_name``: every stack involved (the target with the tenant, the source
        without it) and the monthly price delta."""
        rt = self.rt
        target_plan = rt.plan(plan_name, slug)
        with rt.registry.transaction() as session:
            row = rt.tenant(session, slug)
            current = rt.catalog[row.plan]
            target = rt.target(row.cloud)
            in_place = stays_in_place(row.plan, row.isolation, target_plan)
            stack = row.stack or ""
            reviews: list[tuple[str, list[MemberSpec], list[MemberSpec], Plan, int | None]]
            if in_place:
                before = self.rec.members(session, stack)
                after = self.rec.members(session, stack, override={slug: (target_plan.name, row.suspended)})
                reviews = [(stack, before, after, target_plan, None)]
            else:
                target_stack, target_pool = peek_place(
                    session, slug, target_plan, target, row.region, rt.settings.pool_shard_size
                )
                existing = self.rec.members(session, target_stack)
                role = tenant_role(slug, row.generation + 1)
                topology = self.rec.resolve(
                    slug, row.display_name, target_plan.name, dict(row.tags or {}), row.cloud, row.region, role
                )
                source_before = self.rec.members(session, stack)
                source_after = self.rec.members(session, stack, exclude=slug)
                joined = [*existing, MemberSpec(topology, role, False)]
                reviews = [
                    (target_stack, existing, joined, target_plan, _id(target_pool)),
                    (stack, source_before, source_after, current, None),
                ]
        changes = tuple(
            self._review(name, target, row.region, before, after, plan, offline, pool_id=pool_id)
            for name, before, after, plan, pool_id in reviews
            if name
        )
        return PreviewResult(
            tenant=slug,
            from_plan=current.name,
            to_plan=target_plan.name,
            migration=not in_place,
            stacks=changes,
            monthly_price_from=current.price.monthly(),
            monthly_price_to=target_plan.price.monthly(),
            currency=target_plan.price.currency,
        )

    def preview_onboard(self, req: OnboardRequest, *, offline: bool = False) -> PreviewResult:
        """What onboarding ``req`` would create (the region's platform too, when it does not exist yet), and
        its monthly price. Nothing is recorded."""
        rt = self.rt
        plan = rt.plan(req.plan, req.slug)
        cloud = req.cloud or rt.settings.default_cloud
        target = rt.target(cloud)
        region = req.region or target.default_region
        topology = self.rec.resolve(
            req.slug, req.display_name, plan.name, dict(req.tags), cloud, region, tenant_role(req.slug, 0)
        )
        with rt.registry.transaction() as session:
            stack, pool = peek_place(session, req.slug, plan, target, region, rt.settings.pool_shard_size)
            pool_id = _id(pool)
            members = self.rec.members(session, stack, exclude=req.slug)
            platform = platform_stack(target, region)
            platform_missing = session.get(StackRow, platform) is None
        stacks: list[StackChange] = []
        if platform_missing and self.rec.needs_platform(target, region, plan.isolation):
            stacks.append(self._review(platform, target, region, None, [], plan, offline, kind=StackKind.PLATFORM))
        after = [*members, MemberSpec(topology, tenant_role(req.slug, 0), False)]
        stacks.append(self._review(stack, target, region, members, after, plan, offline, pool_id=pool_id))
        return PreviewResult(
            tenant=req.slug,
            from_plan=None,
            to_plan=plan.name,
            migration=False,
            stacks=tuple(stacks),
            monthly_price_from=Decimal(0),
            monthly_price_to=plan.price.monthly(),
            currency=plan.price.currency,
        )

    def _review(
        self,
        stack: str,
        target: Target,
        region: str,
        before: list[MemberSpec] | None,
        after: list[MemberSpec],
        plan: Plan,
        offline: bool,
        *,
        kind: StackKind | None = None,
        pool_id: int | None = None,
    ) -> StackChange:
        """The review of ``stack`` going from ``before`` (``None``: it does not exist) to ``after``;
        ``pool_id`` names the pool of a shard a placement would open."""
        with self.rt.registry.transaction() as session:
            pool = pool_of(session, stack) or (session.get(PoolRow, pool_id) if pool_id is not None else None)
            shard_of = pool.stack if pool is not None and pool.stack != stack else ""
            if kind is None:
                pooled = pool is not None or (after or before or [])[0].topology.isolation is Isolation.POOLED
                kind = StackKind.POOL if pooled else StackKind.TENANT
            database, owner = (
                self._pool_names(session, pool, plan, target, region) if kind is StackKind.POOL else ("", "")
            )

        def spec(members: list[MemberSpec]) -> StackSpec:
            return StackSpec(
                stack, kind, target, region, tuple(members), database or "paybill_bridge", owner, shard_of=shard_of
            )

        if target.platform_program(region) is None:
            return self._engine_preview(spec(after), bool(after) or kind is StackKind.PLATFORM)
        was = spec(before) if before is not None else None
        resources = [*self._infra_review(was, spec(after), offline), *self._db_review(was, spec(after))]
        counts: dict[str, int] = {}
        for resource in resources:
            counts[resource.op] = counts.get(resource.op, 0) + 1
        return StackChange(stack=stack, operation="preview", changes=counts, resources=tuple(resources))

    @staticmethod
    def _pool_names(session: Session, pool: PoolRow | None, plan: Plan, target: Target, region: str) -> tuple[str, str]:
        if pool is not None:
            return pool.database, pool.owner
        ordinal = next_ordinal(session, plan.name, target.cloud, region)
        return pool_database(plan.name, ordinal), pool_owner(plan.name, ordinal)

    def _engine_preview(self, spec: StackSpec, keep: bool) -> StackChange:
        """The engine's preview of a local-target stack holding ``spec``; an emptied stack would be destroyed
        (the engine's preview of that destroy). A stack the preview had to create is removed again."""
        stacks = self.rt.stacks
        existed = stacks.exists(spec.name)
        if not keep:
            return self._teardown_preview(spec.name)
        program = self.rec.program(spec, None, review=True)
        with self.rt.slots:
            try:
                return stacks.run(spec.name, "preview", program).change
            finally:
                if not existed and stacks.exists(spec.name):
                    stacks.select(spec.name, _no_program).workspace.remove_stack(spec.name)

    def _teardown_preview(self, stack: str) -> StackChange:
        """What destroying ``stack`` would delete, as the engine's own destroy preview counts it (so the
        preview and the teardown agree); nothing for a stack that does not exist."""
        if not self.rt.stacks.exists(stack):
            return StackChange(stack=stack, operation="preview", changes={})
        with self.rt.slots:
            return self.rt.stacks.run(stack, "preview-destroy", _no_program).change

    def _infra_review(self, before: StackSpec | None, after: StackSpec, offline: bool) -> list[StackResource]:
        """The infrastructure part of a cloud stack's review (see the module docstring)."""
        target, region, twin = after.target, after.region, infra_stack(after.name)
        if offline:
            platform = _outputs(target.platform_program(region))
            was = self._infra_of(before, platform) if before is not None else None
            return _diff(_mocked(was), _mocked(self._infra_of(after, platform)))
        if after.kind is not StackKind.PLATFORM and not after.members:
            return [StackResource(op="delete", type=t, name=n) for t, n in self.rt.infra.resources(twin)]
        program = self._infra_of(
            after, self.rec.platform_outputs(target, region) if after.kind is not StackKind.PLATFORM else {}
        )
        if program is None:
            return []
        return list(self.rt.infra.preview(twin, target.cloud, region, program).resources)

    @staticmethod
    def _infra_of(spec: StackSpec, platform: Mapping[str, Any] | None) -> Program | None:
        if spec.kind is StackKind.PLATFORM:
            return spec.target.platform_program(spec.region)
        if not spec.members or platform is None:
            return None
        members = tuple(Member(m.topology, m.suspended) for m in spec.members)
        return spec.target.tenants_program(spec.region, platform, members)

    def _db_review(self, before: StackSpec | None, after: StackSpec) -> list[StackResource]:
        """The database layer's part: its program with and without the change, under mocks, each against
        the server its infrastructure (also under mocks) would expose."""
        target, region = after.target, after.region
        platform = _outputs(target.platform_program(region))

        def program(spec: StackSpec | None) -> Program | None:
            if spec is None or (spec.kind is not StackKind.PLATFORM and not spec.members):
                return None
            infra = _outputs(self._infra_of(spec, platform))
            return self.rec.program(spec, {k: v for k, v in infra.items() if k != "passwords"}, review=True)

        return _diff(_mocked(program(before)), _mocked(program(after)))

    # --- drift and convergence -------------------------------------------------------------------------------

    def drift(self, slug: str | None = None) -> DriftReport:
        """Refresh the tenant's stack (or every stack) from the real databases and report what drifted:
        the provider's deviation list per resource, or ``deleted`` for resources gone by hand. A later
        ``converge`` repairs it. A tenant's drift refreshes only its own resources (its component's
        children), so it costs the same in a pool of any size."""
        rt = self.rt
        with rt.registry.transaction() as session:
            if slug is None:
                stacks = list(session.scalars(select(StackRow.name).order_by(StackRow.name)))
            else:
                row = rt.tenant(session, slug)
                stacks = [row.stack] if row.stack else []
        changes: list[StackChange] = []
        drifted: list[DriftedResource] = []
        for stack in stacks:
            holder = f"drift-{uuid.uuid4().hex[:8]}"
            with rt.locks.hold(f"stack:{stack}", holder, rt.settings.lock_timeout_s), rt.slots:
                before = _by_urn(rt.stacks.resources(stack, _no_program))
                if slug is not None:
                    component = rt.stacks.tenant_urn(stack, slug)
                    before = {u: r for u, r in before.items() if component in (u, r.get("parent"))}
                    if not before:
                        continue
                target = tuple(before) if slug is not None else ()
                refreshed = _Refreshed()
                outcome = rt.stacks.run(stack, "refresh", _no_program, target=target, on_event=refreshed)
                after = refreshed.after(before)
                if after is None:
                    after = _by_urn(rt.stacks.resources(stack, _no_program))
            changes.append(outcome.change)
            for urn, resource in before.items():
                if urn not in after and resource.get("custom"):
                    drifted.append(DriftedResource(stack=stack, urn=urn, type=resource["type"], fields=("deleted",)))
                    continue
                fields = (after.get(urn, {}).get("outputs") or {}).get("drift") or []
                if isinstance(fields, list) and fields:
                    drifted.append(
                        DriftedResource(stack=stack, urn=urn, type=resource["type"], fields=tuple(map(str, fields)))
                    )
        return DriftReport(stacks=tuple(changes), drifted=tuple(drifted))

    def known_stacks(self, slug: str | None = None) -> list[str]:
        """Every stack the registry knows (or the tenant's, with a running migration's target), platforms
        first."""
        with self.rt.registry.transaction() as session:
            if slug is None:
                stacks = set(session.scalars(select(StackRow.name)))
                stacks |= {s for s in session.scalars(select(TenantRow.stack)) if s}
                stacks |= {s for s in session.scalars(select(TenantRow.target_stack)) if s}
            else:
                row = self.rt.tenant(session, slug)
                stacks = {s for s in (row.stack, row.target_stack) if s}
            platforms = {s for s in stacks if self.rec.platform_place(session, s) is not None}
        return sorted(stacks, key=lambda s: (s not in platforms, s))

    def preview_fleet(self) -> list[StackChange]:
        """What ``converge`` would change on every stack the registry knows (nothing is applied)."""
        rt = self.rt
        changes: list[StackChange] = []
        for stack in self.known_stacks():
            with rt.registry.transaction() as session:
                spec = self.rec.spec(session, stack)
            if not spec.members and spec.kind is not StackKind.PLATFORM:
                changes.append(self._teardown_preview(stack))
                continue
            program = self.rec.program(spec, self.rec.infra_outputs(spec), review=True)
            with rt.slots:
                changes.append(rt.stacks.run(stack, "preview", program).change)
        return changes

    def converge(self, slug: str | None = None) -> list[StackChange]:
        """``up`` the tenant's stacks (or every stack) from the registry: repairs drift and finishes
        anything an interrupted run left behind."""
        holder = f"converge-{uuid.uuid4().hex[:8]}"
        return [self.rec.sync(stack, holder) for stack in self.known_stacks(slug)]


def _outputs(program: Program | None) -> dict[str, Any]:
    """The outputs ``program`` has under mocks (nothing for ``None``)."""
    if program is None:
        return {}
    return run_isolated(program, None, "review")[0]


def _mocked(program: Program | None) -> set[tuple[str, str]]:
    """The (type, name) of every resource ``program`` declares, run under mocks (nothing for ``None``)."""
    if program is None:
        return set()
    return set(run_isolated(program, None, "review")[1])


def _diff(before: set[tuple[str, str]], after: set[tuple[str, str]]) -> list[StackResource]:
    return [
        *(StackResource(op="create", type=t, name=n) for t, n in sorted(after - before)),
        *(StackResource(op="delete", type=t, name=n) for t, n in sorted(before - after)),
    ]


_PROVIDERS = "pulumi:providers:"


class _Refreshed:
    """What a refresh left of each resource, from its events: the refreshed state, or nothing for a resource
    gone from the server (the engine drops it). Reading it there spares a second export of the checkpoint,
    whose size grows with the stack."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}
        self.seen: set[str] = set()

    def __call__(self, event: auto.EngineEvent) -> None:
        done = event.res_outputs_event
        if done is None:
            return
        self.seen.add(done.metadata.urn)
        if done.metadata.new is not None:
            self.states[done.metadata.urn] = {"outputs": done.metadata.new.outputs or {}}

    def after(self, before: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
        """The resources of ``before`` after the refresh (one it did not report is as it was), or ``None``
        when a resource the provider refreshes went unreported (then the checkpoint is read instead)."""
        refreshable = {u for u, r in before.items() if r.get("custom") and not r["type"].startswith(_PROVIDERS)}
        if not refreshable <= self.seen:
            return None
        return {**{u: r for u, r in before.items() if u not in self.seen}, **self.states}


def _by_urn(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in resources}


def _id(pool: PoolRow | None) -> int | None:
    return pool.id if pool is not None else None
