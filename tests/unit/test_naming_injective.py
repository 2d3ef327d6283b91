"""The in-database naming scheme is injective across tenants, kinds and targets (issue 10, item 1).

A collision is an attack there: a bridge tenant ``x-app`` used to get schema ``t_x_app``, the login role of
tenant ``x``, and so captured ``x``'s ``"$user"`` search path. These properties run over generated pairs of
*valid* slugs (the same rules :class:`~paybill_infra.schema.Tenant` enforces).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from paybill_infra.controlplane.stacks import pool_database, pool_owner, tenant_role
from paybill_infra.errors import InvalidInputError
from paybill_infra.local import sql as q
from paybill_infra.schema import Cloud, Plan
from paybill_infra.schema.identifiers import SLUG_PATTERN, is_valid_slug
from paybill_infra.topology.naming import DATABASE_KINDS, RULES, Alphabet, NameKind, NameRule, names_for, scoped_name

slugs = st.from_regex(SLUG_PATTERN, fullmatch=True).filter(is_valid_slug)
near_slugs = st.from_regex(r"[a-z]{1,3}(-(app|g[0-9]|[a-z0-9]{1,3})){0,3}", fullmatch=True).filter(is_valid_slug)
"""Short slugs made of the pieces that used to collide (``x`` / ``x-app`` / ``x-g1``), so pairs share prefixes."""
any_slug = st.one_of(slugs, near_slugs)
plans = st.from_regex(r"[a-z][a-z0-9]{1,8}(-[a-z0-9]{1,5}){0,2}", fullmatch=True)
GENERATIONS = (0, 1, 2, 9, 10, 123_456)
PLATFORM_NAMES = {q.SHARED_DATABASE, q.OWNER_ROLE, q.CONTROL_SCHEMA, q.POOLED_SCHEMA, q.SILO_SCHEMA, "public"}


def tenant_names(cloud: Cloud, slug: str) -> dict[str, str]:
    """Every name of ``slug`` a target realises in a shared namespace: on the local target every kind plus
    the control plane's migrated roles; on a cloud its database-level names (roles, schemas, databases)."""
    names = names_for(cloud, slug)
    kinds = list(NameKind) if cloud is Cloud.LOCAL else list(DATABASE_KINDS)
    out = {f"{kind}": names[kind] for kind in kinds}
    if cloud is Cloud.LOCAL:
        out |= {f"role@g{g}": tenant_role(slug, g) for g in GENERATIONS}
    return out


@given(any_slug, any_slug, st.sampled_from(list(Cloud)))
@settings(max_examples=400)
def test_no_name_of_one_tenant_equals_any_name_of_another(a: str, b: str, cloud: Cloud) -> None:
    assume(a != b)
    names_a, names_b = tenant_names(cloud, a), tenant_names(cloud, b)
    shared = set(names_a.values()) & set(names_b.values())
    assert not shared, f"{cloud}: {a!r} and {b!r} share {shared}"


@given(any_slug, st.sampled_from(list(Cloud)))
@settings(max_examples=200)
def test_database_names_are_distinct_per_kind_and_within_limits(slug: str, cloud: Cloud) -> None:
    names = names_for(cloud, slug)
    db_names = [names[kind] for kind in DATABASE_KINDS]
    assert len(set(db_names)) == len(db_names), "a role, a schema and a database of one tenant share a name"
    for kind in DATABASE_KINDS:
        rule = RULES[cloud][kind]
        assert len(names[kind]) <= rule.max_len and re.fullmatch(r"[a-z][a-z0-9_]*", names[kind])
    for generation in GENERATIONS:
        assert len(tenant_role(slug, generation)) <= 63


@given(any_slug, plans, st.integers(min_value=0, max_value=999))
@settings(max_examples=200)
def test_tenant_names_never_equal_pool_or_platform_names(slug: str, plan: str, ordinal: int) -> None:
    names = set(tenant_names(Cloud.LOCAL, slug).values())
    assert not names & (PLATFORM_NAMES | {pool_database(plan, ordinal), pool_owner(plan, ordinal)})


@given(plans, plans, st.integers(min_value=0, max_value=999), st.integers(min_value=0, max_value=999))
def test_pool_names_are_injective(plan_a: str, plan_b: str, ord_a: int, ord_b: int) -> None:
    assume((plan_a, ord_a) != (plan_b, ord_b))
    a = {pool_database(plan_a, ord_a), pool_owner(plan_a, ord_a)}
    b = {pool_database(plan_b, ord_b), pool_owner(plan_b, ord_b)}
    assert not a & b


@given(
    any_slug,
    any_slug,
    st.lists(st.sampled_from(["g1", "g22", "001", "007"]), max_size=2),
    st.lists(st.sampled_from(["g1", "g22", "001", "007"]), max_size=2),
    st.integers(min_value=16, max_value=40),
)
@settings(max_examples=400)
def test_hash_truncation_keeps_injectivity(a: str, b: str, sa: list[str], sb: list[str], limit: int) -> None:
    """With a limit far below the real 63 bytes, most names are truncated: still no two inputs meet."""
    assume((a, sa) != (b, sb))
    rule = NameRule(limit, Alphabet.SQL)
    name_a, name_b = scoped_name(rule, "r", a, *sa), scoped_name(rule, "r", b, *sb)
    assert len(name_a) <= limit and len(name_b) <= limit
    assert name_a != name_b
    for name, slug, suffixes in ((name_a, a, sa), (name_b, b, sb)):
        untruncated = "r_" + slug.replace("-", "_") + "".join("__" + s for s in suffixes)
        if name != untruncated:
            assert re.search(r"__h[0-9a-f]{10}$", name), name


def test_the_collisions_of_the_issue_are_gone() -> None:
    local = {slug: names_for(Cloud.LOCAL, slug) for slug in ("zeta", "zeta-app", "acme", "acme-g1")}
    assert local["zeta-app"][NameKind.SCHEMA] != local["zeta"][NameKind.DB_USER]
    assert local["zeta"][NameKind.DB_USER] == tenant_role("zeta", 0) == "r_zeta"
    assert local["zeta-app"][NameKind.SCHEMA] == "s_zeta_app"
    assert tenant_role("acme", 1) == "r_acme__g1" != local["acme-g1"][NameKind.DB_USER] == "r_acme_g1"
    assert (pool_database("starter", 1), pool_owner("starter", 1)) == ("pool_starter__001", "poolowner_starter__001")


@pytest.mark.parametrize("body", ["a--b", "A", "-a", "a-", "a_b", ""])
def test_bodies_outside_the_slug_alphabet_are_refused(body: str) -> None:
    with pytest.raises(InvalidInputError, match="body"):
        scoped_name(RULES[Cloud.LOCAL][NameKind.SCHEMA], "s", body)
    assert not is_valid_slug(body)


def test_negative_generation_and_ordinal_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="generation"):
        tenant_role("acme", -1)
    with pytest.raises(InvalidInputError, match="ordinal"):
        pool_database("starter", -1)


@pytest.mark.parametrize("name", ["gold--eu", "a--b"])
def test_plan_names_with_a_double_hyphen_are_refused(name: str) -> None:
    """A plan name is the body of its pool names, so it obeys the slug rule that keeps ``__`` for suffixes."""
    with pytest.raises(ValidationError, match="name"):
        Plan.model_validate(
            {
                "name": name,
                "tier": 1,
                "isolation": "pooled",
                "price": {"amount": "1", "currency": "USD"},
                "billing_id": "x",
            }
        )
