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
from service.engine.calibration import Calibration, calibrate, month_index
from service.engine.errors import EngineInputError
from service.engine.fx import FxTable
from service.engine.normalise import Normalised, normalise
from service.engine.panel import seller_of
from service.engine.types import QUOTE_TERMS, FrontierEntry, FxRate, ModelSpec, Observation, Term
from service.engine.valuation import quote, residual

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
class Prediction:
    """One scored answer: segment, origin, target, the engine's answer and band, baselines."""

    segment: str
    origin: date
    observed_on: date
    model: str
    term: str
    actual: float
    engine: float
    low: float
    high: float
    last_price: float | None
    last_card: float | None
    median_12m: float | None


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


@dataclass(slots=True)
class _History:
    """Baselines from what was observed on or before the origin."""

    rows: Sequence[Normalised]
    origin: date
    _last: dict[tuple[str, str, str], float] = field(default_factory=dict)
    _card: dict[tuple[str, str, str, str], float] = field(default_factory=dict)
    _recent: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for n in sorted(self.rows, key=lambda h: (h.source.observed_on, h.log_price)):
            o = n.source
            term = o.term if o.kind == "lease" else ""
            price = math.exp(n.log_price)
            self._last[(o.model_slug, o.kind, term)] = price
            self._card[(o.model_slug, o.kind, term, _seller(n))] = price
            if _months(o.observed_on, self.origin) <= 12:
                self._recent.setdefault((o.model_slug, o.kind, term), []).append(price)

    def last(self, model: str, kind: str, term: str) -> float | None:
        return self._last.get((model, kind, term))

    def card(self, model: str, kind: str, term: str, seller: str) -> float | None:
        return self._card.get((model, kind, term, seller))

    def median(self, model: str, kind: str, term: str) -> float | None:
        recent = self._recent.get((model, kind, term))
        return statistics.median(recent) if recent else None


def _seller(n: Normalised) -> str:
    return seller_of(n.provider, community=n.community, component=n.component)


def _quote_term(term: str) -> Term:
    """The term a caller asks for (every observed term but "unknown" is one)."""
    if term not in QUOTE_TERMS:
        raise ValueError(f"no quote term for {term!r}")
    return term


def _calibrated(
    models: Sequence[ModelSpec],
    observations: Sequence[Observation],
    fx: Sequence[FxRate],
    frontier: Sequence[FrontierEntry],
    origin: date,
) -> Calibration | None:
    """The calibration the service would use for data recorded by ``origin``."""
    seen = [o for o in observations if o.observed_on <= origin]
    if not seen:
        return None
    evidence_on = max(o.observed_on for o in seen)
    known = [e for e in frontier if e.effective_from <= origin]
    try:
        return calibrate(models, seen, fx, known, as_of=evidence_on)
    except EngineInputError:
        return None


def _window(rows: Sequence[Normalised], origin: date) -> list[Normalised]:
    return [
        n
        for n in rows
        if origin < n.source.observed_on and _months(origin, n.source.observed_on) <= 12
    ]


def _lease_predictions(
    segment: str,
    cal: Calibration,
    registry: dict[str, ModelSpec],
    targets: Sequence[Normalised],
    history: _History,
    origin: date,
    a: Assumptions,
    *,
    by_provider: bool = False,
    baselines: bool = True,
) -> list[Prediction]:
    out = []
    memo: dict[tuple[str, str, date, str | None], tuple[float, float, float] | None] = {}
    for n in targets:
        o = n.source
        if o.kind != "lease" or n.commentary or o.term == "unknown":
            continue
        spec = registry[o.model_slug]
        term = _quote_term(o.term)
        provider = _seller(n) if by_provider else None
        if by_provider and provider not in cal.panel.sellers:
            continue
        key = (spec.slug, term, o.observed_on, provider)
        if key not in memo:
            try:
                q = quote(
                    cal, spec, term=term, as_of=o.observed_on, assumptions=a, provider=provider
                )
                memo[key] = (q.rate_per_gpu_hour, q.low, q.high)
            except EngineInputError:
                memo[key] = None
        answer = memo[key]
        if answer is None:
            continue
        last = history.last(o.model_slug, "lease", o.term) if baselines else None
        card = history.card(o.model_slug, "lease", o.term, _seller(n)) if by_provider else None
        median = history.median(o.model_slug, "lease", o.term) if baselines else None
        out.append(
            Prediction(
                segment,
                origin,
                o.observed_on,
                o.model_slug,
                o.term,
                math.exp(n.log_price),
                *answer,
                last,
                card,
                median,
            )
        )
    return out


def _market_predictions(
    cal: Calibration,
    registry: dict[str, ModelSpec],
    targets: Sequence[Normalised],
    history: _History,
    origin: date,
    a: Assumptions,
) -> list[Prediction]:
    """Cross-seller median of each model, term and month against the quote at mid-month (or
    the month's last price date, when the window ends earlier)."""
    cells: dict[tuple[str, str, int], list[tuple[float, date]]] = {}
    for n in targets:
        o = n.source
        if o.kind == "lease" and not n.commentary and o.term != "unknown":
            cells.setdefault((o.model_slug, o.term, month_index(o.observed_on)), []).append(
                (math.exp(n.log_price), o.observed_on)
            )
    out = []
    for (model, term, month), rows in sorted(cells.items()):
        prices = [p for p, _ in rows]
        on = min(date(month // 12, month % 12 + 1, 15), max(d for _, d in rows))
        try:
            q = quote(
                cal,
                registry[model],
                term=_quote_term(term),
                as_of=max(on, cal.as_of),
                assumptions=a,
            )
        except EngineInputError:
            continue
        out.append(
            Prediction(
                "market",
                origin,
                on,
                model,
                term,
                statistics.median(prices),
                q.rate_per_gpu_hour,
                q.low,
                q.high,
                history.last(model, "lease", term),
                None,
                history.median(model, "lease", term),
            )
        )
    return out


def _sale_predictions(
    cal: Calibration,
    registry: dict[str, ModelSpec],
    targets: Sequence[Normalised],
    history: _History,
    origin: date,
    a: Assumptions,
) -> list[Prediction]:
    out = []
    for n in targets:
        o = n.source
        if o.kind != "sale" or n.commentary or o.condition not in ("new", "used"):
            continue
        age = 0.0 if o.condition == "new" else None
        try:
            r = residual(
                cal, registry[o.model_slug], as_of=o.observed_on, age_months=age, assumptions=a
            )
        except EngineInputError:
            continue
        out.append(
            Prediction(
                "sales",
                origin,
                o.observed_on,
                o.model_slug,
                o.condition or "unknown",
                math.exp(n.log_price),
                r.value_per_gpu,
                r.low,
                r.high,
                history.last(o.model_slug, "sale", ""),
                None,
                history.median(o.model_slug, "sale", ""),
            )
        )
    return out


def _horizon(p: Prediction) -> str:
    months = _months(p.origin, p.observed_on)
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
    origins = _quarters(start, max(o.observed_on for o in usable))
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
        cal = _calibrated(models, usable, fx, frontier, origin)
        if cal is not None:
            history = _History([n for n in normalised if n.source.observed_on <= origin], origin)
            targets = [
                n
                for n in _window(normalised, origin)
                if registry[n.source.model_slug].release_date <= n.source.observed_on
            ]
            every = _lease_predictions("all", cal, registry, targets, history, origin, a)
            rows += every
            rows += [replace(p, segment=_horizon(p)) for p in every]
            rows += _market_predictions(cal, registry, targets, history, origin, a)
            rows += _lease_predictions(
                "provider", cal, registry, targets, history, origin, a, by_provider=True
            )
            rows += _sale_predictions(cal, registry, targets, history, origin, a)
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
        cal = _calibrated(models, kept, fx, frontier, origin)
        if cal is None:
            continue
        history = _History(
            [n for n in normalised if n.provider != provider and n.source.observed_on <= origin],
            origin,
        )
        out += _lease_predictions("leave-one-provider-out", cal, registry, mine, history, origin, a)
    for model in left_models:
        mine = [n for n in targets if n.source.model_slug == model and n.source.kind == "lease"]
        if not mine:
            continue
        kept = [o for o in usable if o.model_slug != model]
        cal = _calibrated(models, kept, fx, frontier, origin)
        if cal is None:
            continue
        history = _History([], origin)
        out += _lease_predictions(
            "leave-one-model-out", cal, registry, mine, history, origin, a, baselines=False
        )
        out += [
            replace(
                p, segment="leave-one-model-out, market level", last_price=None, median_12m=None
            )
            for p in _market_predictions(cal, registry, mine, history, origin, a)
        ]
    return out
