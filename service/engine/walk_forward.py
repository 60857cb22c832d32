"""The walk-forward predictions the backtest scores (see :mod:`service.engine.backtest`): at
each origin, the calibration the service would have used, the engine's answers to what callers
ask, and the baselines that see the same history."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from service.engine.assumptions import Assumptions
from service.engine.calibration import Calibration, calibrate, month_index
from service.engine.errors import EngineInputError
from service.engine.normalise import Normalised
from service.engine.panel import seller_of
from service.engine.types import (
    DAYS_PER_MONTH,
    QUOTE_TERMS,
    FrontierEntry,
    FxRate,
    ModelSpec,
    Observation,
    Term,
)
from service.engine.valuation import quote, residual

__all__ = [
    "History",
    "Prediction",
    "calibrated",
    "lease_predictions",
    "market_predictions",
    "months_between",
    "quarters",
    "sale_predictions",
    "window",
]


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


def quarters(start: date, end: date) -> list[date]:
    first = date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
    origins = []
    while first < end:
        origins.append(first)
        month = first.month + 3
        first = date(first.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    return origins


def months_between(start: date, end: date) -> float:
    return (end - start).days / DAYS_PER_MONTH


@dataclass(slots=True)
class History:
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
            if months_between(o.observed_on, self.origin) <= 12:
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


def calibrated(
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


def window(rows: Sequence[Normalised], origin: date) -> list[Normalised]:
    return [
        n
        for n in rows
        if origin < n.source.observed_on and months_between(origin, n.source.observed_on) <= 12
    ]


def lease_predictions(
    segment: str,
    cal: Calibration,
    registry: dict[str, ModelSpec],
    targets: Sequence[Normalised],
    history: History,
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


def market_predictions(
    cal: Calibration,
    registry: dict[str, ModelSpec],
    targets: Sequence[Normalised],
    history: History,
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


def sale_predictions(
    cal: Calibration,
    registry: dict[str, ModelSpec],
    targets: Sequence[Normalised],
    history: History,
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
