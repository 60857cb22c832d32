"""Book depreciation with the semantics of the spreadsheet functions of the same names.

Finance checks every number in a spreadsheet, so each function here returns what Excel and
LibreOffice Calc return for the same arguments (to floating-point noise);
:mod:`service.engine.depreciation_tables` lists those values period by period for
``GET /depreciation``.

Where a spreadsheet does not validate (SYD past the end of the life in LibreOffice and
Gnumeric, DB with month 13 in Gnumeric, a negative cost anywhere), these functions refuse with
:class:`DepreciationInputError` (naming the argument in ``field``) instead of returning a
number that no accountant would book.

Sources:

- Microsoft support: SLN, SYD, DDB, DB and VDB function pages
  (https://support.microsoft.com/office/ , search the function name).
- LibreOffice Help, "Financial Functions Part One/Two/Three", and the reference implementation
  in LibreOffice ``sc/source/core/tool/interpr2.cxx`` (``ScGetDDB``, ``ScInterVDB``, ``ScVDB``,
  ``ScDB``), which is what "fractional periods" and "switch" mean in practice.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from service.engine.errors import DepreciationInputError

__all__ = [
    "MAX_LIFE",
    "DepreciationInputError",
    "db",
    "ddb",
    "sln",
    "syd",
    "vdb",
]


MAX_LIFE = 36_500
"""Longest life accepted, in periods: a century of daily periods (DB and VDB loop over it)."""


# --- validation -------------------------------------------------------------------------------


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DepreciationInputError(name, f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise DepreciationInputError(name, f"{name} must be a finite number, got {value!r}")
    return float(value)


def _whole(name: str, value: float) -> int:
    number = _finite(name, value)
    if not number.is_integer():
        raise DepreciationInputError(name, f"{name} must be a whole number, got {value!r}")
    return int(number)


def _check_asset(cost: float, salvage: float, life: float) -> None:
    _finite("cost", cost)
    _finite("salvage", salvage)
    _finite("life", life)
    if cost < 0:
        raise DepreciationInputError("cost", f"cost must be >= 0, got {cost!r}")
    if salvage < 0:
        raise DepreciationInputError("salvage", f"salvage must be >= 0, got {salvage!r}")
    if salvage > cost:
        raise DepreciationInputError(
            "salvage", f"salvage ({salvage!r}) must not exceed cost ({cost!r})", kind="conflict"
        )
    if not 0 < life <= MAX_LIFE:
        raise DepreciationInputError("life", f"life must be > 0 and <= {MAX_LIFE}, got {life!r}")


def _check_factor(factor: float) -> None:
    _finite("factor", factor)
    if factor <= 0:
        raise DepreciationInputError("factor", f"factor must be > 0, got {factor!r}")


def _check_period(name: str, period: float, first: float, last: float) -> None:
    _finite(name, period)
    if not first <= period <= last:
        raise DepreciationInputError(
            name, f"{name} must be between {first:g} and {last:g}, got {period!r}"
        )


# --- the spreadsheet functions ----------------------------------------------------------------


def sln(cost: float, salvage: float, life: float) -> float:
    """Straight-line depreciation for one period: ``(cost - salvage) / life``.

    Source: Microsoft support, "SLN function"; LibreOffice Help, "SLN".

    >>> sln(30000, 7500, 10)
    2250.0
    """
    _check_asset(cost, salvage, life)
    return (cost - salvage) / life


def syd(cost: float, salvage: float, life: float, per: float) -> float:
    """Sum-of-years'-digits depreciation for period ``per`` (1 <= per <= life).

    ``SYD = (cost - salvage) * (life - per + 1) * 2 / (life * (life + 1))``

    Source: Microsoft support, "SYD function"; LibreOffice Help, "SYD".

    >>> round(syd(30000, 7500, 10, 1), 2)
    4090.91
    """
    _check_asset(cost, salvage, life)
    _check_period("per", per, 1, life)
    return (cost - salvage) * (life - per + 1) * 2 / (life * (life + 1))


def ddb(cost: float, salvage: float, life: float, period: float, factor: float = 2) -> float:
    """Declining-balance depreciation at ``factor / life`` for ``period`` (1 <= period <= life).

    With ``rate = min(factor / life, 1)``, the book value after ``p`` periods is
    ``cost * (1 - rate) ** p``, and

    ``DDB = min(cost * (1 - rate) ** (period - 1) - cost * (1 - rate) ** period,
                max(0, cost * (1 - rate) ** (period - 1) - salvage))``

    so the book value never falls below salvage, and there is no switch to straight line
    (use :func:`vdb` for that). Fractional periods follow the same closed form, as in Excel
    and LibreOffice.

    Source: Microsoft support, "DDB function"
    (``Min((cost - total depreciation from prior periods) * (factor/life),
    (cost - salvage - total depreciation from prior periods))``); LibreOffice ``ScGetDDB``.

    >>> ddb(2400, 300, 10, 1, 2)
    480.0
    """
    _check_asset(cost, salvage, life)
    _check_period("period", period, 1, life)
    _check_factor(factor)
    return _ddb(cost, salvage, life, period, factor)


def _ddb(cost: float, salvage: float, life: float, period: float, factor: float) -> float:
    rate = factor / life
    if rate >= 1:
        # The whole depreciable amount goes in the first period.
        rate = 1.0
        old_value = cost if period == 1 else 0.0
    else:
        old_value = cost * (1 - rate) ** (period - 1)
    new_value = cost * (1 - rate) ** period
    amount = old_value - salvage if new_value < salvage else old_value - new_value
    return max(amount, 0.0)


def db(cost: float, salvage: float, life: float, period: float, month: float = 12) -> float:
    """Fixed-declining-balance depreciation for ``period`` (whole numbers).

    ``rate = ROUND(1 - (salvage / cost) ** (1 / life), 3)`` (half away from zero, as the
    spreadsheets' ROUND); then

    - first period: ``cost * rate * month / 12``
    - periods 2..life: ``(cost - total depreciation from prior periods) * rate``
    - period ``life + 1`` (only when ``month < 12``):
      ``(cost - total depreciation from prior periods) * rate * (12 - month) / 12``

    Because the rate is rounded, the book value at the end can differ slightly from salvage,
    exactly as in the spreadsheets.

    Source: Microsoft support, "DB function"; LibreOffice Help, "DB"; LibreOffice ``ScDB``.

    >>> round(db(1000000, 100000, 6, 1, 7), 2)
    186083.33
    """
    _check_asset(cost, salvage, life)
    if cost == 0:
        raise DepreciationInputError("cost", "cost must be > 0 for DB (the rate divides by it)")
    years = _whole("life", life)
    whole_period = _whole("period", period)
    months = _whole("month", month)
    if not 1 <= months <= 12:
        raise DepreciationInputError("month", f"month must be between 1 and 12, got {month!r}")
    last = years + 1 if months < 12 else years
    _check_period("period", whole_period, 1, last)
    return _db_amounts(cost, salvage, years, months)[whole_period - 1]


def _db_amounts(cost: float, salvage: float, life: int, month: int) -> list[float]:
    rate = _round_half_up(1 - (salvage / cost) ** (1 / life), 3)
    amounts = [cost * rate * month / 12]
    total = amounts[0]
    for _ in range(2, life + 1):
        amount = (cost - total) * rate
        amounts.append(amount)
        total += amount
    if month < 12:
        amounts.append((cost - total) * rate * (12 - month) / 12)
    return amounts


def _round_half_up(value: float, places: int) -> float:
    # Spreadsheets round the decimal number they display (15 significant digits) half away
    # from zero: a rate of exactly 0.0625 becomes 0.063, where round() would give 0.062.
    shown = Decimal(f"{value:.15g}")
    return float(shown.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def vdb(
    cost: float,
    salvage: float,
    life: float,
    start_period: float,
    end_period: float,
    factor: float = 2,
    no_switch: bool = False,
) -> float:
    """Declining-balance depreciation between two (possibly fractional) periods.

    Whole periods ``k`` get ``d_k = min(DDB(k), book - salvage)`` at ``factor / life``; unless
    ``no_switch``, from the first period where straight line over the remaining life,
    ``(book - salvage) / (life - k + 1)``, is larger than DDB, that straight-line amount is
    used for every remaining period, so the asset reaches salvage exactly at the end of its
    life. ``VDB(start, end)`` is the sum of ``d_k`` over the periods between ``start`` and
    ``end``, a fractional period counting that fraction of its whole-period amount (linear
    within a period, so ``VDB(0, 0.875)`` is 87.5% of the first year).

    Requires ``0 <= start_period <= end_period <= life``.

    Source: Microsoft support, "VDB function"; LibreOffice Help, "VDB"; the algorithm is
    LibreOffice's ``ScVDB``/``ScInterVDB``, which Gnumeric also uses.

    >>> round(vdb(2400, 300, 10 * 12, 6, 18), 2)
    396.31
    """
    _check_asset(cost, salvage, life)
    _finite("start_period", start_period)
    _finite("end_period", end_period)
    if start_period < 0:
        raise DepreciationInputError(
            "start_period", f"start_period must be >= 0, got {start_period!r}"
        )
    if start_period > end_period:
        raise DepreciationInputError(
            "start_period",
            f"start_period ({start_period!r}) must not exceed end_period ({end_period!r})",
            kind="conflict",
        )
    if end_period > life:
        raise DepreciationInputError(
            "end_period",
            f"end_period ({end_period!r}) must not exceed life ({life!r})",
            kind="conflict",
        )
    _check_factor(factor)
    if not isinstance(no_switch, bool):
        raise DepreciationInputError(
            "no_switch", f"no_switch must be true or false, got {no_switch!r}"
        )
    if no_switch:
        return _vdb_no_switch(cost, salvage, life, start_period, end_period, factor)
    return _vdb_switch(cost, salvage, life, start_period, end_period, factor)


def _vdb_no_switch(
    cost: float, salvage: float, life: float, start: float, end: float, factor: float
) -> float:
    first, last = math.floor(start), math.ceil(end)
    total = 0.0
    for k in range(first + 1, last + 1):
        amount = _ddb(cost, salvage, life, k, factor)
        if k == first + 1:
            amount *= min(end, first + 1) - start
        elif k == last:
            amount *= end + 1 - last
        total += amount
    return total


def _vdb_switch(
    cost: float, salvage: float, life: float, start: float, end: float, factor: float
) -> float:
    first, last = math.floor(start), math.ceil(end)
    # Fractions of the first and last whole periods that lie outside [start, end].
    outside = 0.0
    if start != first:
        book = cost - _whole_periods(cost, salvage, life, life, first, factor)
        outside += (start - first) * _whole_periods(book, salvage, life, life - first, 1, factor)
    if end != last:
        book = cost - _whole_periods(cost, salvage, life, life, last - 1, factor)
        outside += (last - end) * _whole_periods(book, salvage, life, life - last + 1, 1, factor)
    book = cost - _whole_periods(cost, salvage, life, life, first, factor)
    return _whole_periods(book, salvage, life, life - first, last - first, factor) - outside


def _whole_periods(
    cost: float, salvage: float, life: float, remaining_life: float, periods: int, factor: float
) -> float:
    return sum(_whole_period_amounts(cost, salvage, life, remaining_life, periods, factor))


def _whole_period_amounts(
    cost: float, salvage: float, life: float, remaining_life: float, periods: int, factor: float
) -> list[float]:
    """Depreciation of a book value ``cost`` in each of its next ``periods`` whole periods.

    DDB at ``factor / life`` until straight line over ``remaining_life`` is larger
    (LibreOffice ``ScInterVDB``).
    """
    amounts: list[float] = []
    depreciable = cost - salvage
    straight_line = 0.0
    switched = False
    for k in range(1, periods + 1):
        if not switched:
            declining = _ddb(cost, salvage, life, k, factor)
            straight_line = depreciable / (remaining_life - (k - 1))
            switched = straight_line > declining
            if not switched:
                depreciable -= declining
                amounts.append(declining)
                continue
        amounts.append(straight_line)
    return amounts
