"""The owner's economics of one unit: opex, discount rate, scrap, physical life left and the
failure hazard at its age (shared by the calibration and the answers)."""

from __future__ import annotations

import bisect
import itertools
import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from service.engine.assumptions import Assumptions
from service.engine.income import HOURS_PER_YEAR, annuity, opex_per_gpu_hour
from service.engine.path import UnitEconomics
from service.engine.types import ModelSpec

__all__ = [
    "capacity_charge_per_gpu_hour",
    "remaining_service_life_months",
    "remaining_service_life_months_array",
    "survival",
    "survival_array",
    "unit_ages",
    "unit_of",
]

_MONTHS_PER_YEAR = 12.0

Floats = npt.NDArray[np.float64]


def capacity_charge_per_gpu_hour(capital: float, a: Assumptions) -> float:
    """``K·r / (1 - e^(-r·L)) / H``: the level continuous annuity that repays ``K`` over the
    physical life L at the discount rate r (H = 8,760 hours a year)."""
    years = a.physical_life_months / _MONTHS_PER_YEAR
    return capital / annuity(a.discount_rate, years) / HOURS_PER_YEAR


def _gompertz(a: Assumptions, age_months: float) -> float:
    x = age_months / _MONTHS_PER_YEAR
    h0, g = a.failure_hazard_per_year, a.hazard_growth_per_year
    if abs(g) < 1e-12:
        return math.exp(-h0 * x)
    return math.exp(-h0 / g * math.expm1(g * x))


def survival(a: Assumptions, age_months: float) -> float:
    """The share of new units still working at ``age_months``: the Gompertz survival
    ``S(x) = exp(-h0/g·(e^(g·x) - 1))`` (x in years; ``exp(-h0·x)`` when g = 0), 0 from the
    physical life on (the hazard of :class:`service.engine.path.UnitEconomics`, from new)."""
    if age_months >= a.physical_life_months:
        return 0.0
    return _gompertz(a, age_months)


def survival_array(a: Assumptions, ages_months: Floats) -> Floats:
    """:func:`survival` at each of ``ages_months``, its array form (NumPy): the Gompertz
    ``S(x) = exp(-h0/g·(e^(g·x) - 1))`` (x in years; ``exp(-h0·x)`` when g = 0), 0 from the
    physical life on, in the same operations and order (NumPy's exp and expm1 may differ from
    the math module's in the last bit)."""
    x = ages_months / _MONTHS_PER_YEAR
    h0, g = a.failure_hazard_per_year, a.hazard_growth_per_year
    alive = np.exp(-h0 * x) if abs(g) < 1e-12 else np.exp(-h0 / g * np.expm1(g * x))
    return np.where(ages_months >= a.physical_life_months, 0.0, alive)


@lru_cache(maxsize=64)  # per set of assumptions; overrides make new ones
def _survival_integral(a: Assumptions) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``(x, I(x))`` with ``I(x) = ∫_0^x S`` (months) at x = 0, 1, ... and the physical life,
    by Simpson's rule on four sub-steps a month (S is smooth: exact to a few seconds)."""
    life = a.physical_life_months
    grid = [float(m) for m in range(math.ceil(life))] + [life]
    integral = [0.0]
    for start, end in itertools.pairwise(grid):
        width = (end - start) / 4
        weights = (1, 4, 2, 4, 1)
        points = (_gompertz(a, start + k * width) for k in range(5))
        integral.append(
            integral[-1] + width / 3 * sum(w * p for w, p in zip(weights, points, strict=True))
        )
    return tuple(grid), tuple(integral)


def _integral_to(a: Assumptions, age_months: float) -> float:
    """``I(age)``, linear between the monthly points of :func:`_survival_integral`."""
    grid, integral = _survival_integral(a)
    age = min(max(age_months, 0.0), grid[-1])
    m = min(bisect.bisect_right(grid, age) - 1, len(grid) - 2)
    share = (age - grid[m]) / (grid[m + 1] - grid[m])
    return integral[m] + (integral[m + 1] - integral[m]) * share


def _integral_to_array(a: Assumptions, ages_months: Floats) -> Floats:
    """:func:`_integral_to` at each of ``ages_months``: ``I(age)``, linear between the monthly
    points of :func:`_survival_integral` (``np.searchsorted`` for ``bisect_right``), ages
    clamped to ``[0, L]``."""
    grid_, integral_ = _survival_integral(a)
    grid, integral = np.array(grid_), np.array(integral_)
    age = np.minimum(np.maximum(ages_months, 0.0), grid[-1])
    m = np.minimum(np.searchsorted(grid, age, side="right") - 1, len(grid) - 2)
    share = (age - grid[m]) / (grid[m + 1] - grid[m])
    result: Floats = integral[m] + (integral[m + 1] - integral[m]) * share
    return result


def remaining_service_life_months(a: Assumptions, age_months: float) -> float:
    """The expected working life left to a unit of ``age_months`` that still works,
    ``∫_a^L S(x) dx / S(a)`` (the mean residual life of a lifetime truncated at the physical
    life L); at age 0 it is the mean service life ``E[min(T, L)]``."""
    alive = survival(a, age_months)
    if alive <= 0.0:
        return 0.0
    return (_integral_to(a, a.physical_life_months) - _integral_to(a, age_months)) / alive


def remaining_service_life_months_array(a: Assumptions, ages_months: Floats) -> Floats:
    """:func:`remaining_service_life_months` at each of ``ages_months``, its array form
    (NumPy): ``∫_a^L S(x) dx / S(a)``, the mean residual life of a lifetime truncated at the
    physical life L, from the same cached integral; 0 where no unit is left (``S(a) = 0``: at
    and past L, or where the survival underflows)."""
    alive = survival_array(a, ages_months)
    ahead = _integral_to(a, a.physical_life_months) - _integral_to_array(a, ages_months)
    left: Floats = np.divide(ahead, alive, out=np.zeros_like(alive), where=alive > 0.0)
    return left


def unit_of(
    spec: ModelSpec, a: Assumptions, scrap: float, age_months: float, capacity: float
) -> UnitEconomics:
    """The owner's economics of a unit of ``age_months``: opex (running cost plus the capital
    charge of ``capacity``, the capacity cost calibrated to new-unit prices), rate, scrap,
    life left, hazard."""
    cost = capacity_charge_per_gpu_hour(capacity, a) + opex_per_gpu_hour(
        spec.tdp_w,
        server_overhead=a.server_overhead,
        pue=a.pue,
        power_price_usd_per_kwh=a.power_price_usd_per_kwh,
        colocation_usd_per_kw_month=a.colocation_usd_per_kw_month,
        operations_usd_per_gpu_hour=a.operations_usd_per_gpu_hour,
    )
    life_left = max(a.physical_life_months - age_months, 0.0) / _MONTHS_PER_YEAR
    return UnitEconomics(
        a.utilisation,
        cost,
        a.discount_rate,
        scrap,
        life_left,
        age_months / _MONTHS_PER_YEAR,
        a.failure_hazard_per_year,
        a.hazard_growth_per_year,
    )


def unit_ages(a: Assumptions, ages_months: Floats) -> tuple[Floats, Floats]:
    """The fields of :func:`unit_of` that depend on the age, at each of ``ages_months`` (its
    array form; every other field is the same at any age): life left to the physical life and
    age, in years, by the same operations."""
    life_left: Floats = np.maximum(a.physical_life_months - ages_months, 0.0) / _MONTHS_PER_YEAR
    age: Floats = ages_months / _MONTHS_PER_YEAR
    return life_left, age
