"""Walk-forward backtest on the shipped data: the engine beats both naive baselines."""

from __future__ import annotations

from datetime import date
from functools import cache

import pytest

from service.engine import BacktestReport, ErrorStats, backtest
from tests.engine.valuation_data import FRONTIER, fx, models, observations

START = date(2023, 7, 1)


@cache
def report() -> BacktestReport:
    return backtest(models(), observations(), fx(), FRONTIER, start=START)


def _beats(stats: ErrorStats) -> None:
    for metric in (stats.mdape, stats.mape):
        assert metric["engine"] < metric["last_price"]
        assert metric["engine"] < metric["median_12m"]


def test_engine_beats_both_baselines_overall() -> None:
    _beats(report().overall)


@pytest.mark.parametrize("kind", ["lease", "sale"])
def test_engine_beats_both_baselines_by_kind(kind: str) -> None:
    _beats(report().by_kind[kind])


def test_predictions_are_out_of_sample_and_grouped() -> None:
    r = report()
    assert all(p.observed_on > p.origin for p in r.predictions)
    assert r.overall.n == len(r.predictions) == sum(s.n for s in r.by_kind.values())
    assert set(r.by_horizon) <= {"0-3m", "3-6m", "6-12m"} and set(r.by_regime) <= {
        "frontier",
        "behind",
    }


def test_progress_is_reported_per_origin() -> None:
    calls: list[tuple[int, int]] = []
    few = [o for o in observations() if o.observed_on < date(2024, 1, 1)]
    backtest(
        models(),
        few,
        fx(),
        FRONTIER,
        start=date(2023, 7, 1),
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls and calls[-1][0] == calls[-1][1]
