"""The services one control plane shares between its parts (registry, journal, locks, engine, targets, data
mover), built once by :class:`~paybill_infra.controlplane.api.ControlPlane` and handed to each part.

Keeping them in one record makes the dependencies of each part explicit: reads use only the registry,
the reconciler uses the engine and the targets, operations use all of them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from paybill_infra.catalog import PlanCatalog, load_catalog
from paybill_infra.controlplane import migrations
from paybill_infra.controlplane.events import EventBus
from paybill_infra.controlplane.jobs import Journal, Locks, new_owner
from paybill_infra.controlplane.migration import DataMover, PostgresDataMover
from paybill_infra.controlplane.models import TenantState
from paybill_infra.controlplane.naming_check import ensure_current_names
from paybill_infra.controlplane.programs import ServerConfig
from paybill_infra.controlplane.registry import Registry, TenantRow, default_url, make_engine, tenant_row
from paybill_infra.controlplane.settings import ControlPlaneSettings
from paybill_infra.controlplane.stacks import RetryPolicy, StackManager
from paybill_infra.engine.settings import EngineSettings
from paybill_infra.errors import (
    UnknownPlanError,
    UnknownTargetError,
)
from paybill_infra.schema.enums import Cloud
from paybill_infra.schema.plan import Plan
from paybill_infra.targets.base import Target
from paybill_infra.targets.registry import target_for
from paybill_infra.targets.runner import EngineInfraRunner, InfraRunner


@dataclass
class Runtime:
    settings: ControlPlaneSettings
    catalog: PlanCatalog
    registry: Registry
    journal: Journal
    locks: Locks
    stacks: StackManager
    events: EventBus
    targets: dict[Cloud, Target]
    infra: InfraRunner
    mover: DataMover
    server: ServerConfig
    """The local target's server (embedded, or ``PAYBILL_PG_URL``)."""
    export_dir: Path
    slots: threading.BoundedSemaphore
    """Bounds concurrent engine runs to ``settings.workers`` whatever the number of callers."""

    def target(self, cloud: Cloud) -> Target:
        target = self.targets.get(cloud)
        if target is None:
            raise UnknownTargetError(str(cloud), "not configured", tuple(sorted(c.value for c in self.targets)))
        return target

    def plan(self, name: str, tenant: str) -> Plan:
        if name not in self.catalog:
            raise UnknownPlanError(name, self.catalog.names, tenant)
        return self.catalog[name]

    def tenant(self, session: Session, slug: str, *, include_offboarded: bool = False) -> TenantRow:
        return tenant_row(session, slug, include_offboarded=include_offboarded)

    def mark(self, slug: str, state: TenantState) -> None:
        with self.registry.transaction() as session:
            self.tenant(session, slug, include_offboarded=True).state = state


def build_runtime(
    settings: ControlPlaneSettings,
    *,
    infra: InfraRunner | None = None,
    data_mover: DataMover | None = None,
    locate_engine: bool = True,
) -> Runtime:
    """The services of one control plane: every configured target validated (a missing SDK or a bad setting
    fails here, before any engine run), the registry migrated and checked for names of an older scheme, the
    engine's stack manager (its Pulumi CLI found now, or with ``locate_engine=False`` when a run first needs
    it), and this process's identity for locks and the journal."""
    root = settings.root.resolve()
    targets = {cloud: target_for(cloud, target) for cloud, target in settings.targets.items()}
    engine = make_engine(settings.database_url or default_url(root))
    migrations.upgrade(engine)
    registry = Registry(engine)
    ensure_current_names(registry)
    owner, ttl = new_owner(), timedelta(seconds=settings.lease_ttl_s)
    stacks = StackManager(
        EngineSettings.for_project(root, backend_url=settings.backend_url, locate=locate_engine),
        state_dir=root / ".paybill",
        project=settings.project,
        secrets=settings.secrets,
        retry=RetryPolicy(attempts=settings.retry_attempts),
        parallel=settings.engine_parallel,
        history=settings.state_history,
        shared_provider_host=settings.shared_provider_host,
    )
    return Runtime(
        settings=settings,
        catalog=load_catalog(settings.catalog or root / "plans.yaml"),
        registry=registry,
        journal=Journal(registry, owner, ttl),
        locks=Locks(registry, owner, ttl),
        stacks=stacks,
        events=EventBus(),
        targets=targets,
        infra=infra or EngineInfraRunner(stacks),
        mover=data_mover or PostgresDataMover(),
        server=settings.server(),
        export_dir=(settings.export_dir or root / ".paybill" / "exports").resolve(),
        slots=threading.BoundedSemaphore(settings.workers),
    )
