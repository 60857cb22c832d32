"""Errors the engine raises about its inputs: each names the field a caller got wrong, so the
web layer can answer 422 without guessing. Any other exception from the engine is a bug.

``field`` is the engine's own argument name (``cost``, ``life_months``, ``as_of``); callers map
it to their field paths by that name, never by reading the message. ``kind`` says whether the
value is wrong on its own (``invalid``) or only next to another input (``conflict``: a salvage
above the cost, a change after the end of the life).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

__all__ = [
    "BeyondHorizon",
    "CalibrationUnavailable",
    "DepreciationInputError",
    "EngineInputError",
    "InputErrorKind",
    "NotReleased",
]

InputErrorKind = Literal["invalid", "conflict"]


class EngineInputError(ValueError):
    """An input the engine cannot price: ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, reason: str, *, kind: InputErrorKind = "invalid") -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason
        self.kind: InputErrorKind = kind


class DepreciationInputError(EngineInputError):
    """An argument outside the domain of a depreciation function or book schedule.

    Raised as ``DepreciationInputError(field, reason)``.
    """

    def __init__(self, field: str, reason: str, *, kind: InputErrorKind = "invalid") -> None:
        super().__init__(field, reason, kind=kind)


class NotReleased(EngineInputError):
    """The model was not on the market on ``as_of``."""

    def __init__(self, slug: str, release_date: date, as_of: date) -> None:
        super().__init__(
            "as_of",
            f"{slug} was released on {release_date.isoformat()}; it has no price on "
            f"{as_of.isoformat()}. Choose an as_of on or after its release date.",
        )
        self.release_date = release_date


class BeyondHorizon(EngineInputError):
    """``as_of`` lies further past the last evidence than the engine projects."""

    def __init__(self, evidence_on: date, as_of: date, limit_months: int, last: date) -> None:
        super().__init__(
            "as_of",
            f"as_of {as_of.isoformat()} is more than {limit_months} months after the last "
            f"market evidence ({evidence_on.isoformat()}); projections reach "
            f"{last.isoformat()} at the latest.",
        )
        self.last = last


class CalibrationUnavailable(EngineInputError):
    """Too little evidence on or before ``as_of`` to calibrate."""

    def __init__(self, as_of: date, seen: int, needed: int) -> None:
        super().__init__(
            "as_of",
            f"only {seen} lease observations are visible on {as_of.isoformat()}; "
            f"the engine needs {needed} to calibrate.",
        )
        self.seen = seen
        self.needed = needed
