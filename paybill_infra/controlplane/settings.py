"""Where the control plane keeps its registry, state and exports, which targets it drives, and how hard it may
drive the engine."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from paybill_infra.controlplane.models import BillingPolicy, validate
from paybill_infra.controlplane.secrets import SecretsConfig
from paybill_infra.errors import FieldProblem, InvalidInputError
from paybill_infra.schema.enums import Cloud
from paybill_infra.targets.base import TargetSettings

if TYPE_CHECKING:
    from agent_acl import AclPolicy
    from paybill_infra.controlplane.programs import ServerConfig
    from paybill_infra.datamodel.source import SchemaFile

SETTINGS_FILE = "paybill.yaml"


class ControlPlaneSettings(BaseModel):
    """Defaults: registry ``<root>/.paybill/control.db`` (SQLite), state backend ``<root>/.paybill/state``
    (or ``PULUMI_BACKEND_URL``), the embedded PostgreSQL under ``<root>/.paybill/postgres`` (or
    ``PAYBILL_PG_URL``), exports under ``<root>/.paybill/exports``.

    ``targets`` lists the targets the fleet runs on (the local target alone by default); a tenant whose
    request names no cloud goes to ``default_cloud``, and to that target's default region.

    ``data_schema`` names the tenant data schema file (relative to ``root``; the shipped default when unset):
    the tables every tenant gets, on every topology and target. ``acl_policy`` names an agent ACL policy
    whose agents' grants a schema migration regenerates with the DDL. ``backup_retention`` is how long the
    exports taken before destructive schema steps (under ``<export_dir>/schema``) are kept: a rollout or
    migration deletes older ones when it starts. ``state_history`` is how many updates a file backend keeps
    per stack in its history (each holds a copy of the stack's checkpoint). ``pool_shard_size`` is how many
    members one stack of a pool holds (a pool larger than that spreads over shards): what a tenant's engine
    run in a pool costs grows with it, not with the pool (see :mod:`paybill_infra.controlplane.reconcile`).
    ``shared_provider_host`` (on by default) attaches every engine run to one dynamic-provider process that
    lives as long as the control plane and serves only its user (:mod:`paybill_infra.engine.provider_host`),
    instead of each run starting its own: 1.6-2.6x less CPU per run (BENCHMARKS.md, "One engine run").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: Path
    database_url: str | None = None
    catalog: Path | None = None
    backend_url: str | None = None
    postgres_url: SecretStr | None = None
    embedded_dir: Path | None = None
    export_dir: Path | None = None
    project: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")] = "paybill-tenants"
    secrets: SecretsConfig = SecretsConfig()
    targets: dict[Cloud, TargetSettings] = {Cloud.LOCAL: TargetSettings()}
    default_cloud: Cloud = Cloud.LOCAL
    workers: Annotated[int, Field(ge=1, le=64)] = 4
    engine_parallel: Annotated[int, Field(ge=1, le=64)] = 8
    retry_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    lock_timeout_s: Annotated[float, Field(gt=0, le=86_400)] = 900
    lease_ttl_s: Annotated[float, Field(ge=5, le=3_600)] = 60
    billing: BillingPolicy = BillingPolicy()
    webhook_secret: SecretStr | None = None
    data_schema: Path | None = None
    acl_policy: Path | None = None
    backup_retention: Annotated[timedelta, Field(ge=timedelta(0))] = timedelta(days=30)
    state_history: Annotated[int, Field(ge=1, le=10_000)] = 20
    pool_shard_size: Annotated[int, Field(ge=1, le=1_000)] = 16
    shared_provider_host: bool = True

    @model_validator(mode="after")
    def _default_cloud_configured(self) -> ControlPlaneSettings:
        if self.default_cloud not in self.targets:
            raise ValueError(f"default_cloud '{self.default_cloud}' is not one of targets: {sorted(self.targets)}")
        return self

    @classmethod
    def for_root(cls, root: Path, **overrides: object) -> ControlPlaneSettings:
        """Settings for the project at ``root``: the ``control_plane`` section of ``<root>/paybill.yaml`` when
        it exists (targets, registry URL, backend, workers...), then ``overrides``. A malformed file is an
        :class:`~paybill_infra.errors.InvalidInputError` naming the file and the fields."""
        path = root / SETTINGS_FILE
        data: dict[str, object] = {}
        if path.exists():
            try:
                loaded = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as err:
                raise InvalidInputError(str(path), [FieldProblem("", f"not valid YAML: {err}")]) from None
            section = loaded.get("control_plane", {}) if isinstance(loaded, dict) else None
            if not isinstance(section, dict):
                raise InvalidInputError(str(path), [FieldProblem("control_plane", "expected a mapping")])
            data.update(section)
        data.update(overrides, root=root)
        return validate(cls, data, str(path))

    def schema_file(self) -> SchemaFile:
        """The configured tenant data schema file, validated (:class:`~paybill_infra.errors.DataSchemaError`)."""
        from paybill_infra.datamodel.source import load_schema_file

        return load_schema_file(self.root / self.data_schema if self.data_schema is not None else None)

    def acl(self, schema: SchemaFile) -> AclPolicy | None:
        """The configured agent ACL policy over ``schema`` (``None`` when none is configured)."""
        if self.acl_policy is None:
            return None
        from paybill_infra.datamodel.source import load_policy_over

        return load_policy_over(self.root / self.acl_policy, schema)

    def server(self) -> ServerConfig:
        """The local target's server: an external URL, or the embedded server's data directory (imported here:
        reading the registry needs these settings, not the engine the programs module brings)."""
        # One variable, read where it is used as the Pulumi program reads it (program.py): a pydantic-settings
        # model for a single optional value would add a class and change nothing.
        from paybill_infra.controlplane.programs import ServerConfig
        from paybill_infra.program import PG_URL_ENV

        url = self.postgres_url.get_secret_value() if self.postgres_url else os.environ.get(PG_URL_ENV)
        embedded = self.embedded_dir or self.root / ".paybill" / "postgres"
        return ServerConfig(embedded_dir=str(embedded.resolve()), url=url or None)
