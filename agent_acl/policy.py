"""Workflows, agents and the whole policy document (schema + workflows + agents).

There is no free SQL anywhere in here: a step is a declared operation on one table with its column list,
typed parameters, conditions and a row limit. The tenant never appears: it is bound from the trusted
:class:`~agent_acl.runtime.TenantContext`, and the tenant column may be neither read as a filter, nor
written, nor used as a parameter by a step.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent_acl.errors import PolicyError, Problem, SchemaError
from agent_acl.schema import (
    ColumnType,
    DataSchema,
    Identifier,
    LiteralValue,
    ProblemsFoundError,
    Sensitivity,
    Table,
    literal_fits,
    problems_from_validation_error,
)

POLICY_NAME_MAX = 12
"""Short, because it prefixes every generated role and database name (63 bytes in PostgreSQL)."""

MAX_ROW_LIMIT = 10_000
MAX_TEXT_PARAM = 10_000
MAX_TIMEOUT_MS = 600_000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Operation(enum.Enum):
    SELECT = "select"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


class CompareOp(enum.Enum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"


class Param(_Frozen):
    """A typed step parameter. Text parameters have a maximum length."""

    name: Identifier
    type: ColumnType
    nullable: bool = False
    max_length: Annotated[int, Field(ge=1, le=MAX_TEXT_PARAM)] = 200


class Operand(_Frozen):
    """Either a parameter name or a constant, never both."""

    param: Identifier | None = None
    value: LiteralValue | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Operand:
        if (self.param is None) == (self.value is None):
            raise ValueError("give exactly one of 'param' or 'value'")
        return self


class Condition(Operand):
    """``column <op> operand``; a step's conditions are ANDed."""

    column: Identifier
    op: CompareOp = CompareOp.EQ


class Assignment(Operand):
    """``column = operand`` in an insert or update."""

    column: Identifier


class Join(_Frozen):
    """A select step may join a table it has a foreign key with (either direction), reading ``columns``.

    Result keys of joined columns are ``<table>.<column>``.
    """

    table: Identifier
    foreign_key: Identifier | None = None
    columns: Annotated[tuple[Identifier, ...], Field(min_length=1, max_length=100)]


class Step(_Frozen):
    """One declared operation on one table.

    * ``columns``: what a select returns, or what an insert/update/delete returns (``RETURNING``);
    * ``where``: conditions (select, update, delete); updates and deletes need at least one;
    * ``values``: the assignments of an insert or update;
    * ``row_limit``: the most rows the step may return or touch; more is a denial and a rollback;
    * ``timeout_ms`` / ``max_cost``: optional tighter per-step budgets (planner cost via ``EXPLAIN``).
    """

    name: Identifier
    operation: Operation
    table: Identifier
    columns: Annotated[tuple[Identifier, ...], Field(max_length=100)] = ()
    params: Annotated[tuple[Param, ...], Field(max_length=50)] = ()
    where: Annotated[tuple[Condition, ...], Field(max_length=20)] = ()
    values: Annotated[tuple[Assignment, ...], Field(max_length=100)] = ()
    joins: Annotated[tuple[Join, ...], Field(max_length=4)] = ()
    row_limit: Annotated[int, Field(ge=1, le=MAX_ROW_LIMIT)] = 100
    timeout_ms: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_MS)] | None = None
    max_cost: Annotated[float, Field(gt=0)] | None = None

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)


class Workflow(_Frozen):
    """Ordered steps. A run starts at the first step; each later step must follow its predecessor."""

    name: Identifier
    description: Annotated[str, Field(max_length=500)] = ""
    steps: Annotated[tuple[Step, ...], Field(min_length=1, max_length=50)]

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def index(self, name: str) -> int:
        for index, step in enumerate(self.steps):
            if step.name == name:
                return index
        raise KeyError(name)


class Budgets(_Frozen):
    """Per-agent budgets: rows over a session, calls per minute, and the statement timeout of its role."""

    rows_per_session: Annotated[int, Field(ge=1, le=10_000_000)] = 10_000
    calls_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 60
    statement_timeout_ms: Annotated[int, Field(ge=1, le=MAX_TIMEOUT_MS)] = 5_000


class Approval(_Frozen):
    """Which actions need a human approval token: whole operations, and/or ``workflow.step`` names."""

    operations: tuple[Operation, ...] = ()
    steps: tuple[Annotated[str, Field(pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$")], ...] = ()


class Agent(_Frozen):
    """An AI agent: the workflows it may run, its clearance, budgets and approval rules.

    ``clearance`` is the most sensitive column class it may see; columns above it are masked (returned as
    null, and never granted to its role). ``secret`` columns are never granted to any agent.
    """

    name: Identifier
    workflows: Annotated[tuple[Identifier, ...], Field(min_length=1, max_length=100)]
    clearance: Sensitivity = Sensitivity.INTERNAL
    budgets: Budgets = Budgets()
    approval: Approval = Approval()

    def needs_approval(self, workflow: str, step: Step) -> bool:
        return step.operation in self.approval.operations or f"{workflow}.{step.name}" in self.approval.steps

    def may_see(self, sensitivity: Sensitivity) -> bool:
        return sensitivity is not Sensitivity.SECRET and sensitivity.rank <= self.clearance.rank


PolicyName = Annotated[str, Field(min_length=1, max_length=POLICY_NAME_MAX, pattern=r"^[a-z][a-z0-9]*$")]


class AclPolicy(_Frozen):
    """The whole document: ``name`` (prefix of every generated name), the schema, workflows and agents."""

    name: PolicyName
    data: DataSchema = Field(alias="schema")
    workflows: Annotated[tuple[Workflow, ...], Field(max_length=500)] = ()
    agents: Annotated[tuple[Agent, ...], Field(max_length=500)] = ()

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> AclPolicy:
        problems = list(policy_problems(self))
        if problems:
            raise ProblemsFoundError(problems)
        return self

    def workflow(self, name: str) -> Workflow:
        for workflow in self.workflows:
            if workflow.name == name:
                return workflow
        raise KeyError(name)

    def agent(self, name: str) -> Agent:
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)


def _dupes(path: str, names: list[str]) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name in seen:
            yield Problem(f"{path}[{index}].name", f"'{name}' declared twice")
        seen.add(name)


def _column_ref(path: str, table: Table, name: str, tenant: str) -> Iterator[Problem]:
    if not table.has_column(name):
        yield Problem(path, f"table '{table.name}' has no column '{name}'")
    elif name == tenant and table.tenant_scoped:
        yield Problem(path, f"the tenant column '{tenant}' is bound from the trusted context, not by a step")


def _operand_problems(path: str, step: Step, operand: Operand, column_type: ColumnType | None) -> Iterator[Problem]:
    if operand.param is not None:
        names = [p.name for p in step.params]
        if operand.param not in names:
            yield Problem(f"{path}.param", f"step has no parameter '{operand.param}'")
        elif column_type is not None and step.param(operand.param).type is not column_type:
            yield Problem(f"{path}.param", f"parameter '{operand.param}' is not of the column type {column_type.value}")
    elif operand.value is not None and column_type is not None and not literal_fits(operand.value, column_type):
        yield Problem(f"{path}.value", f"constant does not fit the column type {column_type.value}")


def _step_problems(schema: DataSchema, path: str, step: Step) -> Iterator[Problem]:
    if not schema.has_table(step.table):
        yield Problem(f"{path}.table", f"unknown table '{step.table}'")
        return
    table = schema.table(step.table)
    tenant = schema.tenant_column
    yield from _dupes(f"{path}.params", [p.name for p in step.params])
    for index, name in enumerate(step.columns):
        if not table.has_column(name):
            yield Problem(f"{path}.columns[{index}]", f"table '{table.name}' has no column '{name}'")
    for index, cond in enumerate(step.where):
        cpath = f"{path}.where[{index}]"
        yield from _column_ref(f"{cpath}.column", table, cond.column, tenant)
        col_type = table.column(cond.column).type if table.has_column(cond.column) else None
        yield from _operand_problems(cpath, step, cond, col_type)
    for index, assign in enumerate(step.values):
        apath = f"{path}.values[{index}]"
        yield from _column_ref(f"{apath}.column", table, assign.column, tenant)
        col_type = table.column(assign.column).type if table.has_column(assign.column) else None
        yield from _operand_problems(apath, step, assign, col_type)
    assigned = [a.column for a in step.values]
    if len(set(assigned)) != len(assigned):
        yield Problem(f"{path}.values", "a column is assigned twice")
    used = {o.param for o in (*step.where, *step.values) if o.param is not None}
    for index, param in enumerate(step.params):
        if param.name not in used:
            yield Problem(f"{path}.params[{index}]", f"parameter '{param.name}' is never used")
    op = step.operation
    if op is Operation.SELECT and not step.columns:
        yield Problem(f"{path}.columns", "a select step must list the columns it reads")
    if op in (Operation.SELECT, Operation.DELETE) and step.values:
        yield Problem(f"{path}.values", f"a {op.value} step takes no values")
    if op in (Operation.INSERT, Operation.UPDATE) and not step.values:
        yield Problem(f"{path}.values", f"an {op.value} step must assign at least one column")
    if op is Operation.INSERT and step.where:
        yield Problem(f"{path}.where", "an insert step takes no conditions")
    if op in (Operation.UPDATE, Operation.DELETE) and not step.where:
        yield Problem(f"{path}.where", f"an {op.value} step needs at least one condition besides the tenant")
    if op is Operation.INSERT:
        given = set(assigned)
        for column in table.columns:
            required = not column.nullable and column.default is None and column.generated is None
            if required and column.name not in given and not (column.name == tenant and table.tenant_scoped):
                yield Problem(f"{path}.values", f"insert must assign the required column '{column.name}'")
    if op is not Operation.SELECT and not table.tenant_scoped:
        yield Problem(f"{path}.operation", f"'{table.name}' is shared by all tenants; agents may only read it")
    if step.joins and op is not Operation.SELECT:
        yield Problem(f"{path}.joins", "only select steps may join")
    for index, join in enumerate(step.joins):
        yield from _join_problems(schema, f"{path}.joins[{index}]", table, join)


def join_keys(schema: DataSchema, table: Table, join: Join) -> tuple[tuple[str, str], ...] | None:
    """The ``(local column, joined column)`` pairs of the foreign key behind ``join``, or None if ambiguous."""
    candidates: list[tuple[tuple[str, str], ...]] = []
    other = schema.table(join.table)
    for fk in table.foreign_keys:
        if fk.references.table == other.name and join.foreign_key in (None, fk.name):
            candidates.append(tuple(zip(fk.columns, fk.references.columns, strict=True)))
    for fk in other.foreign_keys:
        if fk.references.table == table.name and join.foreign_key in (None, fk.name):
            candidates.append(tuple(zip(fk.references.columns, fk.columns, strict=True)))
    return candidates[0] if len(candidates) == 1 else None


def _join_problems(schema: DataSchema, path: str, table: Table, join: Join) -> Iterator[Problem]:
    if not schema.has_table(join.table):
        yield Problem(f"{path}.table", f"unknown table '{join.table}'")
        return
    if join.table == table.name:
        yield Problem(f"{path}.table", "a table may not join itself")
        return
    if join_keys(schema, table, join) is None:
        yield Problem(path, f"no single foreign key links '{table.name}' and '{join.table}' (name 'foreign_key')")
    other = schema.table(join.table)
    for index, name in enumerate(join.columns):
        if not other.has_column(name):
            yield Problem(f"{path}.columns[{index}]", f"table '{other.name}' has no column '{name}'")


def policy_problems(policy: AclPolicy) -> Iterator[Problem]:
    """Every cross-reference problem of ``policy`` with its path (workflows, steps, agents)."""
    yield from _dupes("workflows", [w.name for w in policy.workflows])
    yield from _dupes("agents", [a.name for a in policy.agents])
    for w_index, workflow in enumerate(policy.workflows):
        base = f"workflows[{w_index}]"
        yield from _dupes(f"{base}.steps", [s.name for s in workflow.steps])
        for s_index, step in enumerate(workflow.steps):
            yield from _step_problems(policy.data, f"{base}.steps[{s_index}]", step)
    names = {w.name for w in policy.workflows}
    for a_index, agent in enumerate(policy.agents):
        base = f"agents[{a_index}]"
        if agent.clearance is Sensitivity.SECRET:
            yield Problem(f"{base}.clearance", "no agent may be cleared for secret columns; the highest is pii")
        for index, name in enumerate(agent.workflows):
            if name not in names:
                yield Problem(f"{base}.workflows[{index}]", f"unknown workflow '{name}'")
        for index, ref in enumerate(agent.approval.steps):
            wf_name, _, step_name = ref.partition(".")
            if wf_name not in agent.workflows or step_name not in [s.name for s in policy.workflow(wf_name).steps]:
                yield Problem(f"{base}.approval.steps[{index}]", f"'{ref}' is not a step of this agent's workflows")
        if agent.workflows and all(n in names for n in agent.workflows):
            yield from _clearance_problems(policy, base, agent)


def _clearance_problems(policy: AclPolicy, base: str, agent: Agent) -> Iterator[Problem]:
    """An agent may not filter on or write columns above its clearance: a filter is an oracle, a write a leak."""
    for wf_name in agent.workflows:
        for step in policy.workflow(wf_name).steps:
            if not policy.data.has_table(step.table):
                continue
            table = policy.data.table(step.table)
            touched = [c.column for c in step.where] + [a.column for a in step.values]
            for join in step.joins:
                if policy.data.has_table(join.table):
                    for local, remote in join_keys(policy.data, table, join) or ():
                        touched.append(local)
                        other = policy.data.table(join.table)
                        if other.has_column(remote) and not agent.may_see(other.column(remote).sensitivity):
                            yield Problem(
                                f"{base}.workflows",
                                f"step '{wf_name}.{step.name}' joins on '{other.name}.{remote}' "
                                f"({other.column(remote).sensitivity.value}), above the agent's clearance",
                            )
            for name in touched:
                if table.has_column(name) and not agent.may_see(table.column(name).sensitivity):
                    sens = table.column(name).sensitivity.value
                    yield Problem(
                        f"{base}.workflows",
                        f"step '{wf_name}.{step.name}' filters on or writes '{table.name}.{name}' ({sens}), "
                        f"above the agent's clearance '{agent.clearance.value}'",
                    )


def parse_policy(document: Any, source: str = "<policy>") -> AclPolicy:
    """Validate a policy from plain data (e.g. parsed YAML); raises :class:`PolicyError` naming every path."""
    try:
        return AclPolicy.model_validate(document)
    except ValidationError as err:
        problems = problems_from_validation_error(err.errors())
        if problems and all(p.path.startswith("schema") for p in problems):
            raise SchemaError(source, problems) from None
        raise PolicyError(source, problems) from None


def parse_schema(document: Any, source: str = "<schema>") -> DataSchema:
    """Validate a :class:`DataSchema` alone; raises :class:`SchemaError` naming every path."""
    try:
        return DataSchema.model_validate(document)
    except ValidationError as err:
        raise SchemaError(source, problems_from_validation_error(err.errors())) from None


MIGRATION_HINTS = frozenset({"renamed_from"})
"""Column keys a schema file may carry for its migrations (``paybill_infra.datamodel``); the ACL ignores them."""


def _read_yaml(file: Path, source: str, path: str) -> Any:
    try:
        return yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise PolicyError(source, [Problem(path, f"cannot read file {file}: {err.strerror}")]) from None
    except yaml.YAMLError as err:
        raise PolicyError(source, [Problem(path, f"not valid YAML ({file}): {err}")]) from None


def _without_hints(schema: Any) -> Any:
    if not isinstance(schema, dict) or not isinstance(schema.get("tables"), list):
        return schema
    tables = [
        {
            **t,
            "columns": [
                {k: v for k, v in c.items() if k not in MIGRATION_HINTS} if isinstance(c, dict) else c
                for c in t["columns"]
            ],
        }
        if isinstance(t, dict) and isinstance(t.get("columns"), list)
        else t
        for t in schema["tables"]
    ]
    return {**schema, "tables": tables}


def load_policy(path: str | Path) -> AclPolicy:
    """Load and validate a policy YAML file (``name``, ``schema``, ``workflows``, ``agents``).

    ``schema`` is either the data schema itself or the path of a schema file (relative to the policy file):
    the project's one schema file, which also drives provisioning and migrations."""
    file = Path(path)
    document = _read_yaml(file, str(file), "")
    if isinstance(document, dict) and isinstance(document.get("schema"), str):
        schema = _read_yaml(file.parent / document["schema"], str(file), "schema")
        document = {**document, "schema": _without_hints(schema)}
    return parse_policy(document, str(file))
