"""The calibration cache: bounded, newest evidence first, and its memo of small facts."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from service import engine
from service.valuation.cache import CalibrationCache

DAYS = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]


def _counting() -> tuple[list[int], Any]:
    fits: list[int] = []

    def fit() -> engine.Calibration:
        fits.append(1)
        return cast(engine.Calibration, object())

    return fits, fit


def test_it_keeps_the_most_recently_used_calibrations_up_to_its_capacity() -> None:
    cache = CalibrationCache(capacity=2)
    fits, fit = _counting()
    first = cache.get((1, DAYS[0], None), fit).calibration
    assert cache.get((1, DAYS[0], None), fit).calibration is first  # a hit
    cache.get((1, DAYS[1], None), fit)
    cache.get((1, DAYS[2], None), fit)  # the third pushes out the least recently used
    assert len(fits) == 3
    assert cache.get((1, DAYS[2], None), fit).evidence_version == 1
    cache.get((1, DAYS[0], None), fit)
    assert len(fits) == 4 and cache.calibrations == 4


def test_newer_evidence_drops_the_calibrations_of_older_evidence() -> None:
    cache = CalibrationCache(capacity=8)
    fits, fit = _counting()
    cache.get((1, DAYS[0], None), fit)
    cache.get((2, DAYS[1], None), fit)
    cache.get((1, DAYS[0], None), fit)  # fitted again: evidence 2 dropped it
    assert len(fits) == 3


def test_the_memo_is_bounded_and_answers_none_for_what_it_does_not_hold() -> None:
    cache = CalibrationCache(memo_capacity=2)
    assert cache.memo_get(("a",)) is None
    assert cache.memo(("a",), lambda: 1) == 1
    assert cache.memo(("a",), lambda: 2) == 1  # kept, not computed again
    cache.memo(("b",), lambda: 3)
    cache.memo(("c",), lambda: 4)
    assert cache.memo_get(("a",)) is None and cache.memo_get(("c",)) == 4
