"""The tenant-closure check: it passes on the compiled policy and fails on every way to drop the predicate."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from agent_acl import AclPolicy, TenantClosureError, check_statements, check_tenant_closure, statement_violations
from agent_acl import compiler as compiler_module
from agent_acl.compiler import tenant_bind
from agent_acl.models import sa_table


@pytest.fixture
def tables(policy: AclPolicy) -> tuple[sa.Table, sa.Table, sa.Table]:
    return (
        sa_table(policy.data, "data", "invoices"),
        sa_table(policy.data, "data", "customers"),
        sa_table(policy.data, "data", "currencies"),
    )


def closed(statement: Any) -> bool:
    return statement_violations(statement) == []


def test_every_compiled_statement_of_the_example_is_closed(policy: AclPolicy) -> None:
    assert check_tenant_closure(policy) == sum(
        len(policy.workflow(w).steps) for a in policy.agents for w in a.workflows
    )


def test_broken_compiler_is_caught(policy: AclPolicy, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deliberately broken workflow compilation: the joined table loses its tenant predicate."""
    original = compiler_module.tenant_bind

    calls = {"n": 0}

    def leaky_join(left: Any, right: Any, onclause: Any = None, **kw: Any) -> Any:
        calls["n"] += 1
        kept = [c for c in onclause.clauses if "acl_tenant" not in str(c)]
        return sa.join(left, right, sa.and_(*kept), **kw)

    monkeypatch.setattr(
        sa.Table, "join", lambda self, right, onclause=None, **kw: leaky_join(self, right, onclause, **kw)
    )
    with pytest.raises(TenantClosureError) as info:
        check_tenant_closure(policy)
    assert calls["n"] >= 1
    violation = info.value.violations[0]
    assert violation.subject == "collector:collect_overdue.find_open"
    assert violation.table == "data.customers"
    assert compiler_module.tenant_bind is original


def test_broken_where_is_caught(policy: AclPolicy, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the compiler bound the tenant from a parameter instead of the trusted bind, the check fails."""
    monkeypatch.setattr(compiler_module, "tenant_bind", lambda: sa.bindparam("p_tenant", type_=sa.Text()))
    with pytest.raises(TenantClosureError) as info:
        check_tenant_closure(policy)
    subjects = {v.subject for v in info.value.violations}
    assert "support_bot:support.open_invoice" in subjects
    assert "support_bot:void.void_invoice" in subjects


def test_closed_shapes(tables: tuple[sa.Table, sa.Table, sa.Table]) -> None:
    inv, cus, cur = tables
    t = tenant_bind()
    assert closed(sa.select(inv.c.id).where(inv.c.tenant_id == t))
    assert closed(sa.select(inv.c.id).where(t == inv.c.tenant_id, inv.c.amount_cents > 5))
    assert closed(sa.select(cur.c.code))  # shared table
    assert closed(
        sa.select(inv.c.id)
        .select_from(inv.join(cus, sa.and_(inv.c.customer_id == cus.c.id, cus.c.tenant_id == t)))
        .where(inv.c.tenant_id == t)
    )
    assert closed(
        sa.select(inv.c.id).where(
            inv.c.tenant_id == t, inv.c.customer_id.in_(sa.select(cus.c.id).where(cus.c.tenant_id == t))
        )
    )
    assert closed(sa.update(inv).where(inv.c.tenant_id == t, inv.c.id == 1).values(status="x"))
    assert closed(sa.delete(inv).where(sa.and_(inv.c.id == 1, inv.c.tenant_id == t)))
    assert closed(sa.insert(inv).values(tenant_id=t, customer_id=1, amount_cents=1))


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda inv, cus, t: sa.select(inv.c.id), id="no-where"),
        pytest.param(lambda inv, cus, t: sa.select(inv.c.id).where(inv.c.tenant_id == "acme"), id="literal-tenant"),
        pytest.param(
            lambda inv, cus, t: sa.select(inv.c.id).where(inv.c.tenant_id == sa.bindparam("tenant")),
            id="untrusted-bind",
        ),
        pytest.param(
            lambda inv, cus, t: sa.select(inv.c.id).where(sa.or_(inv.c.tenant_id == t, inv.c.id == 1)), id="under-or"
        ),
        pytest.param(
            lambda inv, cus, t: sa.select(inv.c.id).where(sa.func.coalesce(inv.c.tenant_id == t, sa.true())),
            id="wrapped-in-function",
        ),
        pytest.param(lambda inv, cus, t: sa.select(inv.c.id).where(inv.c.tenant_id != t), id="not-equal"),
        pytest.param(lambda inv, cus, t: sa.select(inv.c.id).where(cus.c.tenant_id == t), id="other-table"),
        pytest.param(
            lambda inv, cus, t: (
                sa.select(inv.c.id)
                .select_from(inv.join(cus, inv.c.customer_id == cus.c.id))
                .where(inv.c.tenant_id == t)
            ),
            id="join-unfiltered",
        ),
        pytest.param(
            lambda inv, cus, t: (
                sa.select(inv.c.id)
                .select_from(inv.outerjoin(cus, sa.and_(inv.c.customer_id == cus.c.id, inv.c.tenant_id == t)))
                .where(cus.c.tenant_id == t)
            ),
            id="left-join-preserved-side",
        ),
        pytest.param(
            lambda inv, cus, t: sa.select(inv.c.id).select_from(
                inv.join(
                    cus, sa.and_(inv.c.customer_id == cus.c.id, cus.c.tenant_id == t, inv.c.tenant_id == t), full=True
                )
            ),
            id="full-join",
        ),
        pytest.param(
            lambda inv, cus, t: sa.select(inv.c.id).where(
                inv.c.tenant_id == t, inv.c.customer_id.in_(sa.select(cus.c.id))
            ),
            id="in-subquery",
        ),
        pytest.param(
            lambda inv, cus, t: sa.select(
                inv.c.id, sa.select(sa.func.count()).select_from(cus).scalar_subquery()
            ).where(inv.c.tenant_id == t),
            id="scalar-subquery",
        ),
        pytest.param(
            lambda inv, cus, t: (
                sa.select(inv.c.id)
                .where(inv.c.tenant_id == t)
                .where(sa.exists(sa.select(cus.c.id).where(cus.c.id == inv.c.customer_id)))
            ),
            id="exists",
        ),
        pytest.param(lambda inv, cus, t: (lambda c: sa.select(c.c.id))(sa.select(inv.c.id).cte("c")), id="cte"),
        pytest.param(
            lambda inv, cus, t: (lambda s: sa.select(s.c.id))(sa.select(inv.c.id).subquery()), id="derived-table"
        ),
        pytest.param(
            lambda inv, cus, t: sa.union(sa.select(inv.c.id).where(inv.c.tenant_id == t), sa.select(cus.c.id)),
            id="union",
        ),
        pytest.param(
            lambda inv, cus, t: (lambda a: sa.select(a.c.id).where(inv.c.tenant_id == t))(inv.alias("x")),
            id="alias-vs-base",
        ),
        pytest.param(lambda inv, cus, t: sa.select(sa.text("id")).select_from(sa.text("data.invoices")), id="text"),
        pytest.param(
            lambda inv, cus, t: sa.select(sa.column("id")).select_from(sa.table("invoices", schema="data")),
            id="lightweight-table",
        ),
        pytest.param(lambda inv, cus, t: sa.update(inv).where(inv.c.id == 1).values(status="x"), id="update-no-tenant"),
        pytest.param(
            lambda inv, cus, t: sa.update(inv).where(inv.c.tenant_id == t).values(tenant_id="globex"),
            id="update-moves-tenant",
        ),
        pytest.param(
            lambda inv, cus, t: (
                sa.update(inv).where(inv.c.tenant_id == t, inv.c.customer_id == cus.c.id).values(status="x")
            ),
            id="update-from-unfiltered",
        ),
        pytest.param(lambda inv, cus, t: sa.delete(inv).where(inv.c.id > 0), id="delete-no-tenant"),
        pytest.param(
            lambda inv, cus, t: sa.insert(inv).values(tenant_id="globex", customer_id=1, amount_cents=1),
            id="insert-literal-tenant",
        ),
        pytest.param(lambda inv, cus, t: sa.insert(inv).values(customer_id=1, amount_cents=1), id="insert-no-tenant"),
        pytest.param(
            lambda inv, cus, t: sa.insert(inv).from_select(
                ["tenant_id", "customer_id", "amount_cents"], sa.select(inv.c.tenant_id, inv.c.customer_id, inv.c.id)
            ),
            id="insert-select",
        ),
    ],
)
def test_open_shapes_are_violations(build: Any, tables: tuple[sa.Table, sa.Table, sa.Table]) -> None:
    inv, cus, _ = tables
    statement = build(inv, cus, tenant_bind())
    assert not closed(statement)
    with pytest.raises(TenantClosureError):
        check_statements([("case", statement)])
