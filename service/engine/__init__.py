"""The pure valuation engine: stdlib + NumPy, no web, ORM, clock or I/O (DESIGN.md 4).

Callers build inputs (:class:`ModelSpec`, :class:`Observation`, :class:`FxRate`,
:class:`FrontierEntry`), :func:`calibrate` once per data version and ``as_of``, then call
:func:`quote` and :func:`residual` as often as they like with per-request
:class:`Assumptions`. :func:`backtest` walks the same engine forward through history.
"""

from service.engine.assumptions import ASSUMPTIONS, Assumptions, AssumptionSpec
from service.engine.backtest import BacktestReport, ErrorStats, backtest
from service.engine.calibration import Calibration, calibrate
from service.engine.fx import Converted, FxTable, convert
from service.engine.income import (
    HOURS_PER_YEAR,
    economic_life_years,
    fair_lease_rate,
    income_value,
    levelised_rent_factor,
    opex_per_gpu_hour,
)
from service.engine.types import (
    PREMISES,
    QUOTE_TERMS,
    TERMS,
    FrontierEntry,
    FxRate,
    ModelSpec,
    Observation,
)
from service.engine.valuation import Approaches, CurvePoint, Quote, Residual, quote, residual
from service.engine.version import ENGINE_VERSION

__all__ = [
    "ASSUMPTIONS",
    "ENGINE_VERSION",
    "HOURS_PER_YEAR",
    "PREMISES",
    "QUOTE_TERMS",
    "TERMS",
    "Approaches",
    "AssumptionSpec",
    "Assumptions",
    "BacktestReport",
    "Calibration",
    "Converted",
    "CurvePoint",
    "ErrorStats",
    "FrontierEntry",
    "FxRate",
    "FxTable",
    "ModelSpec",
    "Observation",
    "Quote",
    "Residual",
    "backtest",
    "calibrate",
    "convert",
    "economic_life_years",
    "fair_lease_rate",
    "income_value",
    "levelised_rent_factor",
    "opex_per_gpu_hour",
    "quote",
    "residual",
]
