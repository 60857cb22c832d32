"""The one place the service asks the calendar what day it is (UTC). The engine never does."""

from __future__ import annotations

from datetime import UTC, date, datetime


def today() -> date:
    return datetime.now(UTC).date()


def this_month() -> date:
    """The first day of the current month."""
    return today().replace(day=1)
