"""Monthly book-depreciation schedules for an asset, from its in-service date.

Rules (the ones finance checks in a spreadsheet):

- **Pro-rata by days.** The in-service month counts ``days in service / days in the month``
  of a month (2024-02-29 is 1/29 of February 2024). The life is exactly ``life_months`` months
  long, so when the first month is partial the schedule runs one calendar month more and the
  last month takes the complement (28/29 of a month for that asset). Months in between count
  as whole months whatever their length, so straight line books the same amount each month.
- **Prospective changes.** A change of life or salvage applies from the start of its month:
  the book value posted so far, less the new salvage, is spread over the life left (the new
  life counts from the in-service date). Nothing already booked is restated. This is the
  "change in accounting estimate" of IAS 8 / ASC 250, and what ERPNext and Odoo users expect.
- **Cents.** Each month's amount is rounded to the cent, half up; the last month takes the
  rounding residue, so the amounts sum exactly to cost minus (final) salvage.

Methods, with ``B`` the book value, ``S`` the salvage, ``L`` the life left in months and ``w``
the part of a month in service:

- ``straight_line``: ``(B - S) * w / L``.
- ``syd``: sum of the months' digits over the life left, ``(B - S) * w (2L - w + 1) / (L (L + 1))``
  (for whole months, the SYD function with the life in months).
- ``ddb`` / ``declining_balance``: ``B * w * factor / life`` with factor 2 / ``factor`` (default
  1.5), switching to straight line when that is larger (as VDB does), so the book value reaches
  salvage at the end of the life.
- ``macrs``: the IRS percentages (:mod:`service.engine.macrs`) of each tax year, taken as the
  calendar year; the first year's amount is spread over the months from the in-service date
  (the first month pro rata by days), later years over their twelve months. The life must be a
  MACRS recovery period in months, salvage zero, and no changes (tax depreciation is fixed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from typing import get_args

from service.engine.errors import DepreciationInputError
from service.engine.macrs import macrs_percentages
from service.engine.types import CENT, BookMethod, Convention, cents

__all__ = [
    "METHODS",
    "Change",
    "Method",
    "Money",
    "MonthlyRow",
    "monthly_schedule",
]

Method = BookMethod  # the vocabulary is declared in service.engine.types
METHODS: tuple[Method, ...] = get_args(Method)

Money = Decimal | int | float

MAX_LIFE_MONTHS = 1_200


@dataclass(frozen=True, slots=True)
class Change:
    """A new life (months from the in-service date) and/or salvage from ``effective_month`` on.

    Any day of the month names the month.
    """

    effective_month: date
    new_life_months: int | None = None
    new_salvage: Money | None = None


@dataclass(frozen=True, slots=True)
class MonthlyRow:
    """One calendar month (``month`` is its first day) of a book schedule, in cents."""

    month: date
    depreciation: Decimal
    accumulated: Decimal
    book_value: Decimal


def monthly_schedule(
    *,
    cost: Money,
    salvage: Money,
    life_months: int,
    in_service: date,
    method: Method,
    changes: Sequence[Change] = (),
    factor: float = 1.5,
    convention: Convention = "half_year",
) -> list[MonthlyRow]:
    """Month-by-month depreciation from ``in_service`` to the end of the life (see module doc).

    ``factor`` is used by ``declining_balance`` only; ``convention`` by ``macrs`` only (under
    ``mid_quarter`` the quarter is the in-service date's calendar quarter).

    >>> rows = monthly_schedule(cost=250_000, salvage=0, life_months=60,
    ...                         in_service=date(2024, 2, 29), method="straight_line")
    >>> rows[0].depreciation, rows[1].depreciation, len(rows), rows[-1].book_value
    (Decimal('143.68'), Decimal('4166.67'), 61, Decimal('0.00'))
    """
    start_cost = _money("cost", cost)
    start_salvage = _money("salvage", salvage)
    if start_salvage > start_cost:
        raise DepreciationInputError(
            "salvage",
            f"salvage ({start_salvage}) must not exceed cost ({start_cost})",
            kind="conflict",
        )
    life = _life("life_months", life_months)
    if not isinstance(in_service, date) or isinstance(in_service, datetime):
        raise DepreciationInputError("in_service", f"in_service must be a date, got {in_service!r}")
    if method not in METHODS:
        raise DepreciationInputError("method", f"method must be one of {METHODS}, got {method!r}")
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not math.isfinite(factor):
        raise DepreciationInputError("factor", f"factor must be a finite number, got {factor!r}")
    if factor <= 0:
        raise DepreciationInputError("factor", f"factor must be > 0, got {factor!r}")
    if method == "macrs":
        return _macrs_months(start_cost, start_salvage, life, in_service, changes, convention)
    rate_factor = 2.0 if method == "ddb" else float(factor)
    return _book_months(
        start_cost,
        start_salvage,
        life,
        in_service,
        method,
        _pending(changes, in_service),
        rate_factor,
    )


# --- methods ----------------------------------------------------------------------------------


def _book_months(
    cost: Decimal,
    salvage: Decimal,
    life: int,
    in_service: date,
    method: Method,
    pending: list[Change],
    factor: float,
) -> list[MonthlyRow]:
    month = in_service.replace(day=1)
    first_weight = Fraction(_days_in_month(month) - in_service.day + 1, _days_in_month(month))
    elapsed = Fraction(0)
    book = cost
    exact_book = float(cost)
    rows: list[MonthlyRow] = []
    while True:
        if pending and pending[0].effective_month == month:
            life, salvage = _apply(pending.pop(0), life, salvage, elapsed, book)
            exact_book = float(book)  # re-base on what has been posted
        remaining = life - elapsed
        weight = first_weight if not rows else min(Fraction(1), remaining)
        if weight == remaining:
            amount = book - salvage
        else:
            exact = _amount(method, exact_book, float(salvage), remaining, weight, factor / life)
            exact_book -= exact
            amount = min(cents(exact), book - salvage)
        book -= amount
        rows.append(MonthlyRow(month, amount, cost - book, book))
        elapsed += weight
        if elapsed == life:
            break
        month = _next_month(month)
    if pending:
        raise DepreciationInputError(
            "effective_month",
            f"change effective {pending[0].effective_month:%Y-%m} is after the last month of the "
            f"schedule ({month:%Y-%m})",
            kind="conflict",
        )
    return rows


def _amount(
    method: Method, book: float, salvage: float, remaining: Fraction, weight: Fraction, rate: float
) -> float:
    left, w = float(remaining), float(weight)
    depreciable = max(book - salvage, 0.0)
    straight_line = depreciable * w / left
    if method == "straight_line":
        return straight_line
    if method == "syd":
        return depreciable * w * (2 * left - w + 1) / (left * (left + 1))
    return min(depreciable, max(book * rate * w, straight_line))


def _macrs_months(
    cost: Decimal,
    salvage: Decimal,
    life: int,
    in_service: date,
    changes: Sequence[Change],
    convention: Convention,
) -> list[MonthlyRow]:
    if salvage != 0:
        raise DepreciationInputError(
            "salvage", "salvage must be 0 for macrs (MACRS ignores salvage)", kind="conflict"
        )
    if changes:
        raise DepreciationInputError(
            "changes", "changes are not allowed for macrs (tax recovery is fixed)", kind="conflict"
        )
    if life % 12:
        raise DepreciationInputError(
            "life_months", f"life_months must be whole years for macrs, got {life}", kind="conflict"
        )
    quarter = (in_service.month - 1) // 3 + 1 if convention == "mid_quarter" else None
    percents = macrs_percentages(life // 12, convention, quarter)
    month = in_service.replace(day=1)
    first_weight = Fraction(_days_in_month(month) - in_service.day + 1, _days_in_month(month))
    first_year_weights = [first_weight, *[Fraction(1)] * (12 - month.month)]
    exact: list[float] = [
        float(cost) * percents[0] / 100 * float(w / sum(first_year_weights))
        for w in first_year_weights
    ]
    for percent in percents[1:]:
        exact += [float(cost) * percent / 100 / 12] * 12
    book = cost
    rows = []
    for index, amount_exact in enumerate(exact):
        amount = book if index == len(exact) - 1 else min(cents(amount_exact), book)
        book -= amount
        rows.append(MonthlyRow(month, amount, cost - book, book))
        month = _next_month(month)
    return rows


# --- changes ----------------------------------------------------------------------------------


def _pending(changes: Sequence[Change], in_service: date) -> list[Change]:
    first_month = in_service.replace(day=1)
    normalised = []
    for change in changes:
        if not isinstance(change, Change):
            raise DepreciationInputError(
                "changes", f"changes must be Change values, got {change!r}"
            )
        when = change.effective_month
        if not isinstance(when, date) or isinstance(when, datetime):
            raise DepreciationInputError(
                "effective_month", f"effective_month must be a date, got {when!r}"
            )
        if change.new_life_months is None and change.new_salvage is None:
            raise DepreciationInputError(
                "changes",
                f"change effective {when:%Y-%m} sets neither new_life_months nor new_salvage",
            )
        if when.replace(day=1) < first_month:
            raise DepreciationInputError(
                "effective_month",
                f"change effective {when:%Y-%m} is before the in-service month {first_month:%Y-%m}",
                kind="conflict",
            )
        normalised.append(Change(when.replace(day=1), change.new_life_months, change.new_salvage))
    normalised.sort(key=lambda change: change.effective_month)
    for earlier, later in pairwise(normalised):
        if earlier.effective_month == later.effective_month:
            raise DepreciationInputError(
                "effective_month",
                f"two changes are effective in {later.effective_month:%Y-%m}; merge them",
                kind="conflict",
            )
    return normalised


def _apply(
    change: Change, life: int, salvage: Decimal, elapsed: Fraction, book: Decimal
) -> tuple[int, Decimal]:
    if change.new_life_months is not None:
        life = _life("new_life_months", change.new_life_months)
        if life <= elapsed:
            raise DepreciationInputError(
                "new_life_months",
                f"new_life_months ({life}) must exceed the {float(elapsed):.4g} months already "
                f"depreciated by {change.effective_month:%Y-%m}",
                kind="conflict",
            )
    if change.new_salvage is not None:
        salvage = _money("new_salvage", change.new_salvage)
        if salvage > book:
            raise DepreciationInputError(
                "new_salvage",
                f"new_salvage ({salvage}) must not exceed the book value ({book}) at "
                f"{change.effective_month:%Y-%m}",
                kind="conflict",
            )
    return life, salvage


# --- helpers ----------------------------------------------------------------------------------


def _money(name: str, value: Money) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise DepreciationInputError(name, f"{name} must be an amount of money, got {value!r}")
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite():
        raise DepreciationInputError(name, f"{name} must be a finite amount, got {value!r}")
    if amount < 0:
        raise DepreciationInputError(name, f"{name} must be >= 0, got {value!r}")
    if amount != amount.quantize(CENT):
        raise DepreciationInputError(name, f"{name} must be a whole number of cents, got {value!r}")
    return amount.quantize(CENT)


def _life(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DepreciationInputError(
            name, f"{name} must be a whole number of months, got {value!r}"
        )
    if not 1 <= value <= MAX_LIFE_MONTHS:
        raise DepreciationInputError(
            name, f"{name} must be between 1 and {MAX_LIFE_MONTHS}, got {value}"
        )
    return value


def _days_in_month(month: date) -> int:
    return (_next_month(month) - month).days


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)
