"""Walk-forward backtest (DESIGN.md 4, issue 3 item 4), pure: no clock, no I/O.

At each origin s (the first day of each quarter from ``start``) the engine is calibrated on
what was observed by s, with the frontier timeline as known by s, and predicts every
observation dated in (s, s + 12 months]. Two naive baselines predict the same observations
from the same history: the last observed price of the same model and term (sales: model and
kind), and the trailing 12-month median of that model (same kind). Only observations that
all three can predict are scored, so the comparison is like for like.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from service.engine.assumptions import Assumptions
from service.engine.calibration import (
    Calibration,
    calibrate,
    card_of,
    reference_price,
    sale_features,
    series_of,
)
from service.engine.frontier import frontier_at, is_behind, support_of
from service.engine.fx import FxTable
from service.engine.hedonic import features_of
from service.engine.normalise import Normalised, normalise
from service.engine.path import rent_at
from service.engine.state import State, state_of
from service.engine.types import FrontierEntry, FxRate, ModelSpec, Observation

__all__ = ["BacktestReport", "ErrorStats", "Prediction", "backtest"]

_HORIZONS = ((3, "0-3m"), (6, "3-6m"), (12, "6-12m"))
_METHODS = ("engine", "last_price", "median_12m")


@dataclass(frozen=True, slots=True)
class Prediction:
    """One scored prediction: the observation, its origin, and each method's forecast (USD)."""

    origin: date
    observed_on: date
    model: str
    kind: str
    regime: str
    horizon: str
    actual: float
    engine: float
    last_price: float
    median_12m: float


@dataclass(frozen=True, slots=True)
class ErrorStats:
    """Median and mean absolute percentage error (in %) per method over ``n`` predictions."""

    n: int
    mdape: dict[str, float]
    mape: dict[str, float]


@dataclass(frozen=True, slots=True)
class BacktestReport:
    """Errors overall and by kind, model, regime and horizon; ``predictions`` for audit."""

    start: date
    origins: tuple[date, ...]
    overall: ErrorStats
    by_kind: dict[str, ErrorStats]
    by_model: dict[str, ErrorStats]
    by_regime: dict[str, ErrorStats]
    by_horizon: dict[str, ErrorStats]
    predictions: tuple[Prediction, ...] = field(repr=False)


def _quarters(start: date, end: date) -> list[date]:
    first = date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
    origins = []
    while first < end:
        origins.append(first)
        month = first.month + 3
        first = date(first.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    return origins


def _months(start: date, end: date) -> float:
    return (end - start).days / 30.436875


def _horizon(origin: date, target: date) -> str | None:
    months = _months(origin, target)
    return next((label for limit, label in _HORIZONS if months <= limit), None)


def _lease_forecast(cal: Calibration, n: Normalised, spec: ModelSpec, st: State) -> float:
    """Hedonic log rent of the observation's own attributes at the origin, moved along the
    model's expected rent path (``st``: the model's state at the origin) to the observation
    date."""
    o = n.source
    layout = cal.rent.layout
    f = features_of(
        spec,
        support_of(spec),
        cal.frontier,
        cal.as_of,
        o.term,
        flags=(n.hyperscaler, n.community, n.component, n.commentary),
        provider=n.provider if n.provider in layout.providers else None,
        model=spec.slug if spec.slug in layout.models else None,
    )
    card = card_of(n)
    f = replace(f, card=card if card in layout.cards else None)
    tau = (o.observed_on - cal.as_of).days / 365.25
    return math.exp(cal.rent.log_rent(f)) * rent_at(st.path, tau) / rent_at(st.path, 0.0)


def _sale_forecast(cal: Calibration, n: Normalised, spec: ModelSpec) -> float | None:
    sales = cal.sales
    if sales is None:
        return None
    price, _ = reference_price(cal.rent, cal.price_to_rent, spec, cal.frontier)
    o = n.source
    f = sale_features(
        spec,
        cal.frontier,
        o.observed_on,
        math.log(price),
        condition=o.condition or "unknown",
        listing=n.listing,
        system=n.system,
        commentary=n.commentary,
        model=spec.slug if spec.slug in sales.models else None,
    )
    series = series_of(n)
    f = replace(f, series=series if series in sales.series else None)
    return math.exp(sales.log_price(f))


def _baselines(
    history: Sequence[Normalised], target: Normalised, origin: date
) -> tuple[float, float] | None:
    o = target.source
    same_model = [
        h for h in history if h.source.model_slug == o.model_slug and h.source.kind == o.kind
    ]
    same_term = [h for h in same_model if o.kind == "sale" or h.source.term == o.term]
    recent = [
        math.exp(h.log_price) for h in same_model if _months(h.source.observed_on, origin) <= 12
    ]
    if not same_term or not recent:
        return None
    last = max(same_term, key=lambda h: (h.source.observed_on, h.log_price))
    return math.exp(last.log_price), statistics.median(recent)


def _score(rows: Sequence[Prediction]) -> ErrorStats:
    mdape, mape = {}, {}
    for method in _METHODS:
        errors = [abs(getattr(p, method) - p.actual) / p.actual * 100 for p in rows]
        mdape[method] = statistics.median(errors) if errors else math.nan
        mape[method] = statistics.fmean(errors) if errors else math.nan
    return ErrorStats(len(rows), mdape, mape)


def _group(rows: Sequence[Prediction], key: Callable[[Prediction], str]) -> dict[str, ErrorStats]:
    groups: dict[str, list[Prediction]] = {}
    for p in rows:
        groups.setdefault(key(p), []).append(p)
    return {k: _score(v) for k, v in sorted(groups.items())}


def _predict_origin(
    origin: date,
    models: dict[str, ModelSpec],
    observations: Sequence[Observation],
    normalised: Sequence[Normalised],
    fx: Sequence[FxRate],
    frontier: Sequence[FrontierEntry],
    a: Assumptions,
) -> list[Prediction]:
    known_frontier = [e for e in frontier if e.effective_from <= origin]
    cal = calibrate(list(models.values()), observations, fx, known_frontier, as_of=origin)
    history = [n for n in normalised if n.source.observed_on <= origin]
    # Per origin, baselines depend only on (model, kind, lease term) and a model's state only
    # on the model: computed once each (the same values, without rescanning the history).
    baselines: dict[tuple[str, str, str], tuple[float, float] | None] = {}
    states: dict[str, State] = {}
    result = []
    for n in normalised:
        o = n.source
        horizon = _horizon(origin, o.observed_on) if o.observed_on > origin else None
        if horizon is None:
            continue
        key = (o.model_slug, o.kind, o.term if o.kind == "lease" else "")
        if key not in baselines:
            baselines[key] = _baselines(history, n, origin)
        base = baselines[key]
        if base is None:
            continue
        spec = models[o.model_slug]
        if o.kind == "lease":
            if spec.slug not in states:
                states[spec.slug] = state_of(
                    cal, spec, as_of=cal.as_of, age_months=None, a=a, fp8=None, fp4=None
                )
            engine: float | None = _lease_forecast(cal, n, spec, states[spec.slug])
        else:
            engine = _sale_forecast(cal, n, spec)
        if engine is None:
            continue
        behind = is_behind(support_of(spec), frontier_at(known_frontier, o.observed_on))
        result.append(
            Prediction(
                origin,
                o.observed_on,
                o.model_slug,
                o.kind,
                "behind" if behind else "frontier",
                horizon,
                math.exp(n.log_price),
                engine,
                base[0],
                base[1],
            )
        )
    return result


def backtest(
    models: Sequence[ModelSpec],
    observations: Sequence[Observation],
    fx: Sequence[FxRate],
    frontier: Sequence[FrontierEntry],
    *,
    start: date,
    assumptions: Assumptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestReport:
    """Quarterly walk-forward from ``start`` to the last observation; ``progress(done, total)``
    is called after each origin (for a progress bar)."""
    registry = {m.slug: m for m in models}
    usable = [o for o in observations if o.model_slug in registry]
    normalised = normalise(usable, FxTable(fx))
    origins = _quarters(start, max(o.observed_on for o in usable))
    a = assumptions or Assumptions()
    rows: list[Prediction] = []
    for done, origin in enumerate(origins, start=1):
        rows += _predict_origin(origin, registry, usable, normalised, fx, frontier, a)
        if progress is not None:
            progress(done, len(origins))
    return BacktestReport(
        start=start,
        origins=tuple(origins),
        overall=_score(rows),
        by_kind=_group(rows, lambda p: p.kind),
        by_model=_group(rows, lambda p: p.model),
        by_regime=_group(rows, lambda p: p.regime),
        by_horizon=_group(rows, lambda p: p.horizon),
        predictions=tuple(rows),
    )
