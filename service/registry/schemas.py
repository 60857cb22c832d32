"""Request and response shapes of the registry: ``XCreate / XUpdate / XRead`` families."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    model_validator,
)

from service.common.fields import (
    Architecture,
    Citation,
    CurrencyCode,
    FormFactor,
    LongText,
    MarketDate,
    Money,
    Name,
    Number,
    PositiveSpec,
    ShortText,
    Slug,
    StrictBool,
    Throughput,
)
from service.engine.types import Condition, Kind, Precision, PriceUnit, Segment, Term
from service.text import ONE_LINE

# The reference catalogue's own H100 row (service/data/gpu_models.csv), so that an example
# answer matches what GET /models/nvidia-h100-sxm5-80gb returns.
_H100: dict[str, JsonValue] = {
    "slug": "nvidia-h100-sxm5-80gb",
    "vendor": "NVIDIA",
    "family": "H100",
    "variant": "SXM5 80GB",
    "architecture": "Hopper",
    "segment": "datacenter",
    "release_date": "2022-09-01",
    "launch_price_usd": 33600,
    "memory_gb": 80,
    "memory_bw_tbps": 3.35,
    "tdp_w": 700,
    "bf16_tflops": 989.4,
    "fp8_tflops": 1979,
    "fp4_tflops": 0,
    "form_factor": "SXM5",
    "verified": True,
    "source": "Epoch AI 'Data on Machine Learning Hardware'; price is Epoch's estimate "
    "(SemiAnalysis May 2023: DGX H100 8-GPU server ~$269k => ~$33.6k/GPU; no official MSRP)",
}


class GpuModelFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendor: Name
    family: Name
    variant: Name
    architecture: Architecture
    segment: Segment
    release_date: MarketDate
    launch_price_usd: Money | None = Field(
        default=None, description="List price at launch in USD; null where unknown."
    )
    memory_gb: PositiveSpec
    memory_bw_tbps: PositiveSpec
    tdp_w: PositiveSpec
    bf16_tflops: PositiveSpec = Field(
        description="Dense BF16 tensor TFLOPS (FP16 where no BF16); every valued part has one."
    )
    fp8_tflops: Throughput = Field(description="Dense FP8 tensor TFLOPS; 0 = no FP8.")
    fp4_tflops: Throughput = Field(description="Dense FP4 tensor TFLOPS; 0 = no FP4.")
    form_factor: FormFactor
    verified: StrictBool = True
    source: LongText = ""
    fp8: StrictBool | None = Field(
        default=None, description="Optional; must agree with `fp8_tflops > 0` when given."
    )
    fp4: StrictBool | None = Field(
        default=None, description="Optional; must agree with `fp4_tflops > 0` when given."
    )

    @model_validator(mode="after")
    def _precision_flags_agree(self) -> Self:
        for flag, tflops in (("fp8", self.fp8_tflops), ("fp4", self.fp4_tflops)):
            given = getattr(self, flag)
            if given is not None and given != (tflops > 0):
                raise ValueError(f"{flag}={given} contradicts {flag}_tflops={tflops}")
        return self


class GpuModelCreate(GpuModelFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_H100]})

    slug: Slug


class GpuModelReplace(GpuModelFields):
    """PUT body: every field but the slug, which the path names."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{k: v for k, v in _H100.items() if k != "slug"}]},
    )


class GpuModelPatch(BaseModel):
    """PATCH body: only the fields to change."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"launch_price_usd": 33600}]}
    )

    vendor: Name | None = None
    family: Name | None = None
    variant: Name | None = None
    architecture: Architecture | None = None
    segment: Segment | None = None
    release_date: MarketDate | None = None
    launch_price_usd: Money | None = None
    memory_gb: PositiveSpec | None = None
    memory_bw_tbps: PositiveSpec | None = None
    tdp_w: PositiveSpec | None = None
    bf16_tflops: PositiveSpec | None = None
    fp8_tflops: Throughput | None = None
    fp4_tflops: Throughput | None = None
    form_factor: FormFactor | None = None
    verified: StrictBool | None = None
    source: LongText | None = None


class GpuModelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_H100]})

    slug: str
    vendor: str
    family: str
    variant: str
    architecture: str
    segment: str
    release_date: date
    launch_price_usd: float | None
    memory_gb: float
    memory_bw_tbps: float
    tdp_w: float
    bf16_tflops: float
    fp8_tflops: float
    fp4_tflops: float
    fp8: bool
    fp4: bool
    form_factor: str
    verified: bool
    source: str
    revision: int
    created_at: datetime
    updated_at: datetime


_OBS: dict[str, JsonValue] = {
    "observed_on": "2025-10-01",
    "model": "nvidia-h100-sxm5-80gb",
    "kind": "lease",
    "price": 2.99,
    "currency": "USD",
    "term": "on_demand",
    "provider": "Lambda",
    "region": "US",
    "source": "lambda.ai/pricing, captured 2025-10-01",
}


class ObservationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_OBS]})

    observed_on: MarketDate = Field(description="When the price was quoted or paid.")
    model: Slug = Field(description="Slug of a registered GPU model.")
    kind: Kind
    price: Money = Field(description="Per GPU-hour for a lease, per GPU for a sale.")
    currency: CurrencyCode = "USD"
    unit: PriceUnit | None = Field(
        default=None, description="Optional; must be `gpu_hour` for a lease, `gpu` for a sale."
    )
    term: Term = "unknown"
    condition: Condition | None = Field(default=None, description="Sales only.")
    provider: ShortText = ""
    region: Annotated[str, StringConstraints(strip_whitespace=True, max_length=60), ONE_LINE] = ""
    source: Citation = Field(description="Citation: where this price can be checked.")
    notes: LongText = ""

    @model_validator(mode="after")
    def _kind_rules(self) -> Self:
        expected = "gpu_hour" if self.kind == "lease" else "gpu"
        if self.unit is not None and self.unit != expected:
            raise ValueError(f"unit must be '{expected}' for a {self.kind}")
        self.unit = "gpu_hour" if self.kind == "lease" else "gpu"
        if self.kind == "lease" and self.condition is not None:
            raise ValueError("condition applies to sales only")
        if self.kind == "sale" and self.term not in ("unknown",):
            raise ValueError("term applies to leases only")
        if self.kind == "sale" and self.condition is None:
            self.condition = "unknown"
        return self


class ObservationRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_OBS, "id": 1, "unit": "gpu_hour"}]}
    )

    id: int
    observed_on: date
    model: str
    kind: str
    price: float
    currency: str
    unit: str
    term: str
    condition: str | None
    provider: str
    region: str
    source: str
    notes: str
    recorded_at: datetime
    revision: int


class FrontierEntryIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "precision": "fp4",
                    "effective_from": "2025-08-05",
                    "source": "OpenAI gpt-oss model card",
                    "notes": "",
                }
            ]
        },
    )

    precision: Precision
    effective_from: MarketDate
    source: Citation
    notes: LongText = ""


class FrontierEntryRead(FrontierEntryIn):
    model_config = ConfigDict(from_attributes=True)

    revision: int


class FrontierReplace(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {"precision": "bf16", "effective_from": "2018-01-01", "source": "…"},
                        {"precision": "fp8", "effective_from": "2024-12-26", "source": "…"},
                        {"precision": "fp4", "effective_from": "2025-08-05", "source": "…"},
                    ]
                }
            ]
        },
    )

    items: list[FrontierEntryIn] = Field(min_length=1, max_length=3)


class AssumptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    value: float
    unit: str
    minimum: float
    maximum: float
    reason: str
    revision: int
    updated_at: datetime


AssumptionValue = Annotated[
    Number,
    Field(
        ge=-1e6,
        le=1e6,
        allow_inf_nan=False,
        description="Within the assumption's own bounds (see GET /assumptions).",
    ),
]
"""Every assumption's bounds lie well inside this range; it is what the OpenAPI can promise."""


class AssumptionUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"value": 0.8, "reason": "Fleet utilisation, 2026 Q3 actual"}]
        },
    )

    value: AssumptionValue
    reason: LongText | None = Field(default=None, description="Why this value; kept with it.")


class AssumptionsUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"values": {"utilisation": 0.8}}]}
    )

    values: dict[
        Annotated[str, StringConstraints(max_length=60), ONE_LINE],
        AssumptionValue,
    ] = Field(min_length=1, max_length=100)


class FxRateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    month: str
    currency: str
    usd_per_unit: float
    source: str
