"""What every ``paybill`` command shares: the consoles, JSON output, and the one error → exit-code table.

Exit codes: 0 success; 1 unexpected failure; 2 invalid input or a refused request (nothing was touched);
3 engine or operation failure; 4 database server failure; 5 no usable Pulumi CLI; 6 drift found;
7 the tenant's state or billing forbids the action; 8 a lock or idempotency conflict.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console

from paybill_infra.errors import (
    BillingGateError,
    DatabaseServerError,
    EngineError,
    EngineNotFoundError,
    IdempotencyConflictError,
    IllegalTransitionError,
    InvalidInputError,
    LockTimeoutError,
    MigrationError,
    OperationFailedError,
    PaybillError,
    PlanLimitError,
    TenantExistsError,
    UnknownPlanError,
    UnknownTenantError,
)

out = Console()
err = Console(stderr=True)
T = TypeVar("T")
DRIFT_EXIT = 6

EXIT_CODES: tuple[tuple[type[PaybillError], int], ...] = (
    (InvalidInputError, 2),
    (UnknownPlanError, 2),
    (UnknownTenantError, 2),
    (TenantExistsError, 2),
    (PlanLimitError, 2),
    (MigrationError, 3),
    (OperationFailedError, 3),
    (EngineError, 3),
    (DatabaseServerError, 4),
    (EngineNotFoundError, 5),
    (IllegalTransitionError, 7),
    (BillingGateError, 7),
    (LockTimeoutError, 8),
    (IdempotencyConflictError, 8),
)


def guard(call: Callable[[], T]) -> T:
    """Run ``call``; print a PaybillError in one readable block and exit with its code."""
    try:
        return call()
    except PaybillError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(next((c for cls, c in EXIT_CODES if isinstance(exc, cls)), 1)) from None


def emit(value: Any) -> None:
    """Write ``value`` (pydantic models and lists of them included) as indented, key-sorted JSON."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")
