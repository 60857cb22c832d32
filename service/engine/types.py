"""Engine inputs: frozen dataclasses that carry no behaviour beyond validation.

The web layer builds these from the registry; the engine never reads files or databases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

__all__ = [
    "FIXED_TERM_YEARS",
    "KINDS",
    "MARKET_TERMS",
    "PRECISIONS",
    "PREMISES",
    "QUOTE_TERMS",
    "TERMS",
    "Condition",
    "FrontierEntry",
    "FxRate",
    "Kind",
    "ModelSpec",
    "Observation",
    "Precision",
    "Premise",
    "Segment",
    "Term",
]

Kind = Literal["lease", "sale"]
Term = Literal["on_demand", "spot", "1m", "3m", "6m", "1y", "2y", "3y", "unknown"]
Precision = Literal["bf16", "fp8", "fp4"]
Premise = Literal["market", "orderly", "forced"]
Condition = Literal["new", "used", "unknown"]
Segment = Literal["datacenter", "consumer"]

KINDS: tuple[Kind, ...] = ("lease", "sale")
TERMS: tuple[Term, ...] = ("on_demand", "spot", "1m", "3m", "6m", "1y", "2y", "3y", "unknown")
#: Terms a caller may quote; "unknown" exists only in observations.
QUOTE_TERMS: tuple[Term, ...] = TERMS[:-1]
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
#: Production precisions from oldest to newest; a later one is never slower per operation.
PRECISIONS: tuple[Precision, ...] = ("bf16", "fp8", "fp4")
PREMISES: tuple[Premise, ...] = ("market", "orderly", "forced")


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
