"""US tax depreciation: MACRS, General Depreciation System, 200% declining balance.

The percentages are computed from first principles, not copied from the IRS tables, and they
reproduce IRS Publication 946, Appendix A, tables A-1 (half-year convention) and A-2 to A-5
(mid-quarter convention, property placed in service in quarters 1 to 4) exactly as printed.

The method (Pub 946, chapter 4, "Figuring Depreciation Under MACRS"): the declining-balance
rate is ``2 / recovery_years``; the first year gets only the part of a year the convention
allows (half a year; or 10.5, 7.5, 4.5 or 1.5 months for quarters 1 to 4); each later year
takes the larger of the declining-balance amount ``basis_left * rate`` and straight line over
the recovery period left, ``basis_left / years_left``; the year in which less than one year
is left takes what remains. Salvage is ignored by law.

How the IRS prints the tables: it rounds the running total to two decimals and prints the
differences, so every column sums to exactly 100.00 (rounding each year on its own would give
44.44 instead of 44.45 for 3-year property in year 2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cache

from service.engine.depreciation import DepreciationInputError
from service.engine.types import Convention

__all__ = [
    "RECOVERY_YEARS",
    "Convention",
    "MacrsRow",
    "first_year_fraction",
    "macrs_percentages",
    "macrs_schedule",
]


RECOVERY_YEARS: Mapping[Convention, tuple[int, ...]] = {"half_year": (3, 5, 7), "mid_quarter": (5,)}
"""The property classes whose printed Pub 946 columns are shipped and checked cell by cell.

The method generalises (10-year property, and 3- and 7-year property under the mid-quarter
convention, are also 200% declining balance), but nothing guarantees that the IRS rounded those
printed columns the same way, so they are refused until their printed values are added to
``service/data/macrs_pub946.csv`` and the tests.
"""


@dataclass(frozen=True, slots=True)
class MacrsRow:
    """One tax year: the table ``percent`` and its share of the cost."""

    period: int
    percent: float
    depreciation: float
    accumulated: float
    book_value: float


def first_year_fraction(convention: Convention, quarter: int | None = None) -> Fraction:
    """Part of the first tax year the convention treats the property as in service.

    Half-year: 1/2. Mid-quarter: from the middle of the quarter placed in service to the end of
    the year, ``(12 - 3 * (quarter - 1) - 1.5) / 12``: 7/8, 5/8, 3/8, 1/8 (Pub 946, "Mid-quarter
    convention").
    """
    _check_convention(convention, quarter)
    if convention == "half_year":
        return Fraction(1, 2)
    assert quarter is not None  # checked above
    return (Fraction(27, 2) - 3 * quarter) / 12


def macrs_percentages(
    recovery_years: int, convention: Convention = "half_year", quarter: int | None = None
) -> tuple[float, ...]:
    """Yearly MACRS percentages of the unadjusted basis, as printed in Pub 946 tables A-1 to A-5.

    ``recovery_years + 1`` values (the convention pushes the last part into an extra year),
    summing to exactly 100.00.

    Source: IRS Publication 946, "How To Depreciate Property", Appendix A.

    >>> macrs_percentages(3)
    (33.33, 44.45, 14.81, 7.41)
    >>> macrs_percentages(5, "mid_quarter", 4)
    (5.0, 38.0, 22.8, 13.68, 10.94, 9.58)
    """
    return tuple(float(percent) for percent in _printed(recovery_years, convention, quarter))


def macrs_schedule(
    cost: float,
    recovery_years: int,
    convention: Convention = "half_year",
    quarter: int | None = None,
) -> list[MacrsRow]:
    """Tax depreciation of ``cost`` year by year: ``cost * percent / 100`` (Pub 946, "Using the
    MACRS Percentage Tables"); ``accumulated`` reaches ``cost`` exactly in the last year.
    """
    if isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost):
        raise DepreciationInputError("cost", f"cost must be a finite number, got {cost!r}")
    if cost < 0:
        raise DepreciationInputError("cost", f"cost must be >= 0, got {cost!r}")
    rows = []
    running = Decimal(0)
    for year, percent in enumerate(_printed(recovery_years, convention, quarter), start=1):
        running += percent
        accumulated = cost * float(running / 100)
        rows.append(
            MacrsRow(
                year, float(percent), cost * float(percent) / 100, accumulated, cost - accumulated
            )
        )
    return rows


def _check_convention(convention: str, quarter: int | None) -> None:
    if convention == "half_year":
        if quarter is not None:
            raise DepreciationInputError(
                "quarter", "quarter applies only to the mid_quarter convention"
            )
    elif convention == "mid_quarter":
        if isinstance(quarter, bool) or quarter not in (1, 2, 3, 4):
            raise DepreciationInputError(
                "quarter",
                f"quarter must be 1, 2, 3 or 4 for the mid_quarter convention, got {quarter!r}",
            )
    else:
        raise DepreciationInputError(
            "convention", f"convention must be 'half_year' or 'mid_quarter', got {convention!r}"
        )


def _printed(
    recovery_years: int, convention: Convention, quarter: int | None
) -> tuple[Decimal, ...]:
    _check_convention(convention, quarter)
    supported = RECOVERY_YEARS[convention]
    if isinstance(recovery_years, bool) or recovery_years not in supported:
        raise DepreciationInputError(
            "recovery_years",
            f"recovery_years must be one of {supported} for the {convention} convention, "
            f"got {recovery_years!r}",
        )
    return _printed_cached(recovery_years, first_year_fraction(convention, quarter))


@cache
def _printed_cached(recovery_years: int, first_year: Fraction) -> tuple[Decimal, ...]:
    printed = []
    previous = Decimal(0)
    running = Fraction(0)
    for share in _exact_shares(recovery_years, first_year):
        running += share
        total = _round_percent(running)
        printed.append(total - previous)
        previous = total
    return tuple(printed)


def _exact_shares(recovery_years: int, first_year: Fraction) -> list[Fraction]:
    """Exact yearly fractions of the basis: 200% declining balance switching to straight line."""
    rate = Fraction(2, recovery_years)
    basis_left = Fraction(1)
    shares = [basis_left * rate * first_year]
    basis_left -= shares[0]
    years_left = recovery_years - first_year
    while basis_left > 0:
        # In the year that less than a full year is left, straight line takes all that is left.
        share = basis_left if years_left <= 1 else max(basis_left * rate, basis_left / years_left)
        shares.append(share)
        basis_left -= share
        years_left -= 1
    return shares


def _round_percent(fraction_of_basis: Fraction) -> Decimal:
    """Percent to two decimals, half up (exact: no binary floating point involved)."""
    hundredths = math.floor(fraction_of_basis * 10_000 + Fraction(1, 2))
    return Decimal(hundredths).scaleb(-2)
