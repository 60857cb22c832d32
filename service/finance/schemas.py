"""Request and response shapes of finance: assets, book schedules and ``GET /depreciation``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from service.common.fields import (
    LOWER_CASE,
    MONTH_PATTERN,
    SLUG_PATTERN,
    CurrencyCode,
    LongText,
    MarketDate,
    MoneyOut,
)
from service.engine.types import AssetStatus as AssetStatus  # re-exported for the fleet router
from service.engine.types import BookMethod, DepreciationMethod, cents
from service.engine.types import Convention as MacrsConvention
from service.text import ONE_LINE

MAX_LIFE_MONTHS = 600
MACRS_LIFE_MONTHS = (36, 60, 84)
MAX_MONEY = 1e12

Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
    ONE_LINE,
    Field(description="The asset tag or serial number; unique.", examples=["DC1-R12-U07"]),
]
ModelSlug = Annotated[
    str,
    StringConstraints(min_length=2, max_length=80, pattern=SLUG_PATTERN),
    LOWER_CASE,
    Field(description="Slug of a registered GPU model.", examples=["nvidia-h100-sxm5-80gb"]),
]


def to_cents(amount: float) -> float:
    """Round half up to the cent (on the shortest decimal that round-trips, as people read it)."""
    return float(cents(amount))


Amount = Annotated[
    float,
    Field(
        ge=0,
        lt=MAX_MONEY,
        allow_inf_nan=False,
        description="An amount of money in the asset's currency; kept to the cent (half up).",
    ),
    AfterValidator(to_cents),
]
LifeMonths = Annotated[
    int, Field(ge=1, le=MAX_LIFE_MONTHS, description="Book life in months.", examples=[60])
]
Month = Annotated[
    str, StringConstraints(pattern=MONTH_PATTERN), Field(description="A month, `YYYY-MM`.")
]
Location = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120), ONE_LINE]

_ASSET: dict[str, JsonValue] = {
    "tag": "DC1-R12-U07",
    "model": "nvidia-h100-sxm5-80gb",
    "gpu_count": 8,
    "in_service_on": "2024-02-29",
    "acquisition_cost": 250000,
    "currency": "USD",
    "salvage": 0,
    "book_method": "straight_line",
    "life_months": 60,
    "location": "Frankfurt DC1",
    "status": "active",
    "notes": "",
}


class AssetFields(BaseModel):
    """Every field of an asset but its tag; the terms are those booked from the in-service date."""

    model_config = ConfigDict(extra="forbid")

    model: ModelSlug
    gpu_count: int = Field(ge=1, le=100_000, description="GPUs in the unit or server.")
    in_service_on: MarketDate = Field(description="When depreciation starts.")
    acquisition_cost: Amount
    currency: CurrencyCode = "USD"
    salvage: Amount = Field(default=0, description="Residual book value at end of life.")
    book_method: BookMethod = "straight_line"
    life_months: LifeMonths
    location: Location = ""
    status: AssetStatus = "active"
    notes: LongText = ""


class AssetCreate(AssetFields):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_ASSET]})

    tag: Tag


class AssetReplace(AssetFields):
    """PUT body: every field. Life and salvage here correct the terms booked from the start;
    to change them from a month on, PATCH with ``effective_from``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_ASSET]})

    tag: Tag


class AssetPatch(BaseModel):
    """PATCH body: only the fields to change. A new ``life_months`` or ``salvage`` is a change
    of estimate: it applies from ``effective_from`` on, and nothing already booked changes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"life_months": 72, "effective_from": "2026-01"},
                {"status": "idle", "location": "Frankfurt DC2"},
            ]
        },
    )

    tag: Tag | None = None
    model: ModelSlug | None = None
    gpu_count: int | None = Field(default=None, ge=1, le=100_000)
    in_service_on: MarketDate | None = None
    acquisition_cost: Amount | None = None
    currency: CurrencyCode | None = None
    salvage: Amount | None = Field(
        default=None, description="New salvage, from `effective_from` on."
    )
    book_method: BookMethod | None = None
    life_months: LifeMonths | None = Field(
        default=None,
        description="New life, counted from the in-service date, from `effective_from` on.",
    )
    location: Location | None = None
    status: AssetStatus | None = None
    notes: LongText | None = None
    effective_from: Month | None = Field(
        default=None,
        description="Month from which a new life or salvage applies; default the current month "
        "(or the in-service month, if later).",
        examples=["2026-01"],
    )


class BookChangeRead(BaseModel):
    effective_from: str = Field(examples=["2026-01"])
    life_months: int | None
    salvage: float | None


class AssetRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    **_ASSET,
                    "changes": [],
                    "current_life_months": 60,
                    "current_salvage": 0,
                    "revision": 1,
                    "created_at": "2026-01-05T09:00:00Z",
                    "updated_at": "2026-01-05T09:00:00Z",
                }
            ]
        }
    )

    id: int
    tag: str
    model: str
    gpu_count: int
    in_service_on: date
    acquisition_cost: float
    currency: str
    salvage: float = Field(description="Salvage booked from the in-service date.")
    book_method: str
    life_months: int = Field(description="Life booked from the in-service date.")
    location: str
    status: str
    notes: str
    changes: list[BookChangeRead] = Field(description="Prospective changes of life or salvage.")
    current_life_months: int = Field(description="Life after every recorded change.")
    current_salvage: float = Field(description="Salvage after every recorded change.")
    revision: int
    created_at: datetime
    updated_at: datetime


class ScheduleRow(BaseModel):
    month: str = Field(examples=["2024-03"])
    depreciation: MoneyOut
    accumulated: MoneyOut
    book_value: MoneyOut
    life_months: int = Field(description="Life in force in this month.")
    salvage: MoneyOut = Field(description="Salvage in force in this month.")


class AssetSchedule(BaseModel):
    """An asset's monthly book schedule, in the asset's currency."""

    asset_id: int
    tag: str
    currency: str
    book_method: str
    acquisition_cost: MoneyOut
    in_service_on: date
    schedule: list[ScheduleRow]


class DepreciationRowRead(BaseModel):
    period: int
    depreciation: MoneyOut
    accumulated: MoneyOut
    book_value: MoneyOut
    percent: float | None = Field(
        default=None, description="MACRS only: the Pub 946 table percentage of the basis."
    )


class DepreciationResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "method": "sln",
                    "schedule": [
                        {
                            "period": 1,
                            "depreciation": 2250,
                            "accumulated": 2250,
                            "book_value": 27750,
                        },
                    ],
                }
            ]
        }
    )

    method: DepreciationMethod
    schedule: list[DepreciationRowRead]
    amount: MoneyOut | None = Field(
        default=None, description="VDB only: depreciation between start_period and end_period."
    )


class DepreciationQuery(BaseModel):
    """The query of ``GET /depreciation``; which parameters apply depends on ``method``."""

    model_config = ConfigDict(extra="forbid")

    method: DepreciationMethod = Field(
        description="sln, syd, ddb, db, vdb (the spreadsheet functions) or macrs (IRS Pub 946)."
    )
    cost: float = Field(ge=0, lt=1e15, allow_inf_nan=False, examples=[30000])
    salvage: float | None = Field(
        default=None,
        ge=0,
        lt=1e15,
        allow_inf_nan=False,
        description="Value at the end of the life; default 0. Not for macrs.",
        examples=[7500],
    )
    life: float | None = Field(
        default=None,
        gt=0,
        le=1200,
        allow_inf_nan=False,
        description="Number of periods (whole). Required but for macrs.",
        examples=[10],
    )
    factor: float | None = Field(
        default=None,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="ddb and vdb: rate of decline; default 2 (double-declining).",
    )
    month: int | None = Field(
        default=None, ge=1, le=12, description="db: months in the first year; default 12."
    )
    no_switch: bool | None = Field(
        default=None, description="vdb: true to never switch to straight line; default false."
    )
    start_period: float | None = Field(
        default=None,
        ge=0,
        le=1200,
        allow_inf_nan=False,
        description="vdb: start of the span for `amount` (fractional allowed); with end_period.",
    )
    end_period: float | None = Field(
        default=None,
        ge=0,
        le=1200,
        allow_inf_nan=False,
        description="vdb: end of the span for `amount` (fractional allowed); with start_period.",
    )
    recovery_years: int | None = Field(
        default=None,
        ge=3,
        le=7,
        description="macrs: the recovery period, 3, 5 or 7 years.",
        examples=[5],
    )
    convention: MacrsConvention | None = Field(
        default=None, description="macrs: half_year (default) or mid_quarter."
    )
    quarter: int | None = Field(
        default=None,
        ge=1,
        le=4,
        description="macrs mid_quarter: quarter placed in service, 1 to 4.",
    )
