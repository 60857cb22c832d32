"""Schemas of ``GET /valuations``: the query, a valued asset, fleet totals and the page."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.api import Page
from service.common.fields import AnswerDate, CurrencyCode, Instant, Slug
from service.finance.schemas import AssetStatus
from service.valuation.schemas import FxUsed, Premise


class FleetQuery(BaseModel):
    """Query of GET /valuations."""

    model_config = ConfigDict(extra="forbid")

    as_of: AnswerDate | None = Field(
        default=None,
        description="Valuation date; default today (UTC). A date before the first with enough "
        "evidence, or past the projection horizon, is a 422 naming the dates that work.",
        examples=["2026-06-30"],
    )
    known_at: Instant | None = Field(
        default=None,
        description="Use only observations recorded by this instant (reproduce a past answer).",
    )
    premise: Premise = Field(
        default="market",
        description="Fair value on the market premise, or orderly or forced liquidation.",
    )
    currency: CurrencyCode | None = Field(
        default=None,
        description="Report every amount in this currency; default each asset's own currency.",
    )
    format: Literal["json", "csv"] = Field(
        default="json", description="`json`: one page; `csv`: the whole fleet, streamed."
    )
    status: AssetStatus | None = Field(default=None, description="Only assets in this status.")
    model: Slug | None = Field(default=None, description="Only assets of this GPU model.")
    limit: int | None = Field(
        default=None, ge=1, le=1000, description="Page size, 1 to 1000 (JSON only); default 100."
    )
    cursor: str | None = Field(
        default=None,
        max_length=512,
        description="Opaque cursor from the previous page's `next_cursor` (JSON only).",
    )

    @model_validator(mode="after")
    def _aware(self) -> Self:
        if self.known_at is not None and self.known_at.tzinfo is None:
            raise ValueError("known_at needs a time zone, e.g. 2025-01-01T00:00:00Z")
        return self


class AssetValuation(BaseModel):
    """One asset on `as_of`; money in `currency`, to the cent."""

    asset_id: int
    tag: str
    model: str
    status: str
    gpu_count: int
    in_service_on: date
    age_months: float = Field(
        description="Calendar months in service on `as_of`, plus the fraction of the month "
        "under way (0 before)."
    )
    currency: str
    acquisition_cost: float
    book_month: str | None = Field(
        description="Month whose closing book value is reported: the last month closed on "
        "`as_of` (its own month on a month's last day; the engine has no intra-month schedule, "
        "so a mid-month `as_of` shows the previous month-end). Null before the first month "
        "closes, when the book value is the acquisition cost.",
        examples=["2026-06"],
    )
    book_value: float = Field(
        description="Closing book value of `book_month` (changes of estimate applied); salvage "
        "after the end of the life."
    )
    fair_value_per_gpu: float = Field(
        description="Engine residual value per GPU of the model at the asset's age, on the premise."
    )
    fair_value: float = Field(description="`fair_value_per_gpu × gpu_count`.")
    difference: float = Field(description="`fair_value − book_value`.")
    impaired: bool = Field(
        description="Book value above the recoverable amount, for which the fair value on the "
        "requested premise stands in."
    )
    regime: Literal["frontier", "behind"]
    frontier_precision: str
    remaining_life_months: float = Field(description="Economic life left, from the engine.")


class CurrencyTotals(BaseModel):
    currency: str
    count: int
    gpu_count: int
    acquisition_cost: float
    book_value: float
    fair_value: float
    difference: float
    impaired: int = Field(description="Number of impaired assets.")


class FleetTotals(BaseModel):
    count: int = Field(description="Assets valued.")
    impaired: int = Field(description="Assets whose book value exceeds their fair value.")
    by_currency: list[CurrencyTotals] = Field(
        description="Sums per currency (one entry when `currency` was requested)."
    )


class FleetProvenance(BaseModel):
    data_version: int
    calibrated_on: date = Field(description="Date of the latest evidence the calibration saw.")
    known_at: datetime | None
    engine_version: str


class FleetValuationPage(Page[AssetValuation]):
    """A page of the fleet valuation; `totals` cover every page and come with the first."""

    as_of: date
    premise: str
    currency: str | None = Field(description="The requested currency; null: each asset's own.")
    totals: FleetTotals | None = Field(
        description="Totals of the whole fleet (all pages), on the first page; null on the "
        "following pages."
    )
    fx: list[FxUsed] = Field(description="Rates used: US dollars per unit, month of `as_of`.")
    assumptions: dict[str, float]
    provenance: FleetProvenance
