"""Walk-forward backtest of what callers get, pure: no clock, no I/O.

At each origin s (the first day of each quarter from ``start``) the engine is calibrated as the
service would calibrate for a caller whose data were recorded by s: on every observation dated
on or before s, at the last evidence date. It then answers exactly as ``GET /quote`` and
``GET /residual`` answer, with the arguments a caller would pass (model, term, ``as_of`` = the
observation's date; nothing the API cannot know, such as the observation's provider, enters a
market-level prediction), for every observation dated in (s, s + 12 months]. Segments:

- ``all``: every lease price, against the on-demand/spot/fixed-term quote of its term (prices
  whose card did not state a term are not scored: no caller can ask for term "unknown");
- ``market``: the cross-seller median price of a model, term and month, against the quote at
  mid-month;
- ``horizon 1-3m`` / ``4-6m`` / ``7-12m``: ``all`` by months after the last evidence;
- ``provider``: every lease price against the quote at its provider's level (``provider=``);
- ``leave-one-provider-out``: refit without a provider, score its prices at the market level;
- ``leave-one-model-out``: refit without a model, price it from its specifications (every
  price, and the cross-seller monthly median as in ``market``);
- ``sales``: new and used sale prices against ``/residual`` (age 0 for a new unit, the market
  age for a used one; prices of unstated condition are not scored).

Baselines see the same history as the engine: the last price of the same model and term
(``last_price``; sales: the model's last sale), the last price of the same provider's card
(``last_card``, provider segment only) and the trailing 12-month median of the model and term
(``median_12m``). Coverage: the share of ``all`` prices inside the quote's 80% band.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from service.engine.assumptions import Assumptions
from service.engine.fx import FxTable
from service.engine.normalise import Normalised, normalise
from service.engine.types import FrontierEntry, FxRate, ModelSpec, Observation
from service.engine.walk_forward import (
    History,
    Prediction,
    calibrated,
    lease_predictions,
    market_predictions,
    months_between,
    quarters,
    sale_predictions,
    window,
)

__all__ = ["METHODS", "SEGMENTS", "BacktestReport", "ErrorStats", "Prediction", "backtest"]

METHODS = ("engine", "last_price", "last_card", "median_12m")
SEGMENTS = (
    "all",
    "market",
    "horizon 1-3m",
    "horizon 4-6m",
    "horizon 7-12m",
    "provider",
    "leave-one-provider-out",
    "leave-one-model-out",
    "leave-one-model-out, market level",
    "sales",
)
#: Providers and models with at least this many lease prices are left out in turn.
LEAVE_OUT_MIN_ROWS = 40


@dataclass(frozen=True, slots=True)
class ErrorStats:
    """Median and mean absolute percentage error (%) per method over the ``n`` predictions
    where every method shown exists (NaN: the baseline does not exist in the segment)."""

    n: int
    mdape: dict[str, float]
    mape: dict[str, float]


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """Errors per segment, band coverage, and every prediction for audit."""

    start: date
    origins: tuple[date, ...]
    segments: dict[str, ErrorStats]
    coverage: dict[str, float]
    by_model: dict[str, ErrorStats]
    predictions: tuple[Prediction, ...] = field(repr=False)

    @property
    def overall(self) -> ErrorStats:
        return self.segments["all"]


def _horizon(p: Prediction) -> str:
    months = months_between(p.origin, p.observed_on)
    return "horizon 1-3m" if months <= 3 else "horizon 4-6m" if months <= 6 else "horizon 7-12m"


def _score(rows: Sequence[Prediction]) -> ErrorStats:
    """Errors of every method over the rows where all existing baselines are present: a
    baseline present in some rows and missing in others is scored on its rows only."""
    mdape, mape = {}, {}
    for method in METHODS:
        errors = [
            abs(value - p.actual) / p.actual * 100
            for p in rows
            if (value := getattr(p, method)) is not None
        ]
        mdape[method] = statistics.median(errors) if errors else math.nan
        mape[method] = statistics.fmean(errors) if errors else math.nan
    return ErrorStats(len(rows), mdape, mape)


def _comparable(rows: Sequence[Prediction]) -> list[Prediction]:
    """Rows where the last-price baseline exists (like for like), unless it exists nowhere."""
    with_last = [p for p in rows if p.last_price is not None]
    return with_last or list(rows)


def backtest(
    models: Sequence[ModelSpec],
    observations: Sequence[Observation],
    fx: Sequence[FxRate],
    frontier: Sequence[FrontierEntry],
    *,
    start: date,
    assumptions: Assumptions | None = None,
    leave_out: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestReport:
    """Quarterly walk-forward from ``start`` to the last observation (see the module doc);
    ``leave_out=False`` skips the refits of the two leave-out segments."""
    registry = {m.slug: m for m in models}
    usable = [o for o in observations if o.model_slug in registry]
    normalised = normalise(usable, FxTable(fx))
    origins = quarters(start, max(o.observed_on for o in usable))
    a = assumptions or Assumptions()
    counts: dict[str, int] = {}
    model_counts: dict[str, int] = {}
    for n in normalised:
        if n.source.kind == "lease":
            counts[n.provider] = counts.get(n.provider, 0) + 1
            model_counts[n.source.model_slug] = model_counts.get(n.source.model_slug, 0) + 1
    providers = sorted(p for p, c in counts.items() if c >= LEAVE_OUT_MIN_ROWS)
    left_models = sorted(m for m, c in model_counts.items() if c >= LEAVE_OUT_MIN_ROWS)
    rows: list[Prediction] = []
    for done, origin in enumerate(origins, start=1):
        cal = calibrated(models, usable, fx, frontier, origin)
        if cal is not None:
            history = History([n for n in normalised if n.source.observed_on <= origin], origin)
            targets = [
                n
                for n in window(normalised, origin)
                if registry[n.source.model_slug].release_date <= n.source.observed_on
            ]
            every = lease_predictions("all", cal, registry, targets, history, origin, a)
            rows += every
            rows += [replace(p, segment=_horizon(p)) for p in every]
            rows += market_predictions(cal, registry, targets, history, origin, a)
            rows += lease_predictions(
                "provider", cal, registry, targets, history, origin, a, by_provider=True
            )
            rows += sale_predictions(cal, registry, targets, history, origin, a)
            if leave_out:
                rows += _leave_one_out(
                    models,
                    usable,
                    normalised,
                    fx,
                    frontier,
                    origin,
                    registry,
                    targets,
                    providers,
                    left_models,
                    a,
                )
        if progress is not None:
            progress(done, len(origins))
    segments = {}
    for name in SEGMENTS:
        mine = [p for p in rows if p.segment == name]
        if mine:
            unbaselined = name.startswith("leave-one-model-out") or name == "provider"
            segments[name] = _score(mine if unbaselined else _comparable(mine))
    coverage = {}
    for name in ("all", "market", "leave-one-provider-out", "leave-one-model-out", "sales"):
        mine = [p for p in rows if p.segment == name]
        if mine:
            coverage[name] = sum(p.low <= p.actual <= p.high for p in mine) / len(mine)
    by_model = {}
    for model in sorted({p.model for p in rows if p.segment == "all"}):
        by_model[model] = _score(
            _comparable([p for p in rows if p.segment == "all" and p.model == model])
        )
    return BacktestReport(start, tuple(origins), segments, coverage, by_model, tuple(rows))


def _leave_one_out(
    models: Sequence[ModelSpec],
    usable: Sequence[Observation],
    normalised: Sequence[Normalised],
    fx: Sequence[FxRate],
    frontier: Sequence[FrontierEntry],
    origin: date,
    registry: dict[str, ModelSpec],
    targets: Sequence[Normalised],
    providers: Sequence[str],
    left_models: Sequence[str],
    a: Assumptions,
) -> list[Prediction]:
    out: list[Prediction] = []
    for provider in providers:
        mine = [n for n in targets if n.provider == provider and n.source.kind == "lease"]
        if not mine:
            continue
        kept = [o for o, n in zip(usable, normalised, strict=True) if n.provider != provider]
        cal = calibrated(models, kept, fx, frontier, origin)
        if cal is None:
            continue
        history = History(
            [n for n in normalised if n.provider != provider and n.source.observed_on <= origin],
            origin,
        )
        out += lease_predictions("leave-one-provider-out", cal, registry, mine, history, origin, a)
    for model in left_models:
        mine = [n for n in targets if n.source.model_slug == model and n.source.kind == "lease"]
        if not mine:
            continue
        kept = [o for o in usable if o.model_slug != model]
        cal = calibrated(models, kept, fx, frontier, origin)
        if cal is None:
            continue
        history = History([], origin)
        out += lease_predictions(
            "leave-one-model-out", cal, registry, mine, history, origin, a, baselines=False
        )
        out += [
            replace(
                p, segment="leave-one-model-out, market level", last_price=None, median_12m=None
            )
            for p in market_predictions(cal, registry, mine, history, origin, a)
        ]
    return out
