"""A rollout's edge: the request it accepts, the views it returns, and the closed sets they use."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from paybill_infra.errors import RolloutSpecError
from paybill_infra.rollouts.waves import MAX_BUDGET, parse_waves

_FROZEN = ConfigDict(frozen=True, extra="forbid")
MAX_WORKERS = 32


class RolloutKind(StrEnum):
    SCHEMA = "schema"
    """The tenant data schema: pool databases, bridge schemas and silo databases to the newest version."""
    INFRA = "infra"
    """The fleet's stacks: each converged to the current component code and catalog (``fleet up``)."""


class RolloutStatus(StrEnum):
    QUEUED = "queued"
    """Recorded, not started yet (a rollout requested over HTTP waits for a worker)."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    """Every unit is at the new version (or converged)."""
    DEGRADED = "degraded"
    """Every wave ran; some units failed, within the error budget (they are still at the old version)."""
    HALTED = "halted"
    """Failures went beyond the error budget: no unit was started after that; unstarted ones are untouched."""


TERMINAL = frozenset({RolloutStatus.SUCCEEDED, RolloutStatus.DEGRADED, RolloutStatus.HALTED})


class UnitStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RolloutRequest(BaseModel):
    """What to roll out and how: ``waves`` (``canary,10%,50%,100%``), how many unit failures to absorb
    (``error_budget``) and how many units change at once within a wave (``workers``)."""

    model_config = _FROZEN

    kind: RolloutKind
    waves: Annotated[str, Field(min_length=1, max_length=200)] = "canary,10%,50%,100%"
    error_budget: Annotated[int, Field(ge=0, le=MAX_BUDGET)] = 0
    workers: Annotated[int, Field(ge=1, le=MAX_WORKERS)] = 1
    schema_file: Annotated[str | None, Field(max_length=1000)] = None
    """``schema`` rollouts: the new schema file (default: the configured one)."""
    allow_destructive: bool = False
    """``schema`` rollouts: allow drops, narrowing and contracts (backed up first)."""
    to_version: Annotated[int | None, Field(ge=1)] = None
    """``schema`` rollouts: the version rolled out, pinned when the rollout is planned."""

    @field_validator("waves")
    @classmethod
    def _waves(cls, value: str) -> str:
        try:
            return str(parse_waves(value))
        except RolloutSpecError as err:
            raise ValueError("; ".join(str(p) for p in err.problems)) from None


class Applied(BaseModel):
    """What applying one unit did: ``changed`` is false when the unit already was at the new version
    (a re-run after a crash), so counting ``changed`` counts real applications."""

    model_config = _FROZEN

    changed: bool
    detail: dict[str, Any] = {}


class UnitView(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    key: str
    group: str
    label: str
    wave: int
    wave_label: str
    status: UnitStatus
    attempts: int
    applications: int
    """How many times applying it changed the unit (1 after a successful rollout, whatever the retries)."""
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None


class RolloutView(BaseModel):
    """A rollout and its units (``GET /rollouts/{id}``, ``paybill db resume``)."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: RolloutKind
    status: RolloutStatus
    actor: str
    waves: str
    error_budget: int
    workers: int
    failures: int
    current_wave: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    counts: dict[str, int]
    """Units per :class:`UnitStatus`."""
    units: tuple[UnitView, ...]
    deduplicated: bool = False


class RolloutEvent(BaseModel):
    """One step of a rollout, as journaled (``rollout_events``) and streamed over SSE."""

    model_config = ConfigDict(frozen=True)

    id: int
    rollout: str
    at: datetime
    kind: str
    wave: int | None
    unit: str | None
    message: str
