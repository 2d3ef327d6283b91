"""The row guard: a step's statement wrapped so that PostgreSQL itself refuses more rows than the step may see.

Why: a call is one round trip, ``[BEGIN, role switch, statement, RESET ROLE, audit INSERT, COMMIT]`` queued
before a single Sync. The client sees no row before ``COMMIT`` has been sent, so the row limit (and the
session's row budget) cannot be checked by the client in between; the statement checks them itself.

The wrapped statement passes its row count ``n`` to ``acl.check_rows(n, row_limit, rows_left)``
(:func:`agent_acl.ddl.create_row_guard`), which raises when ``n`` is over either bound. An error aborts the
pipelined transaction, so the queued ``COMMIT`` only rolls back: a refused step keeps nothing, not even its
audit row (the session then records the refusal on its own, as for any denial). Otherwise ``check_rows``
leaves ``n`` in the transaction-local ``ROW_COUNT_SETTING``, which the audit INSERT queued after ``RESET
ROLE`` reads, so the durable audit row carries the step's real row count.

Shapes (the guard is always the last output column, :data:`GUARD_LABEL`):

* a statement that returns rows (a select, or a write with ``RETURNING``) runs unchanged in a CTE, read back
  with ``check_rows(count(*) OVER (), ...)``. The count is of what the statement produced, so a select keeps
  its ``LIMIT row_limit + 1`` (a refused call reads at most one row more than allowed) and its ``ORDER BY``:
  a window aggregate over an empty window adds no sort and passes its input through in order;
* a write without ``RETURNING`` returns a constant from its CTE, and one row carries ``check_rows(count(*),
  ...)``: the number of rows it touched.

A step with no rows never calls the guard; the session sets ``ROW_COUNT_SETTING`` to ``0`` with the role.
The wrapper adds no table and no predicate: the compiled statement, which the closure check proved to carry
the tenant predicate, is its only source of rows.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from agent_acl.compiler import CompiledStep
from agent_acl.naming import ROW_GUARD_FN

GUARD_LABEL = "acl__rows"
"""The guard column's label: ``__`` cannot occur in a declared identifier, so it never hides a step's column."""
ROWS_LEFT_BIND = "acl_rows_left"
"""The session's remaining row budget, bound per call (``acl_`` binds come from the runtime, never the agent)."""
STEP_CTE = "acl__step"


def _check_rows(control_schema: str, step: CompiledStep, count: ColumnElement[Any]) -> ColumnElement[int]:
    function = getattr(getattr(sa.func, control_schema), ROW_GUARD_FN)
    guard: ColumnElement[int] = function(
        count,
        sa.literal(step.step.row_limit, sa.BigInteger),
        sa.bindparam(ROWS_LEFT_BIND, type_=sa.BigInteger, required=True),
        type_=sa.BigInteger,
    )
    return guard.label(GUARD_LABEL)


def guarded(step: CompiledStep, control_schema: str) -> sa.Select[Any]:
    """``step``'s statement with the row guard as its last output column (see the module docstring)."""
    statement = step.statement
    if step.returns_rows or isinstance(statement, sa.Select):
        rows = statement.cte(STEP_CTE)
        return sa.select(*rows.c, _check_rows(control_schema, step, sa.func.count().over()))
    touched = statement.returning(sa.literal_column("1")).cte(STEP_CTE)
    return sa.select(_check_rows(control_schema, step, sa.func.count())).select_from(touched)
