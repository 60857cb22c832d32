"""Ages and months of a fleet on ``as_of``, for whole columns of in-service dates at once."""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np
import numpy.typing as npt

__all__ = [
    "EPOCH",
    "MAX_AGE_MONTHS",
    "ages_in_months",
    "closed_month",
    "first_days",
    "month_text",
    "months_of",
]

Ints = npt.NDArray[np.int64]

MAX_AGE_MONTHS = 600.0
EPOCH = date(1970, 1, 1).toordinal()


def closed_month(as_of: date) -> date:
    """First day of the last month closed on ``as_of``: its own month on its last day."""
    if as_of.day == calendar.monthrange(as_of.year, as_of.month)[1]:
        return as_of.replace(day=1)
    if as_of.month == 1:
        return date(as_of.year - 1, 12, 1)
    return date(as_of.year, as_of.month - 1, 1)


def ages_in_months(as_of: date, days: Ints) -> npt.NDArray[np.float64]:
    """The age ``/residual`` shows (``months_in_service``, capped at ``MAX_AGE_MONTHS``) of a
    unit in service for each of ``days`` on ``as_of``, all at once and float for float: the same
    whole months (calendar months with the day clamped to the month's end, each counted from the
    in-service date) plus the same fraction, ``elapsed days / days between anniversaries``, in
    the same IEEE operations. On one ``as_of`` the days in service determine the in-service
    date (and 0 days covers every unit not yet in service), so grouping assets by days groups
    them by age."""
    end = as_of.toordinal() - EPOCH
    start = end - np.asarray(days, dtype=np.int64)
    first = months_of(start)  # year × 12 + month − 1 of the in-service date
    day = start - first_days(first) + 1
    whole = (as_of.year * 12 + as_of.month - 1) - first

    def later(months: Ints) -> Ints:  # the in-service date ``months`` calendar months on
        target = first + months
        begin = first_days(target)
        date_: Ints = begin + np.minimum(day, first_days(target + 1) - begin) - 1
        return date_

    whole = np.where(later(whole) > end, whole - 1, whole)
    anniversary, following = later(whole), later(whole + 1)
    with np.errstate(all="ignore"):  # units not in service yet: 0 below
        age = whole + (end - anniversary) / (following - anniversary)
    out: npt.NDArray[np.float64] = np.where(start >= end, 0.0, np.minimum(age, MAX_AGE_MONTHS))
    return out


def month_text(index: int) -> str:
    """``YYYY-MM`` of a month counted as ``year × 12 + month − 1``."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_of(days: Ints) -> Ints:
    """Days since 1970-01-01 → their month, counted as ``year × 12 + month − 1``."""
    months: Ints = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months + 1970 * 12


def first_days(months: Ints) -> Ints:
    """Months counted as ``year × 12 + month − 1`` → their first day, in days since 1970."""
    first: Ints = (
        (months - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    )
    return first
