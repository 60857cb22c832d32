"""Benchmark of the valuation engine's calibration, quotes, residuals and backtest.

Run from the repository root::

    python bench/calibration.py              # calibrate() at three dates, quote/residual
    python bench/calibration.py --backtest   # ... and the walk-forward backtest
    python bench/calibration.py --profile    # ... and cProfile of one calibrate(), by cumtime

Loads the shipped reference data (service/data/*.csv) with the test suite's loaders, times
:func:`calibrate` at several ``as_of`` dates (best of ``--repeat`` runs), and the mean time
per :func:`quote` and :func:`residual` call over every catalogue model and term. Timings
are wall clock; on a busy machine prefer the best-of figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.engine import QUOTE_TERMS, backtest, calibrate, quote, residual
from service.reference import FRONTIER, fx, models, observations

#: Evidence dates to calibrate at: early, middle and end of the shipped data.
AS_OF = (date(2024, 6, 1), date(2025, 6, 1), date(2026, 6, 30))
#: Start of the walk-forward backtest (as in tests/engine/test_backtest.py).
BACKTEST_START = date(2023, 7, 1)


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """Smallest wall-clock time in seconds of ``repeat`` calls of ``run``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def profile_calibration(specs: object, obs: object, rates: object, top: int) -> None:
    """cProfile of one :func:`calibrate` at the last date (after a first, unprofiled one)."""
    import cProfile
    import pstats

    calibrate(specs, obs, rates, FRONTIER, as_of=AS_OF[-1])  # type: ignore[arg-type]
    profiler = cProfile.Profile()
    profiler.enable()
    calibrate(specs, obs, rates, FRONTIER, as_of=AS_OF[-1])  # type: ignore[arg-type]
    profiler.disable()
    print(f"calibrate as_of={AS_OF[-1]} under cProfile, top {top} by cumulative time:")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumtime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best is kept)")
    parser.add_argument("--backtest", action="store_true", help="also time the backtest")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=25,
        metavar="N",
        help="also profile calibrate() at the last date: the N top functions by cumtime",
    )
    args = parser.parse_args(argv)

    specs, obs, rates = models(), observations(), fx()
    print(f"data: {len(specs)} models, {len(obs)} observations, {len(rates)} FX rates")
    for as_of in AS_OF:

        def fit(as_of: date = as_of) -> object:
            return calibrate(specs, obs, rates, FRONTIER, as_of=as_of)

        seconds = best_of(args.repeat, fit)
        print(f"calibrate as_of={as_of}: {seconds * 1000:8.1f} ms (best of {args.repeat})")

    cal = calibrate(specs, obs, rates, FRONTIER, as_of=AS_OF[-1])
    quotes = [(s, t) for s in specs for t in QUOTE_TERMS]

    def all_quotes() -> None:
        for s, t in quotes:
            quote(cal, s, term=t, as_of=cal.as_of)

    def all_residuals() -> None:
        for s in specs:
            residual(cal, s, as_of=cal.as_of)

    per_quote = best_of(args.repeat, all_quotes) / len(quotes)
    per_residual = best_of(args.repeat, all_residuals) / len(specs)
    print(f"quote:    {per_quote * 1e6:8.1f} µs per call ({len(quotes)} calls)")
    print(f"residual: {per_residual * 1e6:8.1f} µs per call ({len(specs)} calls)")

    if args.profile:
        profile_calibration(specs, obs, rates, args.profile)

    if args.backtest:
        start = time.perf_counter()
        report = backtest(specs, obs, rates, FRONTIER, start=BACKTEST_START)
        seconds = time.perf_counter() - start
        print(f"backtest from {BACKTEST_START}: {seconds:6.1f} s ({len(report.origins)} origins)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
