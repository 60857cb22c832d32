"""Walk-forward backtest of what callers get, on the shipped data: /quote beats the last price
of the same model and term in every segment, /residual beats the last sale price, the market
level is within 10%, a model priced from its specifications alone within 15%, and the 80% band
covers 70-90% of unseen prices in every segment it is measured on."""

from __future__ import annotations

import math
from datetime import date
from functools import cache

import pytest

from service.engine import BacktestReport, backtest
from service.engine.backtest import SEGMENTS
from service.reference import FRONTIER, fx, models, observations

START = date(2023, 7, 1)


@cache
def report() -> BacktestReport:
    """What `gpuval backtest` reports, leave-one-out refits included (about 35 s)."""
    return backtest(models(), observations(), fx(), FRONTIER, start=START)


WITH_BASELINE = [s for s in SEGMENTS if not s.startswith("leave-one-model-out")]


@pytest.mark.parametrize("segment", WITH_BASELINE)
def test_the_engine_beats_the_last_price_in_every_segment(segment: str) -> None:
    stats = report().segments[segment]
    assert stats.n > 100
    assert stats.mdape["engine"] < stats.mdape["last_price"], stats


def test_the_market_level_is_within_ten_percent() -> None:
    assert report().segments["market"].mdape["engine"] <= 10.0


def test_eighty_percent_bands_cover_seventy_to_ninety_percent_of_unseen_prices() -> None:
    segments = ("all", "market", "leave-one-provider-out", "leave-one-model-out", "sales")
    assert set(report().coverage) == set(segments)
    for segment in segments:
        assert 0.70 <= report().coverage[segment] <= 0.90, segment


def test_a_model_priced_from_its_specifications_alone_is_within_fifteen_percent() -> None:
    for segment in ("leave-one-model-out", "leave-one-model-out, market level"):
        stats = report().segments[segment]
        assert stats.n > 1000, segment
        assert stats.mdape["engine"] <= 15.0, (segment, stats)
        assert math.isnan(stats.mdape["last_price"])  # no history: no last price to repeat


def test_predictions_are_out_of_sample_and_as_a_caller_would_ask() -> None:
    r = report()
    assert r.predictions
    for p in r.predictions:
        assert p.origin < p.observed_on <= date(p.origin.year + 1, p.origin.month, p.origin.day)
        assert p.term != "unknown"  # no caller can ask for it
        assert p.low <= p.engine <= p.high


def test_progress_is_reported_per_origin() -> None:
    calls: list[tuple[int, int]] = []
    few = [o for o in observations() if o.observed_on < date(2024, 1, 1)]
    backtest(
        models(),
        few,
        fx(),
        FRONTIER,
        start=date(2023, 7, 1),
        leave_out=False,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls and calls[-1][0] == calls[-1][1]
