"""The owner's economics of one unit: opex, discount rate, scrap, physical life left and the
failure hazard at its age (shared by the calibration and the answers)."""

from __future__ import annotations

from service.engine.assumptions import Assumptions
from service.engine.income import HOURS_PER_YEAR, annuity, opex_per_gpu_hour
from service.engine.path import UnitEconomics
from service.engine.types import ModelSpec

__all__ = ["capacity_charge_per_gpu_hour", "unit_of"]

_MONTHS_PER_YEAR = 12.0


def capacity_charge_per_gpu_hour(capital: float, a: Assumptions) -> float:
    """``K·r / (1 - e^(-r·L)) / H``: the level continuous annuity that repays ``K`` over the
    physical life L at the discount rate r (H = 8,760 hours a year)."""
    years = a.physical_life_months / _MONTHS_PER_YEAR
    return capital / annuity(a.discount_rate, years) / HOURS_PER_YEAR


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
