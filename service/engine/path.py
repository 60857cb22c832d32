"""The expected rent path of a model and the income value of a unit along it.

Rents follow ``R(τ) = R0·e^(-λ1·τ)`` while the model is at the frontier, drop by the factor
``step`` when the frontier moves past it at ``τ = m``, and decline at ``λ2`` after that
(DESIGN.md 4.5); τ is years after the valuation date. The unit retires at the first τ where
``u·R(τ) <= C + r·S/H`` (economic end of life: the net rent no longer beats the interest
on the scrap value) or when it reaches its physical life.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.engine.income import HOURS_PER_YEAR, annuity

__all__ = ["RentPath", "Segment", "UnitEconomics", "end_of_life", "rent_at", "value_at"]


@dataclass(frozen=True, slots=True)
class Segment:
    """Rents start at ``rent`` at ``start`` (years) and decline at ``decline`` per year."""

    start: float
    rent: float
    decline: float


@dataclass(frozen=True, slots=True)
class RentPath:
    """Piecewise-exponential expected rents, segments in increasing ``start`` from 0."""

    segments: tuple[Segment, ...]

    @classmethod
    def two_regime(
        cls,
        rent: float,
        decline_now: float,
        move_in: float | None,
        step: float,
        decline_after: float,
    ) -> RentPath:
        """A path that steps down by ``step`` (<= 1) ``move_in`` years from now, if ever."""
        first = Segment(0.0, rent, decline_now)
        if move_in is None:
            return cls((first,))
        rent_at_move = rent * math.exp(-decline_now * move_in) * step
        return cls((first, Segment(move_in, rent_at_move, decline_after)))


@dataclass(frozen=True, slots=True)
class UnitEconomics:
    """What the owner earns and pays: utilisation, opex C per GPU-hour, rate r, scrap S."""

    utilisation: float
    cost: float
    rate: float
    scrap: float
    life_left: float  # years of physical life left at τ = 0


def rent_at(path: RentPath, tau: float) -> float:
    """``R(τ)`` on the path."""
    seg = [s for s in path.segments if s.start <= tau][-1]
    return seg.rent * math.exp(-seg.decline * (tau - seg.start))


def _segment_end(path: RentPath, index: int) -> float:
    segments = path.segments
    return segments[index + 1].start if index + 1 < len(segments) else math.inf


def end_of_life(path: RentPath, unit: UnitEconomics) -> float:
    """First τ with ``u·R(τ) <= C + r·S/H``, capped at the physical life left.

    Solved segment by segment: ``τ = start + ln(u·R_start / (C + r·S/H)) / λ``.
    """
    hurdle = unit.cost + unit.rate * unit.scrap / HOURS_PER_YEAR
    for index, seg in enumerate(path.segments):
        end = _segment_end(path, index)
        earning = unit.utilisation * seg.rent
        if earning <= hurdle:
            return min(seg.start, unit.life_left)
        if seg.decline > 0.0:
            crossing = seg.start + math.log(earning / hurdle) / seg.decline
            if crossing < end:
                return min(crossing, unit.life_left)
    return unit.life_left


def value_at(path: RentPath, unit: UnitEconomics, tau: float, end: float) -> float:
    """Value at τ of a unit retired at ``end``: PV of net rents to ``end`` plus scrap.

    ``V(τ) = H·Σ_seg e^(-r(a-τ))·[u·R_a·ann(r+λ, b-a) - C·ann(r, b-a)] + S·e^(-r(end-τ))``
    over the parts [a, b] of each segment inside [τ, end]; ``ann(k, T) = (1 - e^(-kT))/k``
    (the appendix formula applied piecewise). After ``end`` the unit is worth its scrap.
    """
    if tau >= end:
        return unit.scrap
    total = 0.0
    for index, seg in enumerate(path.segments):
        a = max(seg.start, tau)
        b = min(_segment_end(path, index), end)
        if b <= a:
            continue
        rent_a = seg.rent * math.exp(-seg.decline * (a - seg.start))
        flows = unit.utilisation * rent_a * annuity(unit.rate + seg.decline, b - a)
        flows -= unit.cost * annuity(unit.rate, b - a)
        total += math.exp(-unit.rate * (a - tau)) * flows
    return HOURS_PER_YEAR * total + unit.scrap * math.exp(-unit.rate * (end - tau))
