"""Compile a declared step to a SQLAlchemy Core statement that always carries the tenant predicate.

The compiler is closed: it knows select, insert, update and delete on one table (selects may join along a
declared foreign key), conditions ``column <op> param|constant`` ANDed, and assignments. Anything else is
a :class:`~agent_acl.errors.CompileError`. Parameter values never enter the SQL text: they are bind
parameters (``p_<name>``), and the tenant is the bind parameter ``acl_tenant``, whose value only the runtime
supplies from the trusted context.

Masked columns (above the agent's clearance) are compiled to ``CAST(NULL AS <type>)``: the database never
reads them, and the agent's role holds no privilege on them anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from agent_acl.access import order_columns
from agent_acl.errors import CompileError
from agent_acl.models import sa_table, sa_type
from agent_acl.naming import TENANT_BIND
from agent_acl.policy import AclPolicy, Agent, CompareOp, Operand, Operation, Step, join_keys
from agent_acl.schema import ColumnType

PARAM_PREFIX = "p_"

_COMPARE: dict[CompareOp, Callable[[Any, Any], ColumnElement[bool]]] = {
    CompareOp.EQ: lambda a, b: a == b,
    CompareOp.NE: lambda a, b: a != b,
    CompareOp.LT: lambda a, b: a < b,
    CompareOp.LE: lambda a, b: a <= b,
    CompareOp.GT: lambda a, b: a > b,
    CompareOp.GE: lambda a, b: a >= b,
}

DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class CompiledStep:
    """A step compiled for one agent and one placement (PostgreSQL schema).

    ``fetch_limit`` is ``row_limit + 1`` for selects, so exceeding the limit is detectable, not silent.
    ``sql_hash`` is the SHA-256 of the statement text (binds unexpanded): what the audit log records.
    """

    subject: str
    step: Step
    statement: sa.Select[Any] | sa.Insert | sa.Update | sa.Delete
    masked: tuple[str, ...]
    sql_text: str
    sql_hash: str

    @property
    def returns_rows(self) -> bool:
        return self.step.operation is Operation.SELECT or bool(self.step.columns)


def tenant_bind() -> sa.BindParameter[str]:
    """The one trusted bind parameter; its value comes from the :class:`TenantContext` only."""
    return sa.bindparam(TENANT_BIND, type_=sa.Text(), required=True)


def _operand(step: Step, operand: Operand, column_type: ColumnType) -> ColumnElement[Any]:
    if operand.param is not None:
        return sa.bindparam(PARAM_PREFIX + operand.param, type_=sa_type(step.param(operand.param).type), required=True)
    if operand.value is None:
        raise CompileError(step.name, "an operand has neither a parameter nor a constant")
    return sa.literal(operand.value, sa_type(column_type))


def compile_step(policy: AclPolicy, agent: Agent, workflow: str, step: Step, schema_name: str | None) -> CompiledStep:
    """Compile ``step`` for ``agent`` against tables in PostgreSQL schema ``schema_name``."""
    subject = f"{agent.name}:{workflow}.{step.name}"
    data = policy.data
    if not data.has_table(step.table):
        raise CompileError(subject, f"unknown table '{step.table}'")
    spec = data.table(step.table)
    table = sa_table(data, schema_name, spec.name)
    tenant = tenant_bind()
    filters: list[ColumnElement[bool]] = []
    if spec.tenant_scoped:
        filters.append(table.c[data.tenant_column] == tenant)
    for cond in step.where:
        column = table.c[cond.column]
        filters.append(_COMPARE[cond.op](column, _operand(step, cond, spec.column(cond.column).type)))
    masked: list[str] = []

    def shown(spec_table: str, sa_tab: sa.Table, name: str, label: str) -> ColumnElement[Any]:
        column_spec = data.table(spec_table).column(name)
        if agent.may_see(column_spec.sensitivity):
            return sa_tab.c[name].label(label)
        masked.append(label)
        return sa.cast(sa.null(), sa_type(column_spec.type)).label(label)

    returning = [shown(spec.name, table, name, name) for name in step.columns]
    statement: sa.Select[Any] | sa.Insert | sa.Update | sa.Delete
    if step.operation is Operation.SELECT:
        source: sa.FromClause = table
        for join in step.joins:
            other_spec = data.table(join.table)
            other = sa_table(data, schema_name, other_spec.name)
            keys = join_keys(data, spec, join)
            if keys is None:
                raise CompileError(subject, f"no single foreign key links '{spec.name}' and '{join.table}'")
            on = [table.c[local] == other.c[remote] for local, remote in keys]
            if other_spec.tenant_scoped:
                on.append(other.c[data.tenant_column] == tenant)
            source = source.join(other, sa.and_(*on))
            returning += [shown(other_spec.name, other, name, f"{other_spec.name}.{name}") for name in join.columns]
        order = [table.c[name] for name in order_columns(agent, spec)]
        statement = sa.select(*returning).select_from(source).where(*filters).order_by(*order).limit(step.row_limit + 1)
    elif step.operation is Operation.INSERT:
        values: dict[str, Any] = {a.column: _operand(step, a, spec.column(a.column).type) for a in step.values}
        if spec.tenant_scoped:
            values[data.tenant_column] = tenant
        statement = sa.insert(table).values(values)
        if returning:
            statement = statement.returning(*returning)
    elif step.operation is Operation.UPDATE:
        assignments = {a.column: _operand(step, a, spec.column(a.column).type) for a in step.values}
        if data.tenant_column in assignments and spec.tenant_scoped:
            raise CompileError(subject, "a step may not assign the tenant column")
        statement = sa.update(table).where(*filters).values(assignments)
        if returning:
            statement = statement.returning(*returning)
    elif step.operation is Operation.DELETE:
        statement = sa.delete(table).where(*filters)
        if returning:
            statement = statement.returning(*returning)
    else:  # pragma: no cover - the enum is closed
        raise CompileError(subject, f"unsupported operation {step.operation!r}")
    if (
        step.operation is not Operation.INSERT
        and len(filters) < 1 + int(spec.tenant_scoped)
        and step.operation
        in (
            Operation.UPDATE,
            Operation.DELETE,
        )
    ):
        raise CompileError(subject, f"an {step.operation.value} needs a condition besides the tenant predicate")
    text = str(statement.compile(dialect=DIALECT))
    return CompiledStep(
        subject=subject,
        step=step,
        statement=statement,
        masked=tuple(masked),
        sql_text=text,
        sql_hash=hashlib.sha256(text.encode()).hexdigest(),
    )


def compile_agent(policy: AclPolicy, agent: Agent, schema_name: str | None) -> dict[tuple[str, str], CompiledStep]:
    """Every step of every workflow of ``agent``, keyed by ``(workflow, step)``."""
    out: dict[tuple[str, str], CompiledStep] = {}
    for wf_name in agent.workflows:
        for step in policy.workflow(wf_name).steps:
            out[(wf_name, step.name)] = compile_step(policy, agent, wf_name, step, schema_name)
    return out
