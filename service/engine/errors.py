"""Errors the engine raises about its inputs: each names the field a caller got wrong, so the
web layer can answer 422 without guessing. Any other exception from the engine is a bug."""

from __future__ import annotations

from datetime import date

__all__ = [
    "BeyondHorizon",
    "CalibrationUnavailable",
    "EngineInputError",
    "NotReleased",
]


class EngineInputError(ValueError):
    """An input the engine cannot price: ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


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
