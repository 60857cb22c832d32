"""The pure valuation engine: stdlib + NumPy, no web, ORM, clock or I/O (docs/method.md).

Callers build inputs (:class:`ModelSpec`, :class:`Observation`, :class:`FxRate`,
:class:`FrontierEntry`), :func:`calibrate` once per data version and ``as_of``, then call
:func:`quote` and :func:`residual` as often as they like with per-request
:class:`Assumptions`. :func:`backtest` walks the same engine forward through history.
"""

from service.engine.assumptions import ASSUMPTIONS, Assumptions, AssumptionSpec
from service.engine.backtest import BacktestReport, ErrorStats, backtest
from service.engine.calibration import MIN_LEASE_OBSERVATIONS, Calibration, calibrate
from service.engine.errors import (
    BeyondHorizon,
    CalibrationUnavailable,
    EngineInputError,
    NotReleased,
)
from service.engine.fx import Converted, FxTable, convert
from service.engine.income import (
    HOURS_PER_YEAR,
    economic_life_years,
    fair_lease_rate,
    income_value,
    levelised_rent_factor,
    opex_per_gpu_hour,
)
from service.engine.state import MAX_PROJECTION_MONTHS, projection_months
from service.engine.types import (
    PREMISES,
    QUOTE_TERMS,
    TERMS,
    FrontierEntry,
    FxRate,
    ModelSpec,
    Observation,
)
from service.engine.valuation import (
    Approaches,
    CurvePoint,
    Projection,
    Quote,
    Residual,
    quote,
    residual,
)
from service.engine.version import ENGINE_VERSION

__all__ = [
    "ASSUMPTIONS",
    "ENGINE_VERSION",
    "HOURS_PER_YEAR",
    "MAX_PROJECTION_MONTHS",
    "MIN_LEASE_OBSERVATIONS",
    "PREMISES",
    "QUOTE_TERMS",
    "TERMS",
    "Approaches",
    "AssumptionSpec",
    "Assumptions",
    "BacktestReport",
    "BeyondHorizon",
    "Calibration",
    "CalibrationUnavailable",
    "Converted",
    "CurvePoint",
    "EngineInputError",
    "ErrorStats",
    "FrontierEntry",
    "FxRate",
    "FxTable",
    "ModelSpec",
    "NotReleased",
    "Observation",
    "Projection",
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
    "projection_months",
    "quote",
    "residual",
]
