"""``explain_access``: the table x column x operation matrix an agent's workflows need, and nothing more.

The same matrix drives both enforcers: the GRANTs of the agent's database role (``roles.py``) and the
columns the compiler lets a step read (``compiler.py``). A column is in it because some step needs it:

* SELECT: columns a select or ``RETURNING`` shows (unless masked), columns in conditions and join keys, the
  visible primary-key columns a select is ordered by, and the tenant column of tenant-scoped tables (the
  app-side predicate reads it);
* INSERT: assigned columns plus the tenant column; UPDATE: assigned columns; DELETE: the table.

Masked columns (above the agent's clearance, or ``secret``) are never granted; the compiler returns null
for them without reading them.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass

from agent_acl.policy import AclPolicy, Agent, Operation, Step, join_keys
from agent_acl.schema import Table


class Privilege(enum.Enum):
    SELECT = "SELECT"
    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


_ORDER = {p: i for i, p in enumerate(Privilege)}


@dataclass(frozen=True)
class AccessEntry:
    """One cell: ``privilege`` on ``table.column`` (``column`` is None for table-level DELETE)."""

    table: str
    column: str | None
    privilege: Privilege
    steps: tuple[str, ...]


@dataclass(frozen=True)
class MaskedColumn:
    table: str
    column: str
    sensitivity: str
    steps: tuple[str, ...]


@dataclass(frozen=True)
class AccessMatrix:
    """The agent's access, sorted by table, column, privilege."""

    agent: str
    entries: tuple[AccessEntry, ...]
    masked: tuple[MaskedColumn, ...]

    def grants(self) -> dict[tuple[str, Privilege], tuple[str, ...]]:
        """``(table, privilege) -> columns`` (empty tuple for table-level DELETE), in a stable order."""
        out: dict[tuple[str, Privilege], list[str]] = defaultdict(list)
        for entry in self.entries:
            bucket = out[(entry.table, entry.privilege)]
            if entry.column is not None:
                bucket.append(entry.column)
        ordered = sorted(out, key=lambda key: (key[0], _ORDER[key[1]]))
        return {key: tuple(sorted(out[key])) for key in ordered}

    def tables(self) -> tuple[str, ...]:
        return tuple(sorted({entry.table for entry in self.entries}))

    def render(self) -> str:
        """A plain-text table for humans and golden files."""
        lines = [f"agent {self.agent}"]
        width = max((len(f"{e.table}.{e.column or '*'}") for e in self.entries), default=10)
        for entry in self.entries:
            target = f"{entry.table}.{entry.column or '*'}"
            lines.append(f"  {target:<{width}}  {entry.privilege.value:<6}  via {', '.join(entry.steps)}")
        for masked in self.masked:
            target = f"{masked.table}.{masked.column}"
            lines.append(f"  {target:<{width}}  MASKED  ({masked.sensitivity}) via {', '.join(masked.steps)}")
        return "\n".join(lines) + "\n"


Cell = tuple[str, str | None, Privilege]


def step_needs(policy: AclPolicy, agent: Agent, step: Step) -> tuple[set[Cell], set[tuple[str, str]]]:
    """The ``(table, column, privilege)`` cells one step needs for ``agent``, and the columns it masks."""
    schema = policy.data
    tenant = schema.tenant_column
    table = schema.table(step.table)
    need: set[Cell] = set()
    masked: set[tuple[str, str]] = set()

    def read(table_name: str, column: str) -> None:
        sens = schema.table(table_name).column(column).sensitivity
        if agent.may_see(sens):
            need.add((table_name, column, Privilege.SELECT))
        else:
            masked.add((table_name, column))

    for column in step.columns:
        read(table.name, column)
    for cond in step.where:
        need.add((table.name, cond.column, Privilege.SELECT))
    if step.operation is Operation.SELECT:
        for column in order_columns(agent, table):
            need.add((table.name, column, Privilege.SELECT))
    if table.tenant_scoped and step.operation is not Operation.INSERT:
        need.add((table.name, tenant, Privilege.SELECT))
    if step.operation is Operation.INSERT:
        for assign in step.values:
            need.add((table.name, assign.column, Privilege.INSERT))
        if table.tenant_scoped:
            need.add((table.name, tenant, Privilege.INSERT))
    elif step.operation is Operation.UPDATE:
        for assign in step.values:
            need.add((table.name, assign.column, Privilege.UPDATE))
    elif step.operation is Operation.DELETE:
        need.add((table.name, None, Privilege.DELETE))
    for join in step.joins:
        other = schema.table(join.table)
        for local, remote in join_keys(schema, table, join) or ():
            need.add((table.name, local, Privilege.SELECT))
            need.add((other.name, remote, Privilege.SELECT))
        if other.tenant_scoped:
            need.add((other.name, tenant, Privilege.SELECT))
        for column in join.columns:
            read(other.name, column)
    return need, masked


def order_columns(agent: Agent, table: Table) -> tuple[str, ...]:
    """The columns a select is ordered by (for a deterministic result): the primary key columns the agent may see."""
    return tuple(name for name in table.primary_key if agent.may_see(table.column(name).sensitivity))


def explain_access(policy: AclPolicy, agent: Agent | str) -> AccessMatrix:
    """The agent's table x column x operation matrix, each cell naming the steps that need it."""
    who = policy.agent(agent) if isinstance(agent, str) else agent
    cells: dict[tuple[str, str | None, Privilege], set[str]] = defaultdict(set)
    masks: dict[tuple[str, str], set[str]] = defaultdict(set)
    for wf_name in who.workflows:
        for step in policy.workflow(wf_name).steps:
            need, masked = step_needs(policy, who, step)
            for cell in need:
                cells[cell].add(f"{wf_name}.{step.name}")
            for masked_cell in masked:
                masks[masked_cell].add(f"{wf_name}.{step.name}")
    entries = tuple(
        AccessEntry(table, column, privilege, tuple(sorted(cells[(table, column, privilege)])))
        for table, column, privilege in sorted(cells, key=lambda c: (c[0], c[1] or "", _ORDER[c[2]]))
    )
    masked_entries = tuple(
        MaskedColumn(table, column, policy.data.table(table).column(column).sensitivity.value, tuple(sorted(steps)))
        for (table, column), steps in sorted(masks.items())
        if (table, column, Privilege.SELECT) not in cells
    )
    return AccessMatrix(who.name, entries, masked_entries)
