"""Service settings: one frozen model, read from ``PAYBILL_SERVICE_*`` environment variables (pydantic-settings).

The API and every worker read the same variables, so a deployment sets them once (a Kubernetes secret, a
systemd ``EnvironmentFile``). Secrets are ``SecretStr``: they never appear in ``repr``, logs or responses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from croniter import croniter
from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from paybill_infra.controlplane import ControlPlaneSettings
from paybill_infra.errors import FieldProblem, InvalidInputError

ENV_PREFIX = "PAYBILL_SERVICE_"
_PG_BACKENDS = ("postgresql", "postgres")


def _cron(value: str) -> str:
    if not croniter.is_valid(value):
        raise ValueError("expected a cron expression (5 fields, or 6 with seconds last)")
    return value


class ServiceSettings(BaseSettings):
    """Where the service's database is, how it authenticates callers, and how hard workers drive the engine.

    ``database_url`` is one PostgreSQL database holding the control plane's registry and journal, the
    queue (procrastinate's tables) and the service's own tables: a single transactional store, no extra
    broker. ``root`` is the control plane's project root (``plans.yaml``, the state backend, exports).
    ``max_body_bytes`` caps every request body (413 above it). ``session_secret`` signs the ops console's
    session cookies (``session_ttl_s`` long); unset, each API process draws a random one, so sessions end
    with the process and do not span replicas. ``billing_cron`` is when workers enforce billing (grace period,
    retention; see :mod:`paybill_infra.service.worker`).
    """

    model_config = SettingsConfigDict(frozen=True, extra="forbid", env_prefix=ENV_PREFIX)

    root: Path = Field(default_factory=Path.cwd)
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
    billing_cron: Annotated[str, AfterValidator(_cron)] = "*/5 * * * *"

    @field_validator("database_url")
    @classmethod
    def _postgres(cls, value: SecretStr) -> SecretStr:
        try:
            backend = make_url(value.get_secret_value()).get_backend_name()
        except ArgumentError:
            backend = ""
        if backend not in _PG_BACKENDS:
            raise ValueError("expected a postgresql:// URL")
        return value

    @classmethod
    def from_env(cls) -> ServiceSettings:
        """Settings from ``PAYBILL_SERVICE_<FIELD>`` variables (``PAYBILL_SERVICE_DATABASE_URL`` …; ``root``
        defaults to the working directory); a missing or bad one is an :class:`InvalidInputError` naming the
        variable and what it must hold."""
        try:
            return cls()
        except ValidationError as err:
            problems = [
                FieldProblem(ENV_PREFIX + ".".join(map(str, e["loc"])).upper(), e["msg"])
                for e in err.errors(include_url=False, include_input=False)
            ]
            raise InvalidInputError("the service environment", problems) from None

    def _url(self, drivername: str) -> str:
        url: URL = make_url(self.database_url.get_secret_value()).set(drivername=drivername)
        return url.render_as_string(hide_password=False)

    def conninfo(self) -> str:
        """The database as a libpq URL (procrastinate and psycopg)."""
        return self._url("postgresql")

    def sqlalchemy_url(self) -> str:
        """The database as an SQLAlchemy URL (psycopg 3 driver)."""
        return self._url("postgresql+psycopg")

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
