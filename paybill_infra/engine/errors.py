"""The one place where Pulumi Automation API errors become :class:`~paybill_infra.errors.EngineError`."""

from __future__ import annotations

import re

from pulumi import automation as auto

from paybill_infra.errors import EngineError

_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (auto.ConcurrentUpdateError, "concurrent_update"),
    (auto.StackNotFoundError, "stack_not_found"),
    (auto.StackAlreadyExistsError, "stack_exists"),
    (auto.InlineSourceRuntimeError, "program_error"),
    (auto.RuntimeError, "program_error"),
    (auto.CommandError, "command_failed"),
)
_NOISE = re.compile(r"^\s*(code:|stdout:|stderr:|Resources:|Duration:|\+|~|-|@ |Updating|Previewing)")
MAX_DETAIL = 2000


def map_engine_error(err: Exception, *, stack: str, operation: str) -> EngineError:
    """Classify ``err`` and keep the lines that explain it (the engine never prints secret values)."""
    kind = next((name for cls, name in _KINDS if isinstance(err, cls)), "unexpected")
    lines = [ln.rstrip() for ln in str(err).splitlines() if ln.strip() and not _NOISE.match(ln)]
    detail = "\n".join(dict.fromkeys(lines))[-MAX_DETAIL:] or type(err).__name__
    return EngineError(stack=stack, operation=operation, kind=kind, detail=detail)
