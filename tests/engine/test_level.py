"""The level filter's answer to a level shift and to a one-month outlier (service.engine.level)."""

from __future__ import annotations

import math
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine.level import LevelSettings, MonthEvidence, filter_level

SETTINGS = LevelSettings(sigma=0.1)
NEVER = replace(SETTINGS, shift_run=0)  # the filter before runs of outliers were monitored


def _series(values: list[float]) -> list[MonthEvidence]:
    return [MonthEvidence(month, value, 1.0) for month, value in enumerate(values)]


def _level(values: list[float], s: LevelSettings = SETTINGS) -> float:
    state = filter_level(_series(values), len(values) - 1, s)
    assert state is not None
    return state.level


def test_a_card_that_drops_and_stays_is_followed_at_its_second_month() -> None:
    before, after = math.log(2.49), math.log(1.75)
    values = [before] * 12 + [after] * 2
    assert abs(_level(values) - after) < 0.03
    # Clipped as outliers, the same two months had moved the level less than half the way.
    assert _level(values, NEVER) - after > 0.5 * (before - after)


def test_one_outlying_month_is_clipped_as_before() -> None:
    values = [0.0] * 12 + [0.5] + [0.0] * 3
    assert _level(values[:13]) == _level(values[:13], NEVER)
    assert _level(values[:13]) < 0.25  # pulled as a two-sigma observation, not to 0.5
    assert _level(values) == _level(values, NEVER)


def test_outliers_on_alternating_sides_are_not_a_shift() -> None:
    values = [0.0] * 12 + [0.5, -0.5, 0.5, -0.5]
    assert _level(values) == _level(values, NEVER)


def test_a_shift_after_a_gap_in_the_evidence_is_still_seen() -> None:
    before, after = 1.0, 0.6
    evidence = [MonthEvidence(m, before, 2.0) for m in range(10)] + [
        MonthEvidence(12, after, 2.0),
        MonthEvidence(14, after, 2.0),
    ]
    state = filter_level(evidence, 14, SETTINGS)
    assert state is not None and abs(state.level - after) < 0.03


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-3.0, 3.0), st.floats(0.2, 20.0)), min_size=1, max_size=40),
    st.integers(0, 4),
)
def test_the_state_stays_finite_and_its_variances_positive(
    months: list[tuple[float, float]], run: int
) -> None:
    evidence = [MonthEvidence(m, v, n) for m, (v, n) in enumerate(months)]
    s = replace(SETTINGS, shift_run=run)
    state = filter_level(evidence, len(months) + 3, s)
    assert state is not None
    assert all(map(math.isfinite, (state.level, state.slope, state.var_level, state.cov)))
    assert state.var_level > 0.0 and state.var_slope > 0.0
    low, high = min(v for v, _ in months), max(v for v, _ in months)
    spread = high - low
    # The damped slope can carry the level past the data, by a bounded amount only.
    assert low - spread - 1.0 <= state.level <= high + spread + 1.0
