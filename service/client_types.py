"""The answers of ``/quote`` and ``/residual`` as the client reads them.

Generated from openapi/openapi.json by scripts/gen_client_types.py: do not edit by hand.
Unknown fields are ignored, so a newer server does not break an older client.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Projection(BaseModel):
    """Present when ``as_of`` is after the last market evidence: the answer is a projection."""

    model_config = ConfigDict(extra="ignore")

    evidence_on: date
    horizon_months: float


class FxUsed(BaseModel):
    model_config = ConfigDict(extra="ignore")

    currency: str
    extrapolated: bool
    month_used: str
    usd_per_unit: float


class Provenance(BaseModel):
    model_config = ConfigDict(extra="ignore")

    calibrated_on: date
    data_version: int
    fx: FxUsed | None
    known_at: datetime | None


Regime = Literal["frontier", "behind"]


class QuoteRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    age_months: float
    as_of: date
    assumptions: dict[str, float]
    components: dict[str, Any]
    currency: str
    engine_version: str
    fp4: bool
    fp8: bool
    frontier_precision: str
    gpus: int
    high: float
    inputs_digest: str
    level: Literal["market", "segment", "provider"]
    low: float
    model: str
    observations_used: int
    projection: Projection | None = None
    provenance: Provenance
    rate_per_gpu_hour: float
    rate_per_gpu_month: float
    rate_total_per_hour: float
    regime: Regime
    term: str


class Approaches(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cost: float
    cost_weight: float
    income: float
    income_weight: float
    market: float | None
    market_weight: float
    reconciled: float


class CurvePoint(BaseModel):
    """The value, on the same `as_of`, of a unit of another age (same premise and what-ifs)."""

    model_config = ConfigDict(extra="ignore")

    age_months: float
    income_value: float
    residual_fraction: float
    value_per_gpu: float


class PathPoint(BaseModel):
    """This unit's expected value ``months_ahead`` from `as_of`, if it still works."""

    model_config = ConfigDict(extra="ignore")

    age_months: float
    months_ahead: int
    value_per_gpu: float


class ResidualRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    age_months: float
    approaches: Approaches
    as_of: date
    assumptions: dict[str, float]
    components: dict[str, Any]
    currency: str
    curve: list[CurvePoint] | None = None
    economic_life_months: float
    engine_version: str
    fp4: bool
    fp8: bool
    frontier_precision: str
    high: float
    inputs_digest: str
    low: float
    model: str
    observations_used: int
    path: list[PathPoint] | None = None
    premise: str
    projection: Projection | None = None
    provenance: Provenance
    reference_price: float
    reference_price_basis: Literal[
        "launch_price", "new_sales", "generation_multiple", "segment_multiple", "default_multiple"
    ]
    regime: Regime
    remaining_life_months: float
    residual_fraction: float
    value_per_gpu: float


class QuoteBatchRead(BaseModel):
    model_config = ConfigDict(extra="ignore")

    items: list[QuoteRead]
