"""Waves and budgets: parsing with typed errors naming the argument, and deterministic assignment."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paybill_infra.controlplane.models import validate
from paybill_infra.errors import InvalidInputError, RolloutSpecError
from paybill_infra.rollouts.models import RolloutRequest
from paybill_infra.rollouts.waves import UnitRef, WavePlan, assign, parse_budget, parse_waves

GROUPS = ("pooled", "bridge", "silo")


def fleet(n: int) -> list[UnitRef]:
    return [UnitRef(key=f"{GROUPS[i % 3]}:{i}", group=GROUPS[i % 3], label=str(i)) for i in range(n)]


def test_the_usual_spec_parses_and_prints_back() -> None:
    plan = parse_waves("canary, 10%,50%,100%")
    assert plan == WavePlan(canary=True, percents=(10, 50, 100))
    assert str(plan) == "canary,10%,50%,100%"
    assert parse_waves("100%") == WavePlan(canary=False, percents=(100,))


@pytest.mark.parametrize(
    ("spec", "where", "words"),
    [
        ("10%,canary,100%", "waves[1]", "first"),
        ("canary,50%", "waves[1]", "last wave must be '100%'"),
        ("canary,50%,40%,100%", "waves[2]", "must grow"),
        ("canary,0%,100%", "waves[1]", "1%..100%"),
        ("canary,150%", "waves[1]", "1%..100%"),
        ("canary,ten,100%", "waves[1]", "percentage like"),
        ("", "waves[0]", "percentage like"),
    ],
)
def test_bad_specs_name_the_argument_and_the_step(spec: str, where: str, words: str) -> None:
    with pytest.raises(RolloutSpecError) as caught:
        parse_waves(spec, "--waves")
    assert caught.value.source == "--waves"
    assert any(p.path == where and words in p.message for p in caught.value.problems), caught.value


@pytest.mark.parametrize("budget", [-1, 1_000_001, True])
def test_bad_budgets_are_refused(budget: int) -> None:
    with pytest.raises(RolloutSpecError, match="--error-budget"):
        parse_budget(budget, "--error-budget")


def test_a_request_with_bad_waves_names_the_field() -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate(RolloutRequest, {"kind": "schema", "waves": "canary,50%", "error_budget": -2}, "rollout request")
    assert {p.path for p in caught.value.problems} == {"waves", "error_budget"}


def test_canary_is_one_unit_per_group_then_cumulative_percentages() -> None:
    units = fleet(40)
    waves = assign(units, parse_waves("canary,10%,50%,100%"))
    assert [w.label for w in waves] == ["canary", "10%", "50%", "100%"]
    assert sorted(u.group for u in waves[0].units) == sorted(GROUPS)
    sizes = [len(w.units) for w in waves]
    assert sizes == [3, 1, 16, 20]  # ceil(10% of 40) = 4 done after wave 2, 20 after wave 3
    assert waves == assign(list(reversed(units)), parse_waves("canary,10%,50%,100%"))


@given(n=st.integers(0, 300), spec=st.sampled_from(["canary,10%,50%,100%", "100%", "canary,1%,2%,100%", "25%,100%"]))
def test_every_unit_is_in_exactly_one_wave_and_percentages_hold(n: int, spec: str) -> None:
    plan = parse_waves(spec)
    waves = assign(fleet(n), plan)
    keys = [u.key for w in waves for u in w.units]
    assert sorted(keys) == sorted(u.key for u in fleet(n))
    assert all(w.units for w in waves)
    done = 0
    for wave in waves:
        done += len(wave.units)
        if wave.label.endswith("%"):
            assert done == max(math.ceil(int(wave.label[:-1]) * n / 100), min(n, 3) if plan.canary else 0)
