"""A read-only view of the registry, for processes that serve reads and queue writes but never run the
engine: the product backend's API process, and ``paybill tenants list``/``show``.

Unlike :class:`~paybill_infra.controlplane.ControlPlane` it needs no Pulumi CLI, runs no Alembic upgrade
(the registry is migrated by whoever runs operations, or by ``python -m paybill_infra.service migrate``),
starts no heartbeat and recovers nothing; importing it imports neither the Automation API nor alembic.
The reads themselves are :class:`~paybill_infra.controlplane.reads.Reads`, the same the control plane
answers with.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import inspect

from paybill_infra.catalog import PlanCatalog, load_catalog
from paybill_infra.controlplane.reads import Reads
from paybill_infra.controlplane.registry import Registry, TenantRow, default_url, make_engine
from paybill_infra.controlplane.settings import ControlPlaneSettings

if TYPE_CHECKING:
    from paybill_infra.rollouts.journal import RolloutJournal


class RegistryReader(Reads):
    """Reads of the registry named by ``settings``, and its plan catalog (loaded on first use)."""

    def __init__(self, settings: ControlPlaneSettings) -> None:
        root = settings.root.resolve()
        super().__init__(Registry(make_engine(settings.database_url or default_url(root), read_only=True)))
        self._catalog_path = settings.catalog or root / "plans.yaml"

    @cached_property
    def catalog(self) -> PlanCatalog:
        return load_catalog(self._catalog_path)

    @cached_property
    def rollouts(self) -> RolloutJournal:
        """The rollouts' journal, for reading rollouts, their units and events."""
        from paybill_infra.rollouts.journal import RolloutJournal

        return RolloutJournal(self.registry)

    def ready(self) -> bool:
        """Whether the registry has been created (by the first control plane that opened it, or by
        ``migrate``); reading one that has not fails on the missing tables."""
        return inspect(self.registry.engine).has_table(TenantRow.__tablename__)

    def close(self) -> None:
        self.registry.engine.dispose()

    def __enter__(self) -> RegistryReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
