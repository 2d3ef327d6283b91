"""What every ``paybill`` command shares: the consoles, JSON output, and the one error → exit-code table.

Exit codes: 0 success; 1 unexpected failure; 2 invalid input or a refused request (nothing was touched);
3 engine or operation failure; 4 database server failure; 5 no usable Pulumi CLI; 6 drift found;
7 the tenant's state or billing forbids the action; 8 a lock or idempotency conflict.

Error text is printed literally (never parsed as rich markup: a regex like ``^[a-z]*$`` must survive) and
soft-wrapped (a terminal wraps it, the program does not insert newlines). With ``--json`` an error is a
JSON document on stdout (:func:`error_document`), so a script reads one format whatever happens.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from pydantic_core import to_json
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

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
    RolloutBusyError,
    TenantExistsError,
    UnknownPlanError,
    UnknownRolloutError,
    UnknownTenantError,
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")
DRIFT_EXIT = 6
REFUSED_EXIT = 2

EXIT_CODES: tuple[tuple[type[PaybillError], int], ...] = (
    (InvalidInputError, 2),
    (UnknownPlanError, 2),
    (UnknownTenantError, 2),
    (TenantExistsError, 2),
    (PlanLimitError, 2),
    (UnknownRolloutError, 2),
    (MigrationError, 3),
    (OperationFailedError, 3),
    (EngineError, 3),
    (DatabaseServerError, 4),
    (EngineNotFoundError, 5),
    (IllegalTransitionError, 7),
    (BillingGateError, 7),
    (LockTimeoutError, 8),
    (IdempotencyConflictError, 8),
    (RolloutBusyError, 8),
)
# The field an error without its own problem list is about (a JSON consumer keys its handling on it).
_FIELDS: tuple[tuple[type[PaybillError], str], ...] = (
    (UnknownPlanError, "plan"),
    (UnknownTenantError, "slug"),
    (TenantExistsError, "slug"),
    (PlanLimitError, "plan"),
    (IllegalTransitionError, "state"),
    (BillingGateError, "subscription"),
    (IdempotencyConflictError, "idempotency_key"),
)


def exit_code(exc: PaybillError) -> int:
    return next((c for cls, c in EXIT_CODES if isinstance(exc, cls)), 1)


def error_document(exc: PaybillError) -> dict[str, Any]:
    """``{"error": {code, exit_code, message, field, problems}}``: ``code`` is the error class, ``field``
    the first field at fault (``null`` when the error is not about one), ``problems`` every field."""
    problems = [{"field": p.path, "message": p.message} for p in getattr(exc, "problems", ())]
    field = problems[0]["field"] if problems else next((f for cls, f in _FIELDS if isinstance(exc, cls)), None)
    body: dict[str, Any] = {
        "code": type(exc).__name__,
        "exit_code": exit_code(exc),
        "message": str(exc),
        "field": field or None,
        "problems": problems,
    }
    if isinstance(exc, InvalidInputError):
        body["source"], body["entry"] = exc.source, exc.entry
    return {"error": body}


def fail(exc: PaybillError, *, as_json: bool = False) -> NoReturn:
    """Report ``exc`` (stderr text, or a JSON document on stdout) and exit with its code."""
    if as_json:
        emit(error_document(exc))
    else:
        err.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False)
    raise typer.Exit(exit_code(exc))


def guard(call: Callable[[], T], *, as_json: bool = False) -> T:
    """Run ``call``; a PaybillError becomes one readable report and its exit code (no traceback)."""
    try:
        return call()
    except PaybillError as exc:
        fail(exc, as_json=as_json)


def refuse(message: str, field: str, *, as_json: bool = False) -> NoReturn:
    """Refuse a command line before anything runs (exit 2), e.g. a destructive command without ``--yes``."""
    if as_json:
        emit({"error": {"code": "Refused", "exit_code": REFUSED_EXIT, "message": message, "field": field}})
    else:
        err.print(Text.assemble(("error: ", "bold red"), message), highlight=False)
    raise typer.Exit(REFUSED_EXIT)


def confirm(action: str, *, yes: bool, as_json: bool = False) -> None:
    """Go ahead with a destructive ``action`` only with ``--yes`` or an interactive "y" on a terminal;
    without a terminal (CI, a pipe) and without ``--yes`` it is refused, never assumed."""
    if yes:
        return
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        refuse(f"{action}: refusing without a terminal to confirm; pass --yes", "--yes", as_json=as_json)
    if not typer.confirm(f"{action}?", default=False):
        refuse(f"{action}: not confirmed", "--yes", as_json=as_json)


def table(*headers: str) -> Table:
    """A table whose cells fold onto more lines rather than being cut with an ellipsis (a stack or tenant
    name is never shown truncated, however narrow the terminal)."""
    return Table(*(Column(h, overflow="fold") for h in headers))


def emit(value: Any) -> None:
    """Write ``value`` (pydantic models and lists of them included) as indented, key-sorted JSON."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, list):
        value = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=True, default=str) + "\n")


def emit_sorted(value: Any) -> None:
    """Write ``value`` as :func:`emit` does, for plain JSON values (datetimes allowed) whose objects already
    have their keys in sorted order: pydantic-core serializes it in Rust, where the standard library's
    encoder runs in pure Python as soon as it indents (most of a 10,000-tenant listing's output time).
    The text is the same: two-space indent, ASCII with ``\\u`` escapes, ISO datetimes."""
    sys.stdout.write(to_json(value, indent=2, ensure_ascii=True).decode("ascii") + "\n")
