"""The tenant-closure check: a static proof that a statement only reaches the current tenant's rows.

It works on the compiled SQLAlchemy Core statement, not on the declaration, so it also catches a compiler
bug. For every SELECT found anywhere in the statement (subqueries, CTEs, ``IN (SELECT ...)``, scalar
subqueries, UNION members) and for the target and extra FROMs of UPDATE/DELETE, every occurrence of a
tenant-scoped table (the table itself or an alias of it) must be filtered by a top-level AND conjunct
``<that occurrence>.<tenant column> = :acl_tenant``:

* in the WHERE clause of the statement that lists it in FROM; or
* in the ON clause of an inner join it takes part in, or of a left join on whose right side it is.

A predicate under OR, under NOT, compared to anything but the trusted ``acl_tenant`` bind, on another alias,
or in the ON clause of the preserved side of an outer join does not count. INSERTs must set the tenant
column to ``acl_tenant``, UPDATEs may not set it to anything else. What the check cannot analyse (textual
SQL, table-valued functions, an unknown or lightweight table, INSERT ... SELECT, multi-row VALUES) is a
violation: it fails closed. Correlated subqueries must repeat the predicate for the outer table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import BinaryExpression, BindParameter, BooleanClauseList, ColumnClause, Grouping
from sqlalchemy.sql.selectable import CTE, Alias, Join, ReturnsRows, Subquery

from agent_acl.errors import ClosureViolation, TenantClosureError
from agent_acl.models import TENANT_INFO_KEY
from agent_acl.naming import TENANT_BIND

_NOT_FOUND = "no '<table>.<tenant> = :acl_tenant' conjunct in its WHERE or inner-join ON clause"


def conjuncts(clause: Any) -> list[Any]:
    """The top-level AND terms of ``clause`` (groupings unwrapped); an OR is one opaque term."""
    if clause is None:
        return []
    if isinstance(clause, Grouping):
        return conjuncts(clause.element)
    if isinstance(clause, BooleanClauseList) and clause.operator is operators.and_:
        out: list[Any] = []
        for term in clause.clauses:
            out += conjuncts(term)
        return out
    return [clause]


def _is_tenant_bind(element: Any) -> bool:
    return isinstance(element, BindParameter) and element.key == TENANT_BIND


def _is_tenant_column(element: Any, occurrence: Any, tenant_column: str) -> bool:
    return isinstance(element, ColumnClause) and element.table is occurrence and element.name == tenant_column


def is_tenant_predicate(term: Any, occurrence: Any, tenant_column: str) -> bool:
    """Whether ``term`` is ``occurrence.tenant = :acl_tenant`` (either side order)."""
    if isinstance(term, Grouping):
        return is_tenant_predicate(term.element, occurrence, tenant_column)
    if not isinstance(term, BinaryExpression) or term.operator is not operators.eq:
        return False
    left, right = term.left, term.right
    return (_is_tenant_column(left, occurrence, tenant_column) and _is_tenant_bind(right)) or (
        _is_tenant_column(right, occurrence, tenant_column) and _is_tenant_bind(left)
    )


def _base_table(occurrence: Any) -> sa.Table | None:
    if isinstance(occurrence, sa.Table):
        return occurrence
    if isinstance(occurrence, Alias):
        inner = occurrence.element
        return inner if isinstance(inner, sa.Table) else None
    return None


def _describe(occurrence: Any) -> str:
    name = getattr(occurrence, "fullname", None) or getattr(occurrence, "name", None)
    return str(name) if name else type(occurrence).__name__


class _Checker:
    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.violations: list[ClosureViolation] = []

    def fail(self, table: str, reason: str) -> None:
        self.violations.append(ClosureViolation(self.subject, table, reason))

    def occurrence(self, occurrence: Any, credited: Iterable[Any]) -> None:
        """One FROM leaf with the conjuncts that filter it."""
        if isinstance(occurrence, (Subquery, CTE)):
            return  # a derived table: its inner SELECT is checked on its own
        base = _base_table(occurrence)
        if base is None:
            self.fail(_describe(occurrence), f"cannot analyse a FROM item of kind {type(occurrence).__name__}")
            return
        if TENANT_INFO_KEY not in base.info:
            self.fail(_describe(occurrence), "unknown table (not derived from the DataSchema)")
            return
        tenant = base.info[TENANT_INFO_KEY]
        if tenant is None:
            return  # a shared table
        if not any(is_tenant_predicate(term, occurrence, tenant) for term in credited):
            self.fail(_describe(occurrence), _NOT_FOUND)

    def from_item(self, item: Any, credited: list[Any]) -> None:
        if isinstance(item, Join):
            on = conjuncts(item.onclause)
            if item.full:
                left, right = credited, credited
            elif item.isouter:
                left, right = credited, credited + on
            else:
                left, right = credited + on, credited + on
            self.from_item(item.left, left)
            self.from_item(item.right, right)
        else:
            self.occurrence(item, credited)

    def select(self, stmt: sa.Select[Any]) -> None:
        where = conjuncts(stmt.whereclause)
        for item in stmt.get_final_froms():
            self.from_item(item, where)

    def dml_target(self, table: Any, where: list[Any], extra: Iterable[Any]) -> None:
        self.occurrence(table, where)
        for item in extra:
            if item is not table:
                self.from_item(item, where)


def _surface_froms(clause: Any) -> list[Any]:
    """FROM objects referenced by columns of ``clause`` outside any nested SELECT (UPDATE ... FROM)."""
    found: list[Any] = []
    stack = [clause] if clause is not None else []
    while stack:
        element = stack.pop()
        if isinstance(element, ReturnsRows):
            continue
        if isinstance(element, ColumnClause) and element.table is not None:
            if not any(element.table is seen for seen in found):
                found.append(element.table)
            continue
        stack.extend(element.get_children())
    return found


def _value_key(key: Any) -> str:
    return str(getattr(key, "name", key))


def statement_violations(statement: Any, subject: str = "statement") -> list[ClosureViolation]:
    """Every closure violation of one Core statement (empty when it is closed over the tenant)."""
    checker = _Checker(subject)
    for element in visitors.iterate(statement):
        if isinstance(element, (sa.TextClause, sa.sql.elements.TextClause)):
            checker.fail("?", "textual SQL cannot be analysed")
        elif isinstance(element, sa.sql.selectable.TextualSelect):
            checker.fail("?", "textual SELECT cannot be analysed")
        elif isinstance(element, sa.sql.selectable.TableValuedAlias):
            checker.fail(_describe(element), "table-valued functions cannot be analysed")
        elif isinstance(element, sa.Select):
            checker.select(element)
    if isinstance(statement, sa.Insert):
        _insert(checker, statement)
    elif isinstance(statement, (sa.Update, sa.Delete)):
        where = conjuncts(statement.whereclause)
        checker.dml_target(statement.table, where, _surface_froms(statement.whereclause))
        if isinstance(statement, sa.Update):
            _no_tenant_rewrite(checker, statement)
    elif not isinstance(statement, (sa.Select, sa.CompoundSelect)):
        checker.fail("?", f"cannot analyse a statement of kind {type(statement).__name__}")
    return checker.violations


def _tenant_of(checker: _Checker, table: Any) -> str | None:
    base = _base_table(table)
    if base is None or TENANT_INFO_KEY not in base.info:
        checker.fail(_describe(table), "unknown DML target (not derived from the DataSchema)")
        return None
    tenant = base.info[TENANT_INFO_KEY]
    return str(tenant) if tenant is not None else None


def _insert(checker: _Checker, statement: sa.Insert) -> None:
    name = _describe(statement.table)
    if statement.select is not None:
        checker.fail(name, "INSERT ... SELECT cannot be proven closed")
    if statement._multi_values:
        checker.fail(name, "multi-row VALUES cannot be proven closed")
    tenant = _tenant_of(checker, statement.table)
    if tenant is None:
        return
    values = {_value_key(k): v for k, v in (statement._values or {}).items()}
    if not _is_tenant_bind(values.get(tenant)):
        checker.fail(name, "INSERT does not set the tenant column to :acl_tenant")


def _no_tenant_rewrite(checker: _Checker, statement: sa.Update) -> None:
    tenant = _tenant_of(checker, statement.table)
    if tenant is None:
        return
    values = {_value_key(k): v for k, v in (statement._values or {}).items()}
    if tenant in values and not _is_tenant_bind(values[tenant]):
        checker.fail(_describe(statement.table), "UPDATE rewrites the tenant column")


def check_statements(statements: Iterable[tuple[str, Any]]) -> None:
    """Raise :class:`TenantClosureError` listing every violation of the ``(subject, statement)`` pairs."""
    violations: list[ClosureViolation] = []
    for subject, statement in statements:
        violations += statement_violations(statement, subject)
    if violations:
        raise TenantClosureError(violations)


def iter_policy_statements(policy: Any, schema_name: str | None = "data") -> Iterator[tuple[str, Any]]:
    """Every compiled statement of every agent's workflows: ``(agent:workflow.step, statement)``."""
    from agent_acl.compiler import compile_agent

    for agent in policy.agents:
        for compiled in compile_agent(policy, agent, schema_name).values():
            yield compiled.subject, compiled.statement


def check_tenant_closure(policy: Any, schema_name: str | None = "data") -> int:
    """Compile every step of every agent and prove each closed; returns how many statements were checked."""
    pairs = list(iter_policy_statements(policy, schema_name))
    check_statements(pairs)
    return len(pairs)
