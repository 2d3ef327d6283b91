"""Service settings: one frozen model, read from ``PAYBILL_SERVICE_*`` environment variables.

The API and every worker read the same variables, so a deployment sets them once (a Kubernetes secret, a
systemd ``EnvironmentFile``). Secrets are ``SecretStr``: they never appear in ``repr``, logs or responses.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from paybill_infra.controlplane import ControlPlaneSettings
from paybill_infra.errors import FieldProblem, InvalidInputError

ENV_PREFIX = "PAYBILL_SERVICE_"
_PG_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


class ServiceSettings(BaseModel):
    """Where the service's database is, how it authenticates callers, and how hard workers drive the engine.

    ``database_url`` is one PostgreSQL database holding the control plane's registry and journal, the
    queue (procrastinate's tables) and the service's own tables: a single transactional store, no extra
    broker. ``root`` is the control plane's project root (``plans.yaml``, the state backend, exports).
    ``max_body_bytes`` caps every request body (413 above it). ``session_secret`` signs the ops console's
    session cookies (``session_ttl_s`` long); unset, each API process draws a random one, so sessions end
    with the process and do not span replicas.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: Path
    database_url: SecretStr
    backend_url: str | None = None
    jwt_secret: SecretStr | None = None
    jwt_issuer: Annotated[str, Field(min_length=1, max_length=200)] = "paybill"
    jwt_audience: Annotated[str, Field(min_length=1, max_length=200)] = "paybill-api"
    webhook_secret: SecretStr | None = None
    worker_concurrency: Annotated[int, Field(ge=1, le=64)] = 4
    engine_workers: Annotated[int, Field(ge=1, le=64)] = 4
    lease_ttl_s: Annotated[float, Field(ge=5, le=3_600)] = 60
    heartbeat_s: Annotated[float, Field(gt=0, le=600)] = 10
    stalled_after_s: Annotated[float, Field(gt=0, le=3_600)] = 60
    sweep_interval_s: Annotated[float, Field(gt=0, le=3_600)] = 15
    event_poll_s: Annotated[float, Field(gt=0, le=60)] = 5
    max_body_bytes: Annotated[int, Field(ge=1_024, le=1_073_741_824)] = 1_048_576
    session_secret: SecretStr | None = None
    session_ttl_s: Annotated[int, Field(ge=60, le=86_400)] = 900
    data_schema: Path | None = None
    """The tenant data schema file (``PAYBILL_SERVICE_DATA_SCHEMA``, relative to ``root``); unset: the one
    ``paybill.yaml`` names, else the shipped default."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Settings from ``PAYBILL_SERVICE_<FIELD>`` variables (``PAYBILL_SERVICE_DATABASE_URL`` …); a missing
        or bad one is an :class:`InvalidInputError` naming the variable and what it must hold."""
        env = os.environ if environ is None else environ
        names = {f"{ENV_PREFIX}{name.upper()}": name for name in cls.model_fields}
        values = {field: env[var] for var, field in names.items() if var in env}
        values.setdefault("root", os.getcwd())
        try:
            settings = cls.model_validate(values)
        except ValidationError as err:
            problems = [
                FieldProblem(ENV_PREFIX + ".".join(map(str, e["loc"])).upper(), e["msg"])
                for e in err.errors(include_url=False, include_input=False)
            ]
            raise InvalidInputError("the service environment", problems) from None
        settings.conninfo()
        return settings

    def conninfo(self) -> str:
        """The database as a libpq URL (procrastinate and psycopg)."""
        url = self.database_url.get_secret_value()
        for scheme in _PG_SCHEMES:
            if url.startswith(scheme):
                return "postgresql://" + url.removeprefix(scheme)
        raise InvalidInputError(
            "the service environment",
            [FieldProblem(f"{ENV_PREFIX}DATABASE_URL", "expected a postgresql:// URL")],
        )

    def sqlalchemy_url(self) -> str:
        """The database as an SQLAlchemy URL (psycopg 3 driver)."""
        return "postgresql+psycopg://" + self.conninfo().removeprefix("postgresql://")

    def control_plane(self) -> ControlPlaneSettings:
        """The embedded control plane's settings: its registry lives in the service's database; targets and
        the rest come from ``<root>/paybill.yaml`` (as for the CLI)."""
        return ControlPlaneSettings.for_root(
            self.root,
            database_url=self.sqlalchemy_url(),
            backend_url=self.backend_url,
            workers=self.engine_workers,
            lease_ttl_s=self.lease_ttl_s,
            webhook_secret=self.webhook_secret,
            **({"data_schema": self.data_schema} if self.data_schema is not None else {}),
        )
