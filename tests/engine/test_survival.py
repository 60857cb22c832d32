"""The survival curve behind a unit's life: its mean, the life left at each age, and the cost
approach's age-life depreciation on it."""

from __future__ import annotations

import itertools
import math
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.engine import residual
from service.engine.assumptions import Assumptions
from service.engine.unit import remaining_service_life_months, survival
from service.reference import calibration, spec


def test_without_wear_out_the_mean_life_is_the_exponential_closed_form() -> None:
    """g = 0: S(x) = e^(-h·x), so E[min(T, L)] = (1 - e^(-h·L))/h (years)."""
    a = Assumptions(failure_hazard_per_year=0.2, hazard_growth_per_year=0.0)
    years = a.physical_life_months / 12
    expected = (1 - math.exp(-0.2 * years)) / 0.2 * 12
    assert remaining_service_life_months(a, 0.0) == pytest.approx(expected, rel=1e-9)
    # memoryless: the life left at any age is the same truncated mean over what remains
    left = (1 - math.exp(-0.2 * (years - 3))) / 0.2 * 12
    assert remaining_service_life_months(a, 36.0) == pytest.approx(left, rel=1e-6)


def test_the_default_curve_retires_half_the_units_by_about_six_years() -> None:
    a = Assumptions()
    assert survival(a, 0.0) == 1.0
    assert 0.45 < survival(a, 72.0) < 0.5  # the operators' five-to-six-year books
    assert 0.1 < survival(a, 96.0) < 0.14  # a V100 still renting at eight years is not rare
    assert survival(a, a.physical_life_months) == 0.0
    assert remaining_service_life_months(a, a.physical_life_months) == 0.0
    assert 60.0 < remaining_service_life_months(a, 0.0) < 72.0


@given(
    st.floats(0.0, 0.3),
    st.floats(0.0, 1.5),
    st.floats(24.0, 240.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
)
def test_age_plus_life_left_grows_and_the_share_used_rises_with_age(
    h0: float, g: float, life: float, first: float, second: float
) -> None:
    """A unit that has survived to an older age is expected to last at least as long in total,
    yet has used up more of that total: the age-life depreciation never falls with age."""
    a = Assumptions(failure_hazard_per_year=h0, hazard_growth_per_year=g, physical_life_months=life)
    young, old = sorted((first * life * 0.999, second * life * 0.999))
    left_young = remaining_service_life_months(a, young)
    left_old = remaining_service_life_months(a, old)
    assert 0.0 <= left_old <= left_young + 1e-9
    if survival(a, old) > 1e-9:  # beyond, no unit is left to have a life (it reads 0)
        assert left_old > 0.0
        assert young + left_young <= old + left_old + 1e-6
    used = [age / (age + left) for age, left in ((young, left_young), (old, left_old))]
    assert used[0] <= used[1] + 1e-12


def test_the_cost_approach_runs_from_the_new_price_to_scrap_on_that_curve() -> None:
    on = date(2026, 6, 25)
    r = residual(calibration(on), spec("nvidia-h100-sxm5-80gb"), as_of=on, include_curve=True)
    assert r.curve is not None
    a = Assumptions()
    costs = []
    for age in (0, 24, 48, 96, 120):
        one = residual(
            calibration(on), spec("nvidia-h100-sxm5-80gb"), as_of=on, age_months=float(age)
        )
        cost = one.approaches.cost
        left = remaining_service_life_months(a, float(age))
        share = age / (age + left) if age + left else 1.0
        new = one.components["new_equivalent_price"]
        assert cost == pytest.approx(
            new * (a.scrap_fraction + (1 - a.scrap_fraction) * (1 - share)), rel=1e-9
        )
        costs.append(cost)
    assert all(b < a_ for a_, b in itertools.pairwise(costs))


@pytest.mark.parametrize("age", [0.0, 12.5, 100.0, 600.0])
def test_the_steepest_hazard_the_bounds_allow_still_gives_a_finite_positive_value(
    age: float,
) -> None:
    """With h0 = 0.5 and g = 2 (the bounds) survival underflows to 0 long before the market
    age of an old part; its used price still moves with the ratio of survivals (once a
    0/0 and a 500 through the API's overrides)."""
    on = date(2026, 6, 30)
    steep = Assumptions(
        failure_hazard_per_year=0.5, hazard_growth_per_year=2.0, physical_life_months=240.0
    )
    for slug in ("nvidia-v100-sxm2-32gb", "nvidia-h100-sxm5-80gb"):
        r = residual(calibration(on), spec(slug), as_of=on, age_months=age, assumptions=steep)
        assert all(math.isfinite(x) and x > 0 for x in (r.value_per_gpu, r.low, r.high))
