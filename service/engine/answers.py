"""What the engine answers: a quote, a residual and their parts (plain frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from service.engine.types import Premise, Term

__all__ = ["Approaches", "CurvePoint", "PathPoint", "Projection", "Quote", "Residual"]


@dataclass(frozen=True, slots=True)
class Projection:
    """An answer dated after the last evidence: the evidence date and how far past it."""

    evidence_on: date
    horizon_months: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """A fair lease rate in USD per GPU-hour."""

    model: str
    as_of: date
    term: Term
    currency: str
    gpus: int
    age_months: float
    rate_per_gpu_hour: float
    rate_per_gpu_month: float
    rate_total_per_hour: float
    low: float
    high: float
    regime: str
    frontier_precision: str
    fp8: bool
    fp4: bool
    level: str
    projection: Projection | None
    components: dict[str, Any]
    observations_used: int
    assumptions: dict[str, float]
    engine_version: str
    inputs_digest: str


@dataclass(frozen=True, slots=True)
class Approaches:
    """The three appraisal approaches per GPU in USD and the weights that reconcile them."""

    income: float
    market: float | None
    cost: float
    market_weight: float
    income_weight: float = 0.0
    cost_weight: float = 0.0


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """Value, on the same date, of a unit of ``age_months`` (same premise and what-ifs);
    ``income_value`` is the income approach alone."""

    age_months: float
    value_per_gpu: float
    residual_fraction: float
    income_value: float


@dataclass(frozen=True, slots=True)
class PathPoint:
    """Expected value of this unit ``months_ahead`` from ``as_of`` (when it is
    ``age_months`` old), if it still works: the reported value moved along the expected
    contract-rent path (income approach's shape over time)."""

    months_ahead: int
    age_months: float
    value_per_gpu: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Residual:
    """A residual value in USD per GPU."""

    model: str
    as_of: date
    age_months: float
    currency: str
    value_per_gpu: float
    residual_fraction: float
    reference_price: float
    reference_price_basis: str
    low: float
    high: float
    economic_life_months: float
    remaining_life_months: float
    regime: str
    frontier_precision: str
    fp8: bool
    fp4: bool
    approaches: Approaches
    reconciled: float
    premise: Premise
    projection: Projection | None
    components: dict[str, Any]
    observations_used: int
    assumptions: dict[str, float]
    engine_version: str
    inputs_digest: str
    curve: tuple[CurvePoint, ...] | None
    path: tuple[PathPoint, ...] | None = None
