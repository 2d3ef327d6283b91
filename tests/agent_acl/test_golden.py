"""Generated SQL is pinned in golden files; they change only on purpose (``UPDATE_GOLDEN=1`` rewrites them).

The same statements run on the real PostgreSQL in the ``deployment`` fixture, so a golden file is both a
reviewable migration and a tested one.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy.schema import CreateTable

from agent_acl import AclPolicy, Isolation, build_metadata, compile_agent, explain_access, migration, render, teardown
from agent_acl.compiler import DIALECT
from agent_acl.guard import guarded
from tests.agent_acl.conftest import GOLDEN, TENANTS

UPDATE = os.environ.get("UPDATE_GOLDEN", "") == "1"


def compare(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"golden file {name} is missing; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; if on purpose, rerun with UPDATE_GOLDEN=1"


@pytest.mark.parametrize("isolation", list(Isolation), ids=lambda i: i.value)
def test_migration_golden(policy: AclPolicy, isolation: Isolation) -> None:
    compare(f"{isolation.value}.sql", render(migration(policy, isolation, TENANTS)))


@pytest.mark.parametrize("isolation", list(Isolation), ids=lambda i: i.value)
def test_teardown_golden(policy: AclPolicy, isolation: Isolation) -> None:
    compare(f"{isolation.value}.down.sql", render(teardown(policy, isolation, TENANTS)))


def test_matrix_golden(policy: AclPolicy) -> None:
    compare("matrix.txt", "".join(explain_access(policy, agent).render() for agent in policy.agents))


def test_compiled_steps_golden(policy: AclPolicy) -> None:
    out = []
    for agent in policy.agents:
        for compiled in compile_agent(policy, agent, "data").values():
            out.append(f"-- {compiled.subject} masked={list(compiled.masked)} sha256={compiled.sql_hash}\n")
            out.append(compiled.sql_text.strip() + ";\n\n")
    compare("steps.sql", "".join(out))


def test_guarded_steps_golden(policy: AclPolicy) -> None:
    """What AgentSession sends: each compiled step inside its row guard (run on PostgreSQL by the runtime tests)."""
    out = []
    for agent in policy.agents:
        for compiled in compile_agent(policy, agent, "data").values():
            text = str(guarded(compiled, "acl").compile(dialect=DIALECT)).strip()
            out.append(f"-- {compiled.subject}\n{text};\n\n")
    compare("guarded.sql", "".join(out))


def test_derivations_are_deterministic(policy: AclPolicy) -> None:
    """Same schema, same bytes: a second parse of the same document yields identical SQL and metadata DDL."""
    again = AclPolicy.model_validate(policy.model_dump(by_alias=True, mode="json"))
    assert again == policy
    for isolation in Isolation:
        assert render(migration(again, isolation, TENANTS)) == render(migration(policy, isolation, TENANTS))
    first = [str(CreateTable(t).compile(dialect=DIALECT)) for t in build_metadata(policy.data, "x").sorted_tables]
    build_metadata.cache_clear()
    second = [str(CreateTable(t).compile(dialect=DIALECT)) for t in build_metadata(again.data, "x").sorted_tables]
    assert first == second


def test_tenant_order_is_the_callers(policy: AclPolicy) -> None:
    forward = render(migration(policy, Isolation.BRIDGE, ["acme", "globex"]))
    backward = render(migration(policy, Isolation.BRIDGE, ["globex", "acme"]))
    assert forward != backward
    assert sorted(forward.splitlines()) == sorted(backward.splitlines())


def test_no_statement_is_built_by_formatting(policy: AclPolicy) -> None:
    """Hostile-looking tenant ids never reach SQL: they are refused before any statement is built."""
    from agent_acl import CompileError

    for bad in ("a'b", 'a"b', "a;b", "A", "a--b", "a b", "x" * 41):
        with pytest.raises(CompileError):
            migration(policy, Isolation.POOLED, [bad])
