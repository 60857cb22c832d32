"""Lease evidence for :func:`service.engine.calibration.calibrate`: the panel's rows, each
model's monthly evidence and filtered level blended with the hedonic prior, its own fixed-term
and spot levels, same-seller contract pairs, card trends, and the spread of prices around the
level that bands must cover."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import numpy as np

from service.engine.contracts import Pair
from service.engine.decline import TrendRow
from service.engine.frontier import frontier_at, is_behind, support_of
from service.engine.level import FilteredLevel, LevelSettings, MonthEvidence, filter_level
from service.engine.normalise import Normalised
from service.engine.panel import Panel, PanelRow, group_median, seller_of
from service.engine.prior import CrossSection, features, fit_cross_section
from service.engine.types import FrontierEntry, ModelSpec

__all__ = [
    "BAND",
    "RECENCY_HALF_LIFE",
    "ModelLevel",
    "dispersion",
    "model_levels",
    "month_evidence",
    "month_index",
    "monthly",
    "pairs",
    "panel_rows",
    "robust_sigma",
    "term_levels",
    "trend_rows",
]

K = TypeVar("K", bound=Hashable)


#: Recency half-life (years) of lease weights for the panel, trends and contracts.
RECENCY_HALF_LIFE = 1.5


#: Quantiles of the 80% band.
BAND = 0.8


def month_index(on: date) -> int:
    """Months since January of year 0 (a month axis for the level filter)."""
    return on.year * 12 + on.month - 1


@dataclass(frozen=True, slots=True)
class ModelLevel:
    """A model's market level at the calibration date (log USD per GPU-hour, median seller,
    on-demand): its own filtered level and variance, the hedonic prior, and the blend."""

    log_level: float
    variance: float
    slope: float  # the filter's damped slope per month at the evidence date (0 without own data)
    own: float | None
    own_variance: float | None
    prior: float
    credibility: float
    last_evidence: date | None
    observations: int


def _behind_on(spec: ModelSpec, frontier: Sequence[FrontierEntry], on: date) -> bool:
    return is_behind(support_of(spec), frontier_at(frontier, on))


def _recency(as_of: date, on: date) -> float:
    return float(0.5 ** ((as_of - on).days / 365.25 / RECENCY_HALF_LIFE))


def panel_rows(
    leases: Sequence[Normalised],
    registry: dict[str, ModelSpec],
    frontier: Sequence[FrontierEntry],
    as_of: date,
) -> list[PanelRow]:
    rows = []
    for n in leases:
        o = n.source
        if n.commentary:
            continue  # market commentary is not a rate card
        term = o.term if o.term != "unknown" else "unknown"
        rows.append(
            PanelRow(
                model=o.model_slug,
                month=month_index(o.observed_on),
                seller=seller_of(n.provider, community=n.community, component=n.component),
                term=term,
                behind=_behind_on(registry[o.model_slug], frontier, o.observed_on),
                log_price=n.log_price,
                weight=n.weight * _recency(as_of, o.observed_on),
            )
        )
    return rows


def month_evidence(rows: Sequence[PanelRow], panel: Panel) -> dict[str, list[MonthEvidence]]:
    """Per model and month: weighted median of market-restated prices and the Kish n_eff."""
    cells: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for r in rows:
        cells.setdefault((r.model, r.month), []).append((panel.market_price(r), r.weight))
    return monthly(cells)


def monthly(
    cells: Mapping[tuple[K, int], Sequence[tuple[float, float]]],
) -> dict[K, list[MonthEvidence]]:
    """Per key, a month's evidence for each month: the weighted median of its (log price,
    weight) items and their Kish effective count ``(Σw)²/Σw²``, in month order."""
    out: dict[K, list[MonthEvidence]] = {}
    for (key, month), items in sorted(cells.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        values = np.array([v for v, _ in items])
        weights = np.array([w for _, w in items])
        median = float(group_median(np.zeros(len(items), dtype=np.intp), values, weights, 1)[0])
        n_eff = float(weights.sum() ** 2 / (weights**2).sum())
        out.setdefault(key, []).append(MonthEvidence(month, median, n_eff))
    return out


def robust_sigma(
    rows: Sequence[PanelRow], panel: Panel, evidence: dict[str, list[MonthEvidence]]
) -> float:
    """1.4826 x weighted MAD of market-restated prices around their month's median, floored
    at 0.05 (list prices are quoted in steps of a few per cent)."""
    medians = {(m, e.month): e.value for m, items in evidence.items() for e in items}
    deviations = np.array([abs(panel.market_price(r) - medians[(r.model, r.month)]) for r in rows])
    weights = np.array([r.weight for r in rows])
    if len(deviations) == 0:
        return LevelSettings().sigma
    mad = float(group_median(np.zeros(len(deviations), dtype=np.intp), deviations, weights, 1)[0])
    return max(1.4826 * mad, 0.05)


def dispersion(
    rows: Sequence[PanelRow], panel: Panel, evidence: dict[str, list[MonthEvidence]], as_of: date
) -> dict[str, tuple[float, float]]:
    """Weighted 10% and 90% quantiles of prices around their model-month market level over the
    last 12 months: with seller effects (``market``: how far a card lies from the market level)
    and without (``provider``: around the seller's own level).

    The month's level is estimated from the same prices, so a deviation from it understates
    the deviation from a level estimated without them: each is scaled by ``√(n/(n - 1))`` (n:
    the month's effective count; the usual small-sample correction of a residual variance),
    and a month with a single price, which deviates from itself by nothing, says nothing."""
    months = {(m, e.month): e for m, items in evidence.items() for e in items}
    recent = [r for r in rows if r.month > month_index(as_of) - 12] or list(rows)
    recent = [r for r in recent if months[(r.model, r.month)].n_eff > 1.0] or recent
    inflate = np.array(
        [
            math.sqrt(max(n, 2.0) / (max(n, 2.0) - 1.0))
            for n in (months[(r.model, r.month)].n_eff for r in recent)
        ]
    )
    level = np.array([months[(r.model, r.month)].value for r in recent])
    market = inflate * (
        np.array([r.log_price - panel.term(r.term, r.behind) for r in recent]) - level
    )
    own = inflate * (np.array([panel.market_price(r) for r in recent]) - level)
    weights = np.array([r.weight for r in recent])
    return {"market": _quantiles(market, weights), "provider": _quantiles(own, weights)}


def _quantiles(values: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    if len(values) == 0:
        return (-0.25, 0.25)
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order]) / weights.sum()
    lo = int(np.searchsorted(cum, (1 - BAND) / 2))
    hi = min(int(np.searchsorted(cum, (1 + BAND) / 2)), len(cum) - 1)
    return float(min(values[order][lo], -0.02)), float(max(values[order][hi], 0.02))


def pairs(
    leases: Sequence[Normalised],
    registry: dict[str, ModelSpec],
    frontier: Sequence[FrontierEntry],
    as_of: date,
) -> list[Pair]:
    """Fixed-term and spot prices against the same seller's on-demand price on the same date."""
    groups: dict[tuple[str, str, date], dict[str, list[float]]] = {}
    for n in leases:
        o = n.source
        if n.commentary or o.term == "unknown":
            continue
        seller = seller_of(n.provider, community=n.community, component=n.component)
        key = (o.model_slug, seller, o.observed_on)
        groups.setdefault(key, {}).setdefault(o.term, []).append(n.log_price)
    pairs = []
    for (model, seller, on), terms in groups.items():
        if "on_demand" not in terms:
            continue
        base = float(np.mean(terms["on_demand"]))
        behind = _behind_on(registry[model], frontier, on)
        for term, prices in terms.items():
            if term == "on_demand":
                continue
            pairs.append(
                Pair(
                    model=model,
                    cluster=f"{model}|{seller}",
                    term=term,
                    behind=behind,
                    log_ratio=float(np.mean(prices)) - base,
                    weight=_recency(as_of, on),
                )
            )
    return pairs


def trend_rows(rows: Sequence[PanelRow]) -> list[TrendRow]:
    return [
        TrendRow((r.model, r.seller, r.term), r.month / 12.0, r.behind, r.log_price, r.weight)
        for r in rows
    ]


def model_levels(
    registry: dict[str, ModelSpec],
    released: Sequence[str],
    evidence: dict[str, list[MonthEvidence]],
    settings: LevelSettings,
    frontier: Sequence[FrontierEntry],
    as_of: date,
) -> tuple[dict[str, ModelLevel], CrossSection]:
    until = month_index(as_of)
    filtered: dict[str, FilteredLevel] = {}
    for slug in released:
        state = filter_level(evidence.get(slug, []), until, settings)
        if state is not None:
            filtered[slug] = state
    rows = {
        slug: (
            features(registry[slug], support_of(registry[slug]), frontier, as_of),
            f.level,
            f.var_level,
        )
        for slug, f in filtered.items()
    }
    cross = fit_cross_section(rows)
    tau2 = cross.tau**2
    levels = {}
    for slug in released:
        spec = registry[slug]
        prior = cross.level(features(spec, support_of(spec), frontier, as_of))
        f = filtered.get(slug)
        if f is None:
            levels[slug] = ModelLevel(prior, tau2, 0.0, None, None, prior, 0.0, None, 0)
            continue
        z = tau2 / (tau2 + f.var_level)
        blended = z * f.level + (1 - z) * prior
        last = f.last_month
        levels[slug] = ModelLevel(
            blended,
            f.var_level * tau2 / (f.var_level + tau2),
            z * f.slope,
            f.level,
            f.var_level,
            prior,
            z,
            date(last // 12, last % 12 + 1, 1),
            sum(1 for _ in evidence.get(slug, [])),
        )
    return levels, cross


def term_levels(
    rows: Sequence[PanelRow],
    panel: Panel,
    settings: LevelSettings,
    released: Sequence[str],
    as_of: date,
) -> dict[tuple[str, str], tuple[float, float]]:
    """Filter each model's fixed-term and spot prices, month by month, to the evidence date,
    each restated from its seller's level to the typical seller of that term (one hyperscaler's
    one-year card is not the one-year market; a seller's premium on this model stays)."""
    cells: dict[tuple[tuple[str, str], int], list[tuple[float, float]]] = {}
    for r in rows:
        if r.term in ("on_demand", "unknown") or r.model not in released:
            continue
        value = r.log_price - panel.seller(r.seller) + panel.term_sellers.get(r.term, 0.0)
        cells.setdefault(((r.model, r.term), r.month), []).append((value, r.weight))
    out = {}
    for key, months in monthly(cells).items():
        state = filter_level(months, month_index(as_of), settings)
        if state is not None:
            out[key] = (state.level, state.var_level)
    return out
