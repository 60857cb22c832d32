"""The income approach at many ages of one model on one date, in one vectorised pass (NumPy).

A fleet holds thousands of distinct ages of each model. :func:`service.engine.approaches.
income_value` values one age: it builds the unit's economics (:func:`service.engine.unit.
unit_of`), finds its retirement date (:func:`service.engine.path.end_of_life`) and integrates
its expected net rents to that date (:func:`service.engine.path.value_at`), a few hundred
Python float operations per age. :func:`income_by_age` runs the same formulas over an array of
ages at once: the rent path is the model's, shared by every age, and only the unit's economics
(life left and age) differ.

Source of every formula: the docstrings of the scalar functions named above, which this module
follows operation for operation, in the same order (the float results agree to rounding: NumPy's
``exp``/``log``/``expm1`` may differ from the ``math`` module's in the last bit). The unit's
economics are read from ``unit_of`` itself, at age 0, and the two fields that depend on the
age from its array form beside it (:func:`service.engine.unit.unit_ages`), so a change of the
method there (the physical life, the hazard) reaches this module without a copy; the tests
compare :func:`income_by_age` with :func:`income_value` for every released model at several
dates and ages, past the physical life included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from operator import attrgetter

import numpy as np
import numpy.typing as npt

from service.engine.assumptions import Assumptions
from service.engine.income import HOURS_PER_YEAR
from service.engine.path import PIECE_YEARS, RentPath, UnitEconomics
from service.engine.state import State
from service.engine.unit import unit_ages, unit_of

__all__ = ["Units", "end_of_life", "income_by_age", "value_at"]

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Units:
    """:class:`~service.engine.path.UnitEconomics` of many units, one array per field."""

    utilisation: Floats
    cost: Floats
    rate: Floats
    scrap: Floats
    life_left: Floats
    age: Floats
    hazard0: Floats
    hazard_growth: Floats

    @classmethod
    def of(cls, units: list[UnitEconomics]) -> Units:
        n = len(units)
        return cls(
            *(np.fromiter(map(attrgetter(f.name), units), np.float64, n) for f in fields(cls))
        )

    def take(self, index: npt.NDArray[np.int64]) -> Units:
        return Units(*(getattr(self, f.name)[index] for f in fields(self)))

    def __len__(self) -> int:
        return len(self.life_left)


def income_by_age(
    st: State, path: RentPath, a: Assumptions, reference: float, ages: Floats
) -> tuple[Floats, Floats]:
    """(value, years to retirement) at each of ``ages`` (months): at every age what
    :func:`service.engine.approaches.income_value` returns, ``value_at(path, unit, 0, end)``
    with ``end = end_of_life(path, unit)`` and the unit of ``unit_of`` at that age."""
    scrap = a.scrap_fraction * reference
    unit = unit_of(st.spec, a, scrap, 0.0, st.capacity)  # the fields the same at any age
    life_left, age = unit_ages(a, ages)
    same = {f.name: np.full(len(ages), getattr(unit, f.name)) for f in fields(Units)}
    units = Units(**{**same, "life_left": life_left, "age": age})
    end = end_of_life(path, units)
    return value_at(path, units, end), end


def _segment_end(path: RentPath, index: int) -> float:
    segments = path.segments
    return segments[index + 1].start if index + 1 < len(segments) else math.inf


def end_of_life(path: RentPath, units: Units) -> Floats:
    """:func:`service.engine.path.end_of_life` of each unit on ``path``: the retirement date
    that maximises the unit's value among the dates where its rent falls below the cost of
    keeping it (``u·R(τ) = C + r·S/H``; on a segment ``τ = start + ln(u·R_start/hurdle)/λ``,
    and a step down through the hurdle at a segment's start) and the end of its physical life;
    of two dates worth the same, the earlier."""
    n = len(units)
    life = units.life_left
    hurdle = units.cost + units.rate * units.scrap / HOURS_PER_YEAR
    candidates: list[Floats] = []
    earning_before = np.full(n, math.inf)
    on = np.ones(n, dtype=np.bool_)
    with np.errstate(all="ignore"):
        for index, seg in enumerate(path.segments):
            on = on & (seg.start < life)  # the scalar loop breaks here, for good
            earning = units.utilisation * seg.rent
            step = on & (earning <= hurdle) & (hurdle < earning_before)
            candidates.append(np.where(step, seg.start, np.nan))
            end = np.minimum(_segment_end(path, index), life)
            after = earning * np.exp(-seg.decline * (end - seg.start))
            earning_before = np.where(on, after, earning_before)
            if seg.decline > 0.0:
                crossing = seg.start + np.log(earning / hurdle) / seg.decline
                crossed = on & (earning > hurdle) & (crossing < end)
                candidates.append(np.where(crossed, crossing, np.nan))
                earning_before = np.where(crossed, hurdle, earning_before)
        found = np.column_stack(candidates) if candidates else np.full((n, 0), np.nan)
        none = np.all(np.isnan(found), axis=1)
        last = np.where((earning_before > hurdle) | none, life, np.nan)
        found = np.minimum(np.column_stack([found, last]), life[:, None])  # NaN stays NaN
        low, high = np.nanmin(found, axis=1), np.nanmax(found, axis=1)
    out: Floats = low.copy()
    several = np.flatnonzero(low != high)
    if several.size:
        out[several] = _best_end(path, units.take(several), found[several])
    return out


def _best_end(path: RentPath, units: Units, found: Floats) -> Floats:
    """Per unit, the candidate end (a row of ``found``, NaN where none) of the highest value
    from now, the earliest of equal ones: ``max(ends, key=(value, -end))``."""
    row, col = np.nonzero(~np.isnan(found))
    ends = found[row, col]
    values = value_at(path, units.take(row), ends)
    order = np.lexsort((ends, -values, row))  # by unit, then value down, then end up
    first = np.ones(order.size, dtype=np.bool_)
    first[1:] = row[order][1:] != row[order][:-1]
    best: Floats = ends[order][first]
    return best


def _annuity(k: Floats, years: Floats) -> Floats:
    """:func:`service.engine.income.annuity`: ``(1 - e^(-k·T)) / k``, ``T`` where k·T ≈ 0."""
    with np.errstate(all="ignore"):
        out: Floats = np.where(np.abs(k * years) < 1e-12, years, -np.expm1(-k * years) / k)
    return out


def value_at(path: RentPath, units: Units, end: Floats) -> Floats:
    """:func:`service.engine.path.value_at` at τ = 0 of each unit retired at its ``end``: on
    each piece [a, b] of a rent segment (pieces of a quarter, hazard h at the mid-point age),
    ``D(a)·H_yr·[u·R_a·ann(r+λ+h, b-a) - C·ann(r+h, b-a)]`` with ``D(a) = e^(-r·a - H(0,a))``,
    plus ``S·D(end)``; ``S`` where ``end`` is 0."""
    with np.errstate(all="ignore"):  # pieces a unit does not have may overflow; not kept
        return _value_at(path, units, end)


def _value_at(path: RentPath, units: Units, end: Floats) -> Floats:
    n = len(units)
    total = np.zeros(n)
    log_discount = np.zeros(n)  # log D at the start of the current piece
    position = np.zeros(n)
    rate, u, cost = units.rate, units.utilisation, units.cost
    hazardous = units.hazard0 > 0.0
    for index, seg in enumerate(path.segments):
        a = max(seg.start, 0.0)
        b_seg = np.minimum(_segment_end(path, index), end)
        live = b_seg > a
        # Every unit's pieces start at the same points a, a + ¼, (a + ¼) + ¼, ...; a unit's
        # last piece ends at its b_seg.
        while True:
            on = live & (a < b_seg - 1e-12)
            if not on.any():
                break
            b = np.minimum(a + PIECE_YEARS, b_seg)
            width = b - a
            age_mid = units.age + (a + b) / 2.0
            h = np.where(hazardous, units.hazard0 * np.exp(units.hazard_growth * age_mid), 0.0)
            log_discount = np.where(on, log_discount - rate * (a - position), log_discount)
            position = np.where(on, a, position)
            rent_a = seg.rent * math.exp(-seg.decline * (a - seg.start))
            flows = u * rent_a * _annuity(rate + seg.decline + h, width)
            flows = flows - cost * _annuity(rate + h, width)
            total = np.where(on, total + np.exp(log_discount) * flows, total)
            log_discount = np.where(on, log_discount - h * width, log_discount)
            a = a + PIECE_YEARS
    log_discount = log_discount - rate * (end - position)
    value: Floats = np.where(
        end > 0.0, HOURS_PER_YEAR * total + units.scrap * np.exp(log_discount), units.scrap
    )
    return value
