"""The closed forms reduce to DESIGN.md's appendix vectors; the lease identity holds."""

from __future__ import annotations

import math

import pytest

from service.engine import (
    HOURS_PER_YEAR,
    economic_life_years,
    fair_lease_rate,
    income_value,
    levelised_rent_factor,
    opex_per_gpu_hour,
)
from service.engine.path import RentPath, UnitEconomics, end_of_life, value_at

R0, U, C, R = 2.35, 0.85, 0.43, 0.12


@pytest.mark.parametrize(
    ("lam", "life", "value"),
    [
        (0.10, 15.36, 50_406),
        (0.20, 7.68, 31_098),
        (0.25, 6.14, 26_050),
        (0.335, 4.58, 20_399),
        (0.50, 3.07, 14_343),
    ],
)
def test_appendix_table(lam: float, life: float, value: int) -> None:
    assert round(economic_life_years(R0, U, C, lam, rate=R, scrap=0.0), 2) == life
    assert round(income_value(R0, U, C, R, lam)) == value


@pytest.mark.parametrize(("u", "value"), [(0.60, 13_987), (1.00, 33_634)])
def test_utilisation_is_first_order(u: float, value: int) -> None:
    assert round(income_value(R0, u, C, R, 0.25)) == value


def test_three_year_lease_from_identity_equals_levelised_rent() -> None:
    path = RentPath.two_regime(R0, 0.25, None, 1.0, 0.25)
    unit = UnitEconomics(U, C, R, 0.0, 100.0)
    end = end_of_life(path, unit)
    v0, v3 = value_at(path, unit, 0.0, end), value_at(path, unit, 3.0, end)
    rate = fair_lease_rate(v0, v3, rate=R, years=3.0, cost=C)
    assert round(rate, 4) == 1.4367
    assert rate == pytest.approx(U * R0 * levelised_rent_factor(R, 0.25, 3.0), abs=1e-9)


def test_piecewise_path_reduces_to_closed_form() -> None:
    path = RentPath.two_regime(R0, 0.25, 2.0, 1.0, 0.25)  # a "step" of 1 changes nothing
    unit = UnitEconomics(U, C, R, 0.0, 100.0)
    assert value_at(path, unit, 0.0, end_of_life(path, unit)) == pytest.approx(
        income_value(R0, U, C, R, 0.25), rel=1e-12
    )


def test_opex_reproduces_the_h100_figure_and_its_parts() -> None:
    cost = opex_per_gpu_hour(
        700,
        server_overhead=1.82,
        pue=1.3,
        power_price_usd_per_kwh=0.08,
        colocation_usd_per_kw_month=150,
        operations_usd_per_gpu_hour=0.05,
    )
    power = 0.7 * 1.82 * 1.3 * 0.08
    colo = 0.7 * 1.82 * 150 * 12 / HOURS_PER_YEAR
    assert cost == pytest.approx(power + colo + 0.05)


def test_value_with_scrap_retires_when_rent_no_longer_beats_interest_on_scrap() -> None:
    scrap = 500.0
    life = economic_life_years(R0, U, C, 0.25, rate=R, scrap=scrap)
    assert U * R0 * math.exp(-0.25 * life) == pytest.approx(C + R * scrap / HOURS_PER_YEAR)
    assert income_value(R0, U, C, R, 0.25, scrap) > income_value(R0, U, C, R, 0.25)
