"""Depreciation tables: the spreadsheet functions of :mod:`service.engine.depreciation` listed
period by period, as ``GET /depreciation`` answers them.

Each row is what the function returns for that period, so a table checks against a spreadsheet
cell by cell; ``accumulated`` is summed exactly (``math.fsum``) and ``book_value`` is cost minus
it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from service.engine.depreciation import (
    _check_asset,
    _check_factor,
    _db_amounts,
    _ddb,
    _whole,
    _whole_period_amounts,
    db,
    ddb,
    sln,
    syd,
    vdb,
)
from service.engine.errors import DepreciationInputError

__all__ = [
    "MAX_SCHEDULE_PERIODS",
    "DepreciationRow",
    "db_schedule",
    "ddb_schedule",
    "sln_schedule",
    "syd_schedule",
    "vdb_schedule",
]

MAX_SCHEDULE_PERIODS = 1_200
"""Most rows in a schedule: a century of monthly periods."""


@dataclass(frozen=True, slots=True)
class DepreciationRow:
    """One period of a depreciation schedule; ``book_value`` is cost minus ``accumulated``."""

    period: int
    depreciation: float
    accumulated: float
    book_value: float


def _schedule_life(life: float) -> int:
    periods = _whole("life", life)
    if periods > MAX_SCHEDULE_PERIODS:
        raise DepreciationInputError(
            "life",
            f"life must be at most {MAX_SCHEDULE_PERIODS} periods for a schedule, got {life!r}",
        )
    return periods


def _rows(cost: float, amounts: list[float]) -> list[DepreciationRow]:
    rows = []
    for index, amount in enumerate(amounts):
        accumulated = math.fsum(amounts[: index + 1])
        rows.append(DepreciationRow(index + 1, amount, accumulated, cost - accumulated))
    return rows


def _per_period(amount: Callable[[int], float], periods: int) -> list[float]:
    return [amount(k) for k in range(1, periods + 1)]


def sln_schedule(cost: float, salvage: float, life: float) -> list[DepreciationRow]:
    """``SLN`` for each of the ``life`` periods (``life`` a whole number)."""
    _check_asset(cost, salvage, life)
    periods = _schedule_life(life)
    return _rows(cost, _per_period(lambda _: sln(cost, salvage, periods), periods))


def syd_schedule(cost: float, salvage: float, life: float) -> list[DepreciationRow]:
    """``SYD`` for each of the ``life`` periods (``life`` a whole number)."""
    _check_asset(cost, salvage, life)
    periods = _schedule_life(life)
    return _rows(cost, _per_period(lambda k: syd(cost, salvage, periods, k), periods))


def ddb_schedule(
    cost: float, salvage: float, life: float, factor: float = 2
) -> list[DepreciationRow]:
    """``DDB`` for each of the ``life`` periods; may end above salvage (no switch)."""
    _check_asset(cost, salvage, life)
    _check_factor(factor)
    periods = _schedule_life(life)
    return _rows(cost, _per_period(lambda k: ddb(cost, salvage, periods, k, factor), periods))


def db_schedule(
    cost: float, salvage: float, life: float, month: float = 12
) -> list[DepreciationRow]:
    """``DB`` for periods 1..life, plus period ``life + 1`` when ``month < 12``."""
    db(cost, salvage, life, 1, month)  # validates every argument
    return _rows(cost, _db_amounts(cost, salvage, int(life), int(month)))


def vdb_schedule(
    cost: float, salvage: float, life: float, factor: float = 2, no_switch: bool = False
) -> list[DepreciationRow]:
    """``VDB(k - 1, k)`` for each of the ``life`` periods; ends at salvage unless ``no_switch``.

    Computed in one pass rather than ``life`` calls to :func:`vdb` (quadratic); the tests
    check that both agree.
    """
    _check_asset(cost, salvage, life)
    periods = _schedule_life(life)
    vdb(cost, salvage, periods, 0, 0, factor, no_switch)  # validates factor and no_switch
    if no_switch:
        amounts = _per_period(lambda k: _ddb(cost, salvage, periods, k, factor), periods)
    else:
        amounts = _whole_period_amounts(cost, salvage, periods, periods, periods, factor)
    return _rows(cost, amounts)
