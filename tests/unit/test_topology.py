"""Plan → topology resolution: pure, deterministic, within every provider's naming rules."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paybill_infra.errors import TopologyError
from paybill_infra.schema import SLUG_MAX, Cloud, Isolation, Plan, Tenant
from paybill_infra.topology import CloudDefaults, NameKind, make_name, names_for, resolve_topology
from paybill_infra.topology.naming import RULES, Alphabet, NameRule

slugs = st.from_regex(r"[b-z][a-z0-9]{2,24}(-[a-z0-9]{1,6}){0,2}", fullmatch=True).filter(lambda s: len(s) <= SLUG_MAX)
ALPHABETS = {
    Alphabet.SQL: re.compile(r"^[a-z][a-z0-9_]*$"),
    Alphabet.DNS: re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$"),
    Alphabet.ALNUM: re.compile(r"^[a-z][a-z0-9]*$"),
    Alphabet.LABEL: re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]*$"),
}


def plan(isolation: str = "silo", **kw: object) -> Plan:
    return Plan.model_validate(
        {
            "name": "pro",
            "tier": 3,
            "isolation": isolation,
            "price": {"amount": "1", "currency": "USD"},
            "billing_id": "x",
            **kw,
        }
    )


def defaults(cloud: Cloud = Cloud.AWS, **kw: object) -> CloudDefaults:
    return CloudDefaults.model_validate(
        {"cloud": cloud, "region": "eu-west-1", "allowed_regions": ["eu-west-1", "us-east-1"], **kw}
    )


@given(slugs, st.sampled_from(list(Cloud)))
@settings(max_examples=150)
def test_names_respect_every_rule(slug: str, cloud: Cloud) -> None:
    names = names_for(cloud, slug)
    for kind, name in names.items():
        rule = RULES[cloud][kind]
        assert rule.min_len <= len(name) <= rule.max_len, (kind, name)
        assert ALPHABETS[rule.alphabet].match(name), (kind, name)


@pytest.mark.parametrize("cloud", list(Cloud))
def test_longest_slug_is_shortened_with_a_hash(cloud: Cloud) -> None:
    long_a, long_b = "a" * 39 + "b", "a" * 39 + "c"
    a, b = names_for(cloud, long_a), names_for(cloud, long_b)
    for kind in NameKind:
        rule = RULES[cloud][kind]
        assert len(a[kind]) <= rule.max_len
        assert a[kind] != b[kind], f"{cloud}/{kind}: distinct long slugs collided"
    if cloud is Cloud.AZURE:
        assert len(a[NameKind.BUCKET]) == 24 and a[NameKind.BUCKET].isalnum()


@given(
    st.lists(st.text(alphabet="abcxyz-_019", min_size=1, max_size=80), min_size=1, max_size=4),
    st.integers(min_value=12, max_value=80),
)
def test_make_name_is_deterministic_and_bounded(parts: list[str], limit: int) -> None:
    rule = NameRule(limit, Alphabet.DNS)
    assert make_name(rule, *parts) == make_name(rule, *parts)
    assert len(make_name(rule, *parts)) <= limit


@given(slugs, st.sampled_from(list(Isolation)))
@settings(max_examples=60)
def test_resolution_is_deterministic(slug: str, isolation: Isolation) -> None:
    tenant = Tenant(slug=slug, display_name="T", plan="pro")
    a = resolve_topology(plan(isolation.value), tenant, defaults())
    b = resolve_topology(plan(isolation.value), tenant, defaults())
    assert a == b and a.fingerprint == b.fingerprint
    assert a.tags["paybill:tenant"] == slug and a.tags["managed-by"] == "paybill-infra"
    assert a.deletion_protection is (isolation is Isolation.SILO)


def test_fingerprint_tracks_every_input() -> None:
    tenant = Tenant(slug="acme", display_name="Acme", plan="pro")
    base = resolve_topology(plan(), tenant, defaults())
    assert resolve_topology(plan(tier=4), tenant, defaults()).fingerprint != base.fingerprint
    moved = tenant.model_copy(update={"region": "us-east-1"})
    assert resolve_topology(plan(), moved, defaults()).fingerprint != base.fingerprint
    tagged = tenant.model_copy(update={"tags": {"team": "a"}})
    assert resolve_topology(plan(), tagged, defaults()).fingerprint != base.fingerprint


def test_sizing_follows_plan_and_overrides() -> None:
    tenant = Tenant(slug="acme", display_name="Acme", plan="pro")
    topo = resolve_topology(plan(limits={"database_size": "large"}), tenant, defaults())
    assert topo.sizing.instance_class == "db.r7g.2xlarge" and topo.sizing.dedicated_server
    custom = defaults(instance_classes={"large": "db.m7g.large"})
    assert (
        resolve_topology(plan(limits={"database_size": "large"}), tenant, custom).sizing.instance_class
        == "db.m7g.large"
    )
    assert not resolve_topology(plan("bridge"), tenant, defaults()).sizing.dedicated_server
    assert resolve_topology(plan("bridge", dedicated_server=True), tenant, defaults()).sizing.dedicated_server


@pytest.mark.parametrize(
    ("tenant_kw", "defaults_kw", "plan_kw", "needle"),
    [
        ({"region": "ap-south-9"}, {}, {}, "unknown region 'ap-south-9'"),
        ({"cloud": "gcp"}, {}, {}, "this stack runs 'aws'"),
        ({}, {"isolations": ["pooled"]}, {}, "needs silo isolation"),
        ({"plan": "other"}, {}, {}, "resolved with 'pro'"),
    ],
)
def test_unresolvable_combinations(
    tenant_kw: dict[str, object], defaults_kw: dict[str, object], plan_kw: dict[str, object], needle: str
) -> None:
    tenant = Tenant.model_validate({"slug": "acme", "display_name": "A", "plan": "pro", **tenant_kw})
    with pytest.raises(TopologyError, match=needle):
        resolve_topology(plan(**plan_kw), tenant, defaults(**defaults_kw))


def test_topology_package_does_not_import_pulumi() -> None:
    code = "import sys, paybill_infra.topology, paybill_infra.catalog; print('pulumi' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
