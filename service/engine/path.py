"""The expected rent path of a model and the income value of a unit of a given age along it.

Rents follow ``R(τ) = R0·e^(-λ1·τ)`` while the model is at the frontier, drop by the factor
``step`` when the frontier moves past it at ``τ = m``, and decline at ``λ2`` after that; τ is
years after the valuation date. Units of one model earn the same rent whatever their age: age
acts through what is left. A unit of age ``x`` retires at the first τ where
``u·R(τ) <= C + r·S/H`` (the net rent no longer beats the interest on the scrap value) or when
it reaches its physical life, and may fail before: a Gompertz hazard
``h(x) = h0·e^(g·x)`` per year of age (Gompertz 1825; a wear-out hazard that rises with age),
so a unit survives from age x to x + τ with probability ``exp(-∫ h)``. A failed unit earns
nothing more; a surviving unit is sold for scrap S at retirement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.engine.income import HOURS_PER_YEAR, annuity

__all__ = [
    "PIECE_YEARS",
    "RentPath",
    "Segment",
    "UnitEconomics",
    "cumulative_hazard",
    "end_of_life",
    "rent_at",
    "value_at",
]

#: Length (years) of the pieces over which the hazard is held at its mid-point value: a
#: quarter changes a 10%-a-year hazard by under 1% of itself, and each piece is then exact.
PIECE_YEARS = 0.25


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

    def scaled(self, factor: float) -> RentPath:
        return RentPath(tuple(Segment(s.start, s.rent * factor, s.decline) for s in self.segments))


@dataclass(frozen=True, slots=True)
class UnitEconomics:
    """What the owner earns and pays: utilisation u, opex C per GPU-hour, rate r, scrap S, the
    physical life left (years), and the failure hazard: ``h0`` at age 0, growth ``g`` per year
    of age, the unit's ``age`` (years) at τ = 0."""

    utilisation: float
    cost: float
    rate: float
    scrap: float
    life_left: float
    age: float = 0.0
    hazard0: float = 0.0
    hazard_growth: float = 0.0

    def hazard(self, age: float) -> float:
        """``h(x) = h0·e^(g·x)`` per year."""
        return self.hazard0 * math.exp(self.hazard_growth * age)


def cumulative_hazard(unit: UnitEconomics, start_age: float, end_age: float) -> float:
    """``∫ h(x) dx`` from ``start_age`` to ``end_age``: ``h0/g·(e^(g·b) - e^(g·a))`` (``h0·(b-a)``
    when g = 0)."""
    if end_age <= start_age or unit.hazard0 == 0.0:
        return 0.0
    g = unit.hazard_growth
    if abs(g) < 1e-12:
        return unit.hazard0 * (end_age - start_age)
    return unit.hazard0 / g * (math.exp(g * end_age) - math.exp(g * start_age))


def rent_at(path: RentPath, tau: float) -> float:
    """``R(τ)`` on the path."""
    seg = [s for s in path.segments if s.start <= tau][-1]
    return seg.rent * math.exp(-seg.decline * (tau - seg.start))


def _segment_end(path: RentPath, index: int) -> float:
    segments = path.segments
    return segments[index + 1].start if index + 1 < len(segments) else math.inf


def end_of_life(path: RentPath, unit: UnitEconomics) -> float:
    """When the owner retires the unit: the retirement date that maximises its value
    (:func:`value_at` from now), among the dates where its rent falls below the cost of
    keeping it, ``u·R(τ) = C + r·S/H``, and the end of its physical life.

    On a path that only falls this is the first such date, as in the textbook optimal
    replacement rule (keep an asset while its earnings cover the cost of keeping it). A path
    bootstrapped from term quotes of different sellers can also dip between two terms and
    recover; retiring in the dip is then one candidate among others, and a unit whose later
    rents pay for the dip is kept through it. On each segment earning above the hurdle at its
    start, the crossing is ``τ = start + ln(u·R_start / (C + r·S/H)) / λ`` (the segment's end
    where it is not reached)."""
    hurdle = unit.cost + unit.rate * unit.scrap / HOURS_PER_YEAR
    candidates: list[float] = []
    earning_before = math.inf
    for index, seg in enumerate(path.segments):
        if seg.start >= unit.life_left:
            break
        earning = unit.utilisation * seg.rent
        if earning <= hurdle < earning_before:
            candidates.append(seg.start)  # a step down through the hurdle
        end = min(_segment_end(path, index), unit.life_left)
        earning_before = earning * math.exp(-seg.decline * (end - seg.start))
        if earning > hurdle and seg.decline > 0.0:
            crossing = seg.start + math.log(earning / hurdle) / seg.decline
            if crossing < end:
                candidates.append(crossing)
                earning_before = hurdle
    if earning_before > hurdle or not candidates:
        candidates.append(unit.life_left)
    candidates = sorted({min(c, unit.life_left) for c in candidates})
    if len(candidates) == 1:
        return candidates[0]
    return max(candidates, key=lambda end: (value_at(path, unit, 0.0, end), -end))


def value_at(path: RentPath, unit: UnitEconomics, tau: float, end: float) -> float:
    """Value at τ of a unit (surviving to τ) retired at ``end``: the expected PV of net rents to
    ``end`` plus scrap, weighted by survival.

    On a piece [a, b] of a rent segment, with the hazard h held at its mid-point age and
    ``D(a) = e^(-r(a-τ) - H(τ,a))`` the survival-weighted discount factor to a:

        D(a)·H_yr·[u·R_a·ann(r+λ+h, b-a) - C·ann(r+h, b-a)],   ann(k, T) = (1 - e^(-kT))/k

    plus ``S·D(end)``. With h = 0 and one segment this is the appendix formula
    ``V = H·[u·R0·ann(r+λ, L) - C·ann(r, L)] + S·e^(-rL)``; after ``end`` the unit is worth S.
    """
    if tau >= end:
        return unit.scrap
    total = 0.0
    log_discount = 0.0  # log D at the start of the current piece
    position = tau
    for index, seg in enumerate(path.segments):
        a_seg = max(seg.start, tau)
        b_seg = min(_segment_end(path, index), end)
        if b_seg <= a_seg:
            continue
        a = a_seg
        while a < b_seg - 1e-12:
            b = min(a + PIECE_YEARS, b_seg)
            age_mid = unit.age + (a + b) / 2.0
            h = unit.hazard(age_mid) if unit.hazard0 > 0.0 else 0.0
            log_discount -= unit.rate * (a - position)
            position = a
            rent_a = seg.rent * math.exp(-seg.decline * (a - seg.start))
            flows = unit.utilisation * rent_a * annuity(unit.rate + seg.decline + h, b - a)
            flows -= unit.cost * annuity(unit.rate + h, b - a)
            total += math.exp(log_discount) * flows
            log_discount -= h * (b - a)
            a = b
    log_discount -= unit.rate * (end - position)
    return HOURS_PER_YEAR * total + unit.scrap * math.exp(log_discount)
