"""Field types every package's schemas share: slugs, dates, instants, money, currencies.

Neutral ground: the registry, the asset register and valuations all describe their inputs with
these, and none of them owns the others.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
)

from service.engine.types import cents
from service.text import MULTI_LINE, ONE_LINE

SLUG_PATTERN = r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$"
"""Slugs are stored in lower case; one given in upper case (by hand, from a spreadsheet) names
the same thing and is read as its lower-case form (``LOWER_CASE``)."""
# ASCII digits (a regex ``\d`` also takes other scripts' digits) and this century's years only,
# like MarketDate below.
MONTH_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$"
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _lower(value: str) -> str:
    """Slugs are lower case; ``NVIDIA-H100-SXM5-80GB`` names the same model, so it is read so."""
    return value.lower()


def _upper(value: str) -> str:
    """ISO 4217 codes are upper case; ``eur`` is read as ``EUR``."""
    return value.upper()


LOWER_CASE = AfterValidator(_lower)
"""Reads an upper-case slug as its lower-case form; every slug field and parameter has it."""

Slug = Annotated[
    str,
    StringConstraints(min_length=2, max_length=80, pattern=SLUG_PATTERN),
    LOWER_CASE,
    Field(
        description="Stable id: lowercase words joined by hyphens (upper case is read as lower).",
        examples=["nvidia-h100-sxm5-80gb"],
    ),
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), ONE_LINE
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120), ONE_LINE]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), MULTI_LINE]
Architecture = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), ONE_LINE
]
FormFactor = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), ONE_LINE
]
Citation = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), ONE_LINE
]


def _iso_date(value: object) -> object:
    """Dates are ISO 8601 text (or dates): pydantic would also read ``0`` as a Unix time."""
    if isinstance(value, str) and not ISO_DATE.fullmatch(value.strip()):
        raise ValueError("expected an ISO 8601 date, YYYY-MM-DD")
    if isinstance(value, int | float):
        raise ValueError("expected an ISO 8601 date, YYYY-MM-DD")
    return value


def _not_a_bool(value: object) -> object:
    """JSON ``true`` is not the number 1 here."""
    if isinstance(value, bool):
        raise ValueError("expected a number")
    return value


def _bool(value: object) -> object:
    """Booleans are ``true``/``false`` (CSV: the words), never numbers."""
    if isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false")):
        return value
    raise ValueError("expected true or false")


StrictBool = Annotated[bool, BeforeValidator(_bool)]
Number = Annotated[float, BeforeValidator(_not_a_bool)]

Money = Annotated[
    Number, Field(gt=0, lt=1e9, allow_inf_nan=False, description="A positive, finite amount.")
]
PositiveSpec = Annotated[Number, Field(gt=0, lt=1e6, allow_inf_nan=False)]
Throughput = Annotated[Number, Field(ge=0, lt=1e6, allow_inf_nan=False)]
CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z]{3}$"),
    AfterValidator(_upper),
    Field(
        description="ISO 4217 code, read in upper case; must be USD or a currency of the FX table.",
        examples=["USD"],
    ),
]

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)


def _in_range(value: date) -> date:
    """Market dates lie in this century: the calendar's ends (0001-01-01, 9999-12-31) are typos
    or probes, and date arithmetic near them overflows."""
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(
            f"must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"
        )
    return value


MarketDate = Annotated[
    date,
    BeforeValidator(_iso_date),
    AfterValidator(_in_range),
    Field(
        json_schema_extra={
            "formatMinimum": EARLIEST_DATE.isoformat(),
            "formatMaximum": LATEST_DATE.isoformat(),
        }
    ),
]

AnswerDate = Annotated[date, BeforeValidator(_iso_date)]
"""The date of a valuation answer (``as_of``): any calendar date. Unlike a :data:`MarketDate`
it has no century bound here: a date the engine cannot answer for is refused by the valuation
service with the dates it can answer for (the first date with enough evidence, the last date a
projection reaches), which a bound on the field could not name."""

ISO_INSTANT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")


def _iso_instant(value: object) -> object:
    """Only ISO 8601 text: pydantic would also read `0.5` as a Unix time, which nobody means."""
    if isinstance(value, int | float) or (isinstance(value, str) and not ISO_INSTANT.match(value)):
        raise ValueError("expected an ISO 8601 instant such as 2025-01-01T00:00:00Z")
    return value


def _instant_in_range(value: datetime) -> datetime:
    """Judged by the wall-clock year, before any offset applies: converting
    0001-01-01T00:00+01:00 to UTC overflows."""
    if not EARLIEST_DATE.year <= value.year <= LATEST_DATE.year:
        raise ValueError(
            f"must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"
        )
    return value


Instant = Annotated[
    datetime,
    BeforeValidator(_iso_instant),
    AfterValidator(_instant_in_range),
    Field(
        json_schema_extra={
            "formatMinimum": f"{EARLIEST_DATE.isoformat()}T00:00:00Z",
            "formatMaximum": f"{LATEST_DATE.isoformat()}T23:59:59Z",
        }
    ),
]
"""An instant (``known_at``, ``since``): ISO 8601, in the same range as market dates."""


class ImportResult(BaseModel):
    """What a bulk import wrote."""

    created: int = Field(ge=0)
    skipped: int = Field(ge=0, description="Rows that already existed (on_conflict=skip).")


# --- answers: presentation at the edge --------------------------------------------------------
# The engine computes in full float precision, and digests hash its inputs; only the JSON a
# person reads is rounded, by these serialisers (Python-side ``model_dump()`` keeps every digit).

RATE_PLACES = Decimal("0.0001")


def _cents_out(amount: float) -> float:
    return float(cents(amount)) if math.isfinite(amount) else amount


def _rate_out(rate: float) -> float:
    if not math.isfinite(rate):
        return rate
    return float(Decimal(repr(rate)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP))


MoneyOut = Annotated[float, PlainSerializer(_cents_out, return_type=float, when_used="json")]
"""An amount of money in an answer: shown to the cent, half up (:func:`engine.types.cents`)."""
RateOut = Annotated[float, PlainSerializer(_rate_out, return_type=float, when_used="json")]
"""A rental rate in an answer (per GPU-hour, GPU-month, ...): shown to 4 decimals, half up."""
