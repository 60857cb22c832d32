"""Request and response shapes of ``/quote`` and ``/residual``."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    create_model,
    field_validator,
    model_validator,
)

from service.common.fields import (
    AnswerDate,
    CurrencyCode,
    Instant,
    MarketDate,
    Money,
    MoneyOut,
    PositiveSpec,
    RateOut,
    Slug,
    Throughput,
)
from service.engine import ASSUMPTIONS
from service.engine.types import Premise as Premise  # re-exported for the fleet router
from service.engine.types import QuoteTerm, Segment

AgeMonths = Annotated[
    float, Field(ge=0, le=600, allow_inf_nan=False, description="Age of the unit in months.")
]


def _assumption_fields() -> dict[str, Any]:
    return {
        spec.name: (
            float | None,
            Field(
                default=None,
                ge=spec.minimum,
                le=spec.maximum,
                allow_inf_nan=False,
                description=f"Override ({spec.unit}); default {spec.default:g}. {spec.reason}",
            ),
        )
        for spec in ASSUMPTIONS
    }


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: AnswerDate | None = Field(
        default=None,
        description="Valuation date; default today (UTC). A date before the first with enough "
        "evidence, or past the projection horizon, is a 422 naming the dates that work.",
    )
    known_at: Instant | None = Field(
        default=None,
        description="Use only observations recorded by this instant (reproduce a past answer).",
    )
    fp8: bool | None = Field(default=None, description="What-if: assume FP8 support (or not).")
    fp4: bool | None = Field(default=None, description="What-if: assume FP4 support (or not).")
    currency: CurrencyCode = "USD"

    @field_validator("known_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("known_at needs a time zone, e.g. 2025-01-01T00:00:00Z")
        return value


QuoteSegment = Literal["hyperscaler", "neocloud", "marketplace"]
ProviderName = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v),
    StringConstraints(min_length=1, max_length=60, pattern=r"^[a-z0-9.+-]+$"),
    Field(
        description="A provider whose level to quote at, e.g. `lambda` or `runpod+community` "
        "(the provider keys the service has prices from; see `components.level_name`).",
        examples=["lambda"],
    ),
]


class QuoteParams(_Common):
    """Query of GET /quote; every assumption may be overridden by name as well."""

    model: Slug = Field(description="GPU model slug.")
    segment: QuoteSegment | None = Field(
        default=None,
        description="Quote at a segment's level instead of the market (median provider).",
    )
    provider: ProviderName | None = Field(
        default=None, description="Quote at a known provider's level instead of the market."
    )
    term: QuoteTerm = Field(default="on_demand", description="Lease term.")
    gpus: int = Field(default=1, ge=1, le=1_000_000, description="Number of GPUs (for the total).")
    age_months: AgeMonths | None = Field(
        default=None, description="Age at lease start; default: new."
    )


class ResidualParams(_Common):
    """Query of GET /residual; every assumption may be overridden by name as well."""

    model: Slug = Field(description="GPU model slug.")
    age_months: AgeMonths | None = Field(default=None, description="Age of the unit.")
    in_service_on: MarketDate | None = Field(
        default=None, description="First use (instead of age_months)."
    )
    premise: Premise = Field(default="market", description="market, orderly or forced liquidation.")
    include: Literal["curve", "path", "curve,path"] | None = Field(
        default=None,
        description="`curve`: the value on `as_of` of a unit of every age month; `path`: this "
        "unit's expected value month by month ahead (the path the lease identity runs on).",
    )


if TYPE_CHECKING:
    QuoteQuery = QuoteParams
    ResidualQuery = ResidualParams
else:
    QuoteQuery = create_model("QuoteQuery", __base__=QuoteParams, **_assumption_fields())
    ResidualQuery = create_model("ResidualQuery", __base__=ResidualParams, **_assumption_fields())


class InlineSpec(BaseModel):
    """A GPU described by its specs, for hardware that is not in the registry."""

    model_config = ConfigDict(extra="forbid")

    slug: Slug = "inline-gpu"
    vendor: Annotated[str, Field(min_length=1, max_length=40)]
    architecture: Annotated[str, Field(min_length=1, max_length=40)]
    segment: Segment = "datacenter"
    form_factor: Annotated[str, Field(min_length=1, max_length=60)]
    release_date: MarketDate
    launch_price_usd: Money | None = None
    memory_gb: PositiveSpec
    memory_bw_tbps: PositiveSpec
    tdp_w: PositiveSpec
    bf16_tflops: PositiveSpec
    fp8_tflops: Throughput = 0
    fp4_tflops: Throughput = 0


_QUOTE_EXAMPLE: dict[str, JsonValue] = {
    "model": "nvidia-h100-sxm5-80gb",
    "term": "1y",
    "as_of": "2026-01-01",
    "gpus": 8,
}


class QuoteRequest(_Common):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_QUOTE_EXAMPLE]})

    model: Slug | None = Field(default=None, description="A registered model, or give `spec`.")
    spec: InlineSpec | None = None
    term: QuoteTerm = "on_demand"
    gpus: int = Field(default=1, ge=1, le=1_000_000)
    age_months: AgeMonths | None = None
    segment: QuoteSegment | None = None
    provider: ProviderName | None = None
    assumptions: dict[str, float] = Field(default_factory=dict, max_length=50)

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.model is None) == (self.spec is None):
            raise ValueError(
                "give exactly one of `model` (a registered slug) or `spec` (inline specs)"
            )
        return self


class QuoteBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"items": [_QUOTE_EXAMPLE, {**_QUOTE_EXAMPLE, "term": "on_demand"}]}]
        },
    )

    items: list[QuoteRequest] = Field(min_length=1, max_length=1000)


class FxUsed(BaseModel):
    currency: str
    usd_per_unit: float
    month_used: str
    extrapolated: bool = Field(
        description="True when the FX table lacked the month and the last known rate was used."
    )


class Provenance(BaseModel):
    data_version: int
    calibrated_on: date = Field(description="Date of the latest evidence the calibration saw.")
    known_at: datetime | None
    fx: FxUsed | None


class Projection(BaseModel):
    """Present when ``as_of`` is after the last market evidence: the answer is a projection."""

    evidence_on: date = Field(description="Date of the last evidence the answer rests on.")
    horizon_months: float = Field(description="Months from the evidence date to `as_of`.")


class QuoteRead(BaseModel):
    model: str
    as_of: date
    term: str
    currency: str
    gpus: int
    age_months: float
    rate_per_gpu_hour: RateOut
    rate_per_gpu_month: RateOut
    rate_total_per_hour: RateOut
    low: RateOut
    high: RateOut
    regime: Literal["frontier", "behind"]
    frontier_precision: str
    fp8: bool
    fp4: bool
    level: Literal["market", "segment", "provider"] = Field(
        description="Which level the rate is quoted at: the market (median provider), a "
        "segment's, or a provider's."
    )
    projection: Projection | None = None
    components: dict[str, Any]
    observations_used: int
    assumptions: dict[str, float]
    engine_version: str
    inputs_digest: str
    provenance: Provenance


class QuoteBatchRead(BaseModel):
    items: list[QuoteRead]


class Approaches(BaseModel):
    income: MoneyOut
    market: MoneyOut | None
    cost: MoneyOut
    market_weight: float
    income_weight: float
    cost_weight: float
    reconciled: MoneyOut


class CurvePoint(BaseModel):
    """The value, on the same `as_of`, of a unit of another age (same premise and what-ifs)."""

    age_months: float
    value_per_gpu: MoneyOut
    residual_fraction: float
    income_value: MoneyOut = Field(description="Income-approach value of a unit of that age.")


class PathPoint(BaseModel):
    """This unit's expected value ``months_ahead`` from `as_of`, if it still works."""

    months_ahead: int
    age_months: float
    value_per_gpu: MoneyOut


class ResidualRead(BaseModel):
    model: str
    as_of: date
    age_months: float
    currency: str
    value_per_gpu: MoneyOut
    residual_fraction: float
    reference_price: MoneyOut
    reference_price_basis: Literal[
        "launch_price", "new_sales", "generation_multiple", "segment_multiple", "default_multiple"
    ] = Field(
        description="Where the reference price comes from: the launch price, the model's own "
        "new-unit sales, or a price-to-rent multiple of its generation, its segment or a default."
    )
    low: MoneyOut
    high: MoneyOut
    economic_life_months: float
    remaining_life_months: float
    regime: Literal["frontier", "behind"]
    frontier_precision: str
    fp8: bool
    fp4: bool
    approaches: Approaches
    projection: Projection | None = None
    premise: str
    components: dict[str, Any]
    observations_used: int
    assumptions: dict[str, float]
    engine_version: str
    inputs_digest: str
    provenance: Provenance
    curve: list[CurvePoint] | None = None
    path: list[PathPoint] | None = None
