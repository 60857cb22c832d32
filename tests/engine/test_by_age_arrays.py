"""The array forms behind the fleet's many-age call equal their scalar forms at every age (to
1e-12 relative): survival and the remaining service life (:mod:`service.engine.unit`), and the
market and cost approaches of :class:`service.engine.approaches.Valuer`, from new to 600 months,
at the points of the survival integral's grid, at and around the physical life and the market
age, past both, and across the bounds of the assumptions that shape them."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from functools import cache

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.engine.approaches import Valuer
from service.engine.assumptions import Assumptions
from service.engine.by_age import ModelValues
from service.engine.errors import EngineInputError
from service.engine.unit import (
    _survival_integral,
    remaining_service_life_months,
    remaining_service_life_months_array,
    survival,
    survival_array,
)
from service.reference import calibration

AS_OF = date(2026, 6, 30)
REL = 1e-12


@cache
def _valuer() -> Valuer:
    cal = calibration(AS_OF)
    valuer = ModelValues(cal, cal.models["nvidia-h100-sxm5-80gb"], as_of=AS_OF)._valuer
    assert valuer.market is not None
    return valuer


def _ages(a: Assumptions, market_age: float, drawn: list[float]) -> np.ndarray:
    """Drawn ages with the edges: new, every point of the integral's grid and either side of
    it, the physical life and the market age and either side, past them, the cap."""
    life = a.physical_life_months
    grid, _ = _survival_integral(a)
    edges = [0.0, 5e-324, 1e-9, 600.0, np.nextafter(600.0, 0.0), life + 13.0]
    for point in (*grid, life, market_age, max(market_age, 12.0), 12.0):
        edges += [point, np.nextafter(point, -1.0), np.nextafter(point, 601.0)]
    ages = np.array([*edges, *drawn, *np.linspace(0.0, 600.0, 601)], dtype=np.float64)
    return ages[(ages >= 0.0) & (ages <= 600.0)]


def _same(ages: list[float], got: np.ndarray, want: list[float | None]) -> None:
    for age, g, w in zip(ages, got.tolist(), want, strict=True):
        assert w is not None
        assert math.isclose(g, w, rel_tol=REL, abs_tol=0.0), (age, g, w)


hazards = st.one_of(st.floats(0.0, 0.5), st.sampled_from([0.0, 1e-300, 0.5]))
growths = st.one_of(
    st.floats(0.0, 2.0), st.sampled_from([0.0, 5e-13, 1e-12, 2e-12, 1e-9, 1e-6, 2.0])
)
lives = st.one_of(st.floats(12.0, 240.0), st.sampled_from([12.0, 120.0, 240.0, 100.5]))
DEFAULTS = (0.02, 0.5, 120.0, 0.02, 0.0)


@settings(max_examples=150, deadline=None)
@given(
    hazards,
    growths,
    lives,
    st.floats(0.0, 0.5),
    st.floats(0.0, 600.0),
    st.lists(st.floats(0.0, 600.0), max_size=20),
)
@example(*DEFAULTS, [])
@example(0.5, 2.0, 240.0, 0.5, 600.0, [])  # the steepest hazard: survival underflows early
@example(0.5, 0.0, 12.0, 0.0, 0.0, [])  # no wear-out, shortest life, no scrap
@example(0.0, 0.0, 240.0, 0.0, 12.0, [])  # no hazard: survival 1 to the physical life
@example(0.3, 1e-13, 100.5, 0.02, 30.25, [])  # g under 1e-12: the exponential form
def test_array_forms_equal_the_scalar_forms(
    h0: float, g: float, life: float, scrap: float, market_age: float, drawn: list[float]
) -> None:
    a = Assumptions(
        failure_hazard_per_year=h0,
        hazard_growth_per_year=g,
        physical_life_months=life,
        scrap_fraction=scrap,
    )
    base = _valuer()
    valuer = replace(
        base,
        a=a,
        st=replace(base.st, unit=replace(base.st.unit, hazard0=h0, hazard_growth=g)),
        market_age=market_age,
    )
    ages = _ages(a, market_age, drawn)
    each = ages.tolist()
    _same(each, survival_array(a, ages), [survival(a, x) for x in each])
    _same(
        each,
        remaining_service_life_months_array(a, ages),
        [remaining_service_life_months(a, x) for x in each],
    )
    _same(each, valuer.cost_values(ages), [valuer.cost_value(x) for x in each])
    market = valuer.market_values(ages)
    assert market is not None
    _same(each, market, [valuer.market_value(x) for x in each])


def test_the_edges_the_scalar_forms_special_case() -> None:
    """0 life left at and past the physical life, and where survival underflows before it;
    the new price at age 0 and scrap at the life; no market approach without a sale model."""
    a = Assumptions(failure_hazard_per_year=0.5, hazard_growth_per_year=2.0)
    life = a.physical_life_months
    ages = np.array([0.0, life, life + 1.0, 600.0, 119.0])
    assert survival(a, 119.0) == 0.0  # underflowed a month before the physical life
    assert remaining_service_life_months_array(a, ages).tolist()[1:] == [0.0] * 4
    valuer = replace(_valuer(), a=a)
    cost = valuer.cost_values(ages).tolist()
    assert cost[0] == valuer.new_price
    assert cost[1:] == [valuer.new_price * a.scrap_fraction] * 4
    assert replace(valuer, market=None).market_values(ages) is None


def test_a_fleet_call_reports_the_first_age_out_of_bounds() -> None:
    cal = calibration(AS_OF)
    model = ModelValues(cal, cal.models["nvidia-h100-sxm5-80gb"], as_of=AS_OF)
    for bad in (math.nan, math.inf, -math.inf, -1e-300, 600.0000001):
        with pytest.raises(EngineInputError) as error:
            model.at([1.0, bad, 700.0])
        assert error.value.field == "age_months"
        assert repr(bad) in str(error.value)
