"""Precision frontier: which format is the production format on a date, and who supports it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from service.engine.types import DAYS_PER_MONTH, PRECISIONS, FrontierEntry, ModelSpec, Precision

__all__ = [
    "Support",
    "effective_tflops",
    "frontier_at",
    "is_behind",
    "months_until_left_behind",
    "support_of",
]

#: Dense throughput ratio between consecutive precisions on Hopper, Ada and Blackwell; used
#: only when a what-if asserts support for a format whose throughput the registry lacks.
_SPEEDUP_PER_STEP = 2.0


@dataclass(frozen=True, slots=True)
class Support:
    """Effective precision support and dense TFLOPS per precision (overrides applied)."""

    fp8: bool
    fp4: bool
    tflops: tuple[float, float, float]  # bf16, fp8, fp4

    def supports(self, precision: Precision) -> bool:
        return precision == "bf16" or (self.fp8 if precision == "fp8" else self.fp4)


def support_of(spec: ModelSpec, fp8: bool | None = None, fp4: bool | None = None) -> Support:
    """The model's support after what-if overrides; missing throughput is 2x the slower format."""
    has8 = spec.fp8 if fp8 is None else fp8
    has4 = spec.fp4 if fp4 is None else fp4
    bf16 = spec.bf16_tflops
    t8 = (spec.fp8_tflops or bf16 * _SPEEDUP_PER_STEP) if has8 else 0.0
    t4 = (spec.fp4_tflops or max(t8, bf16) * _SPEEDUP_PER_STEP) if has4 else 0.0
    return Support(has8, has4, (bf16, t8, t4))


def frontier_at(frontier: Sequence[FrontierEntry], on: date) -> Precision:
    """The production precision on ``on`` (BF16 before the first entry)."""
    current: Precision = "bf16"
    latest: date | None = None
    # The latest entry in force; among entries of one date the last given wins (as a stable
    # sort by date would leave it).
    for entry in frontier:
        if entry.effective_from <= on and (latest is None or entry.effective_from >= latest):
            current, latest = entry.precision, entry.effective_from
    return current


def effective_tflops(support: Support, precision: Precision) -> float:
    """Dense TFLOPS at the fastest supported format no newer than ``precision``.

    A model without FP8 runs an FP8-era workload at its BF16 speed (docs/method.md, section 4).
    """
    best = support.tflops[0]
    for index in range(1, PRECISIONS.index(precision) + 1):
        if support.supports(PRECISIONS[index]):
            best = max(best, support.tflops[index])
    return best


def is_behind(support: Support, precision: Precision) -> bool:
    """Behind the frontier = does not support the production precision."""
    return not support.supports(precision)


def months_until_left_behind(
    frontier: Sequence[FrontierEntry], support: Support, on: date, interval_months: float
) -> float | None:
    """Months from ``on`` until the frontier moves to a format the model lacks.

    ``None`` if the model is already behind. Scheduled entries after ``on`` come first; past
    the timeline a new format (which no registered model supports) is assumed one
    ``interval_months`` after the last move, and no sooner than a sixth of an interval from
    ``on`` when that cadence is already overdue.
    """
    if is_behind(support, frontier_at(frontier, on)):
        return None
    entries = sorted(frontier, key=lambda e: e.effective_from)
    for entry in entries:
        if entry.effective_from > on and not support.supports(entry.precision):
            return _months_between(on, entry.effective_from)
    last = entries[-1].effective_from if entries else on
    return max(_months_between(on, last) + interval_months, interval_months / 6.0)


def _months_between(start: date, end: date) -> float:
    return (end - start).days / DAYS_PER_MONTH
