"""Engine inputs: frozen dataclasses that carry no behaviour beyond validation.

The web layer builds these from the registry; the engine never reads files or databases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, get_args

__all__ = [
    "ASSET_STATUSES",
    "BOOK_METHODS",
    "CENT",
    "CONDITIONS",
    "CONVENTIONS",
    "DAYS_PER_MONTH",
    "DEPRECIATION_METHODS",
    "FIXED_TERM_YEARS",
    "KINDS",
    "MARKET_TERMS",
    "PRECISIONS",
    "PREMISES",
    "PRICE_UNITS",
    "QUOTE_TERMS",
    "SEGMENTS",
    "TERMS",
    "AssetStatus",
    "BookMethod",
    "Condition",
    "FrontierEntry",
    "FxRate",
    "Kind",
    "ModelSpec",
    "Observation",
    "Precision",
    "Premise",
    "PriceUnit",
    "QuoteTerm",
    "Segment",
    "Term",
    "cents",
]

# The vocabulary of the service, declared once. API schemas use these types and the ORM's check
# constraints list their values (``typing.get_args``), so a new term or method is added here.

Kind = Literal["lease", "sale"]
#: Terms a caller may quote.
QuoteTerm = Literal["on_demand", "spot", "1m", "3m", "6m", "1y", "2y", "3y"]
#: Terms an observation may carry; "unknown" exists only in observations.
Term = Literal[QuoteTerm, "unknown"]
Precision = Literal["bf16", "fp8", "fp4"]
Premise = Literal["market", "orderly", "forced"]
Condition = Literal["new", "used", "unknown"]
Segment = Literal["datacenter", "consumer"]
#: What an observed price is per: one GPU-hour (a lease) or one GPU (a sale).
PriceUnit = Literal["gpu_hour", "gpu"]
#: Book depreciation methods of the asset register (``service.engine.schedule``).
BookMethod = Literal["straight_line", "declining_balance", "ddb", "syd", "macrs"]
#: MACRS conventions (IRS Publication 946, ``service.engine.macrs``).
Convention = Literal["half_year", "mid_quarter"]
#: The spreadsheet depreciation functions of ``GET /depreciation``, and MACRS.
DepreciationMethod = Literal["sln", "syd", "ddb", "db", "vdb", "macrs"]
AssetStatus = Literal["active", "idle", "retired", "sold"]

KINDS: tuple[Kind, ...] = get_args(Kind)
TERMS: tuple[Term, ...] = get_args(Term)
QUOTE_TERMS: tuple[QuoteTerm, ...] = get_args(QuoteTerm)
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
"""Production precisions from oldest to newest; a later one is never slower per operation."""
PREMISES: tuple[Premise, ...] = get_args(Premise)
CONDITIONS: tuple[Condition, ...] = get_args(Condition)
SEGMENTS: tuple[Segment, ...] = get_args(Segment)
PRICE_UNITS: tuple[PriceUnit, ...] = get_args(PriceUnit)
BOOK_METHODS: tuple[BookMethod, ...] = get_args(BookMethod)
CONVENTIONS: tuple[Convention, ...] = get_args(Convention)
DEPRECIATION_METHODS: tuple[DepreciationMethod, ...] = get_args(DepreciationMethod)
ASSET_STATUSES: tuple[AssetStatus, ...] = get_args(AssetStatus)

#: The mean Gregorian month, 365.2425 / 12 days: converts day counts to months everywhere.
DAYS_PER_MONTH = 30.436875

CENT = Decimal("0.01")


def cents(amount: float | Decimal) -> Decimal:
    """``amount`` rounded half up to the cent, as a person reads it.

    A float is read as the shortest decimal that round-trips (``repr``), so 0.125 rounds up to
    0.13 rather than down from its binary neighbour 0.12499999999999999.

    >>> cents(0.125), cents(2.675), cents(Decimal("-1.005"))
    (Decimal('0.13'), Decimal('2.68'), Decimal('-1.01'))
    """
    exact = Decimal(repr(amount)) if isinstance(amount, float) else amount
    return exact.quantize(CENT, rounding=ROUND_HALF_UP)


#: Terms priced from the market rent model (no commitment), the rest from the value path.
MARKET_TERMS: tuple[Term, ...] = ("on_demand", "spot")
#: Commitment length in years of the fixed terms.
FIXED_TERM_YEARS: dict[str, float] = {
    "1m": 1 / 12,
    "3m": 0.25,
    "6m": 0.5,
    "1y": 1.0,
    "2y": 2.0,
    "3y": 3.0,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """A GPU model as the registry describes it (dense tensor TFLOPS; 0 = unsupported)."""

    slug: str
    vendor: str
    architecture: str
    segment: str
    form_factor: str
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

    def __post_init__(self) -> None:
        positive = {
            "memory_gb": self.memory_gb,
            "memory_bw_tbps": self.memory_bw_tbps,
            "tdp_w": self.tdp_w,
            "bf16_tflops": self.bf16_tflops,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        if self.fp8_tflops < 0 or self.fp4_tflops < 0:
            raise ValueError("throughput cannot be negative")
        if self.launch_price_usd is not None and not self.launch_price_usd > 0:
            raise ValueError("launch_price_usd must be positive when given")


@dataclass(frozen=True, slots=True, kw_only=True)
class Observation:
    """One quoted or paid price, as recorded (currency as quoted, per GPU-hour or per GPU)."""

    observed_on: date
    model_slug: str
    kind: Kind
    price: float
    currency: str
    term: Term = "unknown"
    condition: Condition | None = None
    provider: str = ""
    notes: str = ""
    recorded_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.price > 0:
            raise ValueError(f"price must be positive, got {self.price!r}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}")
        if self.term not in TERMS:
            raise ValueError(f"unknown term {self.term!r}")


@dataclass(frozen=True, slots=True)
class FxRate:
    """US dollars per unit of ``currency`` over the calendar month ``month`` ('YYYY-MM')."""

    month: str
    currency: str
    usd_per_unit: float

    def __post_init__(self) -> None:
        if len(self.month) != 7 or self.month[4] != "-":
            raise ValueError(f"month must be 'YYYY-MM', got {self.month!r}")
        if not self.usd_per_unit > 0:
            raise ValueError("usd_per_unit must be positive")


@dataclass(frozen=True, slots=True)
class FrontierEntry:
    """From ``effective_from`` on, ``precision`` is the market's production format."""

    effective_from: date
    precision: Precision

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}")
