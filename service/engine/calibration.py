"""``calibrate``: fit everything that depends on the data once per data version and date.

In order (each step uses only what was observed on or before ``as_of`` and recorded by
``known_at``, and only models released by ``as_of``):

1. normalise prices to USD per GPU-hour or per GPU (:mod:`normalise`);
2. seller and pooled term effects from the lease panel (:mod:`panel`), restating every lease
   price at the market level (median seller, on-demand);
3. each traded model's level, filtered forward month by month (:mod:`level`);
4. the hedonic cross-section over those levels, the prior for thin and untraded models, with
   the effect of each frontier transition (:mod:`prior`); levels blended with it by precision;
5. decline rates per regime from card trends (clustered by card), the term structure and the
   used-sale age profile, each shrunk towards its prior (:mod:`decline`, :mod:`contracts`);
6. contract levels and term factors (:mod:`contracts`), new-equivalent prices, and the sale
   model behind the market approach (:mod:`sales`);
7. the spread of prices around the level, for bands.

A :class:`Calibration` is immutable and shared by any number of quotes and residuals.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TypeVar

import numpy as np

from service.engine.assumptions import Assumptions
from service.engine.contracts import Contracts, Pair, fit_contracts
from service.engine.decline import Estimate, TrendRow, posterior, trend
from service.engine.errors import CalibrationUnavailable
from service.engine.frontier import frontier_at, is_behind, support_of
from service.engine.fx import FxTable
from service.engine.level import FilteredLevel, LevelSettings, MonthEvidence, filter_level
from service.engine.normalise import Normalised, normalise, select, years_since_epoch
from service.engine.panel import Panel, PanelRow, fit_panel, group_median, seller_of
from service.engine.prior import CrossSection, features, fit_cross_section
from service.engine.sales import SaleFeatures, SaleModel, fit_sale_model
from service.engine.types import FrontierEntry, FxRate, ModelSpec, Observation

K = TypeVar("K", bound=Hashable)

__all__ = [
    "MIN_LEASE_OBSERVATIONS",
    "Calibration",
    "Capacity",
    "DeclineInputs",
    "Declines",
    "ModelLevel",
    "NewPrice",
    "calibrate",
    "combine_declines",
    "month_index",
    "sale_features",
    "series_of",
    "years_behind",
]

#: Fewest visible lease prices the engine calibrates on (below, a 422 names the first date).
MIN_LEASE_OBSERVATIONS = 20
#: Fallback price-to-rent multiple, in hours of market on-demand rent a new unit costs, when no
#: peer has a current price: an H100 SXM at its $33,600 launch price and ~$4/GPU-h in 2023.
DEFAULT_MULTIPLE = 8400.0
#: A launch price is current evidence of a new unit's price this long after release (months);
#: new-sale prices count when observed within ``NEW_SALE_WINDOW_MONTHS`` of the date.
LAUNCH_PRICE_CURRENT_MONTHS = 30
NEW_SALE_WINDOW_MONTHS = 24
#: Recency half-life (years) of lease weights for the panel, trends and contracts.
RECENCY_HALF_LIFE = 1.5
#: sd of a model's own fixed-term or spot level around its on-demand level times the pooled
#: term factor: sellers price one model's contracts 10-40% apart from another's (the shipped
#: six-month and two-year cards), so 0.25 in logs.
TERM_TAU = 0.25
#: Quantiles of the 80% band.
BAND = 0.8
#: Decline priors' floor on the standard error of the sale-profile evidence: used prices fall
#: with the units' ageing as well as with rents, so the profile is weak evidence of rent decline.
_SALE_DECLINE_SE_FLOOR = 0.15


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


@dataclass(frozen=True, slots=True)
class NewPrice:
    """What a new unit costs on the calibration date (USD) and how that was found."""

    price: float
    basis: (
        str  # launch_price | new_sales | generation_multiple | segment_multiple | default_multiple
    )


@dataclass(frozen=True, slots=True)
class DeclineInputs:
    """The data's decline estimates per regime (False: frontier, True: behind): within-card
    trends of list prices (standard errors clustered by card), the term structure's implied
    decline, and the used-sale age profile."""

    trend: dict[bool, Estimate]
    term: dict[bool, Estimate]
    sales: dict[bool, Estimate]


@dataclass(frozen=True, slots=True)
class Declines:
    """Expected decline per year of the rents a unit earns, per regime: the precision-weighted
    mean of the regime's prior and its trend, term-structure and sale-profile evidence
    (normal-normal shrinkage), the two regimes estimated separately."""

    frontier: float
    behind: float
    inputs: DeclineInputs

    def rate(self, behind: bool) -> float:
        return self.behind if behind else self.frontier


def combine_declines(
    inputs: DeclineInputs, prior_frontier: float, prior_behind: float, prior_sd: float
) -> Declines:
    """Posterior declines per regime from ``inputs`` and the priors (see :class:`Declines`)."""
    rates = {}
    for behind, prior in ((False, prior_frontier), (True, prior_behind)):
        evidence = (inputs.trend[behind], inputs.term[behind], inputs.sales[behind])
        rates[behind] = posterior(prior, prior_sd, *evidence)
    return Declines(rates[False], rates[True], inputs)


@dataclass(frozen=True, slots=True)
class Calibration:
    """The fitted state at ``as_of`` (the evidence date) and ``known_at``."""

    as_of: date
    known_at: datetime | None
    frontier: tuple[FrontierEntry, ...]
    fx: FxTable
    models: dict[str, ModelSpec]
    panel: Panel
    levels: dict[str, ModelLevel]
    #: Per (model, term) other than on-demand: the filtered level of that term's own prices as
    #: quoted (log USD/GPU-h, at the evidence date) and its variance; and τ² of such a level
    #: around the model's on-demand level times the term factor (its prior).
    term_levels: dict[tuple[str, str], tuple[float, float]]
    term_tau: float
    cross_section: CrossSection
    contracts: Contracts
    capacity: Capacity
    pairs: tuple[Pair, ...]
    declines: Declines
    sales: SaleModel | None
    #: Own sale prices per model observed in the last ``NEW_SALE_WINDOW_MONTHS``.
    recent_sales: dict[str, int]
    reference: dict[str, NewPrice]
    new_price: dict[str, NewPrice]
    multiples: dict[str, float]
    dispersion: dict[str, tuple[float, float]]
    settings: LevelSettings
    observations_used: int
    fx_extrapolated: int
    last_observed: date
    fingerprint: str
    #: Declines and contract refits under non-default decline priors, memoised per priors.
    refits: dict[tuple[float, float, float], tuple[Declines, Contracts]] = field(
        default_factory=dict, compare=False, repr=False
    )


def years_behind(
    spec: ModelSpec,
    frontier: Sequence[FrontierEntry],
    on: date,
    *,
    fp8: bool | None = None,
    fp4: bool | None = None,
) -> float:
    """Years since the frontier moved past the model (0 while it supports the frontier)."""
    support = support_of(spec, fp8, fp4)
    if not is_behind(support, frontier_at(frontier, on)):
        return 0.0
    dates = [
        e.effective_from
        for e in frontier
        if e.effective_from <= on and not support.supports(e.precision)
    ]
    since = max(min(dates), spec.release_date) if dates else spec.release_date
    return max((on - since).days / 365.25, 0.0)


def series_of(o: Normalised) -> str:
    """A seller's sale-price series: model, provider and condition."""
    return "|".join((o.source.model_slug, o.provider, o.source.condition or "unknown"))


def sale_features(
    spec: ModelSpec,
    frontier: Sequence[FrontierEntry],
    on: date,
    log_reference: float,
    *,
    condition: str,
    listing: bool = False,
    system: bool = False,
    commentary: bool = False,
    model: str | None = None,
) -> SaleFeatures:
    """Sale-model features of ``spec`` on ``on`` (age counted from the release date)."""
    return SaleFeatures(
        log_reference=log_reference,
        age_years=max((on - spec.release_date).days / 365.25, 0.0),
        years_behind=years_behind(spec, frontier, on),
        condition=condition,
        listing=listing,
        system=system,
        commentary=commentary,
        consumer=spec.segment == "consumer",
        model=model,
    )


def _behind_on(spec: ModelSpec, frontier: Sequence[FrontierEntry], on: date) -> bool:
    return is_behind(support_of(spec), frontier_at(frontier, on))


def _recency(as_of: date, on: date) -> float:
    return float(0.5 ** ((as_of - on).days / 365.25 / RECENCY_HALF_LIFE))


def _panel_rows(
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


def _month_evidence(rows: Sequence[PanelRow], panel: Panel) -> dict[str, list[MonthEvidence]]:
    """Per model and month: weighted median of market-restated prices and the Kish n_eff."""
    cells: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for r in rows:
        cells.setdefault((r.model, r.month), []).append((panel.market_price(r), r.weight))
    return _monthly(cells)


def _monthly(
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


def _robust_sigma(
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


def _dispersion(
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


def _pairs(
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


def _trend_rows(rows: Sequence[PanelRow]) -> list[TrendRow]:
    return [
        TrendRow((r.model, r.seller, r.term), r.month / 12.0, r.behind, r.log_price, r.weight)
        for r in rows
    ]


def _levels(
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


def _term_levels(
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
    for key, months in _monthly(cells).items():
        state = filter_level(months, month_index(as_of), settings)
        if state is not None:
            out[key] = (state.level, state.var_level)
    return out


def _new_sales(sales: Sequence[Normalised], as_of: date) -> dict[str, tuple[float, int]]:
    """Each model's new-unit price from its own new-condition sale prices in the window: the
    level filter run over monthly medians (sale settings: 3% a month level noise, a 1% slope
    shock damped by 0.9 a month, 10% spread),
    so the price tracks the model's recent sales without a fixed drift. (USD, count)."""
    cells: dict[tuple[str, int], list[tuple[float, float]]] = {}
    counts: dict[str, int] = {}
    for n in sales:
        o = n.source
        if o.condition != "new" or n.commentary or n.system:
            continue
        if (as_of - o.observed_on).days > NEW_SALE_WINDOW_MONTHS * 30.436875:
            continue
        cells.setdefault((o.model_slug, month_index(o.observed_on)), []).append(
            (n.log_price, n.weight)
        )
        counts[o.model_slug] = counts.get(o.model_slug, 0) + 1
    out = {}
    for model, months in _monthly(cells).items():
        state = filter_level(months, month_index(as_of), _SALE_LEVEL)
        if state is not None:
            out[model] = (math.exp(state.level), counts[model])
    return out


#: Level filter settings for new-unit sale prices (see :func:`_new_sales`).
_SALE_LEVEL = LevelSettings(q_level=0.03**2, q_slope=0.01**2, damping=0.9, sigma=0.10, huber_c=2.0)


def _recent_sales(sales: Sequence[Normalised], as_of: date) -> dict[str, int]:
    out: dict[str, int] = {}
    for n in sales:
        if (
            not n.commentary
            and (as_of - n.source.observed_on).days <= NEW_SALE_WINDOW_MONTHS * 30.436875
        ):
            out[n.source.model_slug] = out.get(n.source.model_slug, 0) + 1
    return out


def _months(start: date, end: date) -> float:
    return (end - start).days / 30.436875


def _prices(
    registry: dict[str, ModelSpec],
    released: Sequence[str],
    levels: dict[str, ModelLevel],
    new_sales: dict[str, tuple[float, int]],
    as_of: date,
) -> tuple[dict[str, NewPrice], dict[str, NewPrice], dict[str, float]]:
    """Reference (launch-equivalent) and current new-equivalent prices, and the price-to-rent
    multiples used: a model's own launch price or new sales; else the median multiple
    (current new price / market level) of priced peers of its generation (same vendor and
    architecture), else of parts of its segment released within two years of it, else of its
    segment, else :data:`DEFAULT_MULTIPLE`."""

    def current(slug: str) -> float | None:
        spec = registry[slug]
        if slug in new_sales:
            return new_sales[slug][0]
        if (
            spec.launch_price_usd is not None
            and _months(spec.release_date, as_of) <= LAUNCH_PRICE_CURRENT_MONTHS
        ):
            return spec.launch_price_usd
        return None

    priced = {s: p for s in released if (p := current(s)) is not None}
    multiples_of = {s: p / math.exp(levels[s].log_level) for s, p in priced.items()}

    def multiple(slug: str) -> tuple[float, str]:
        spec = registry[slug]
        consumer = spec.segment == "consumer"
        same_class = [
            s for s in multiples_of if (registry[s].segment == "consumer") == consumer and s != slug
        ]
        generation = [
            s
            for s in same_class
            if registry[s].vendor == spec.vendor and registry[s].architecture == spec.architecture
        ]
        if generation:
            return float(np.median([multiples_of[s] for s in generation])), "generation_multiple"
        near = [
            s for s in same_class if abs(_months(registry[s].release_date, spec.release_date)) <= 24
        ]
        if near:
            return float(np.median([multiples_of[s] for s in near])), "segment_multiple"
        if same_class:
            return float(np.median([multiples_of[s] for s in same_class])), "segment_multiple"
        return DEFAULT_MULTIPLE, "default_multiple"

    reference: dict[str, NewPrice] = {}
    new_price: dict[str, NewPrice] = {}
    multiples: dict[str, float] = {}
    for slug in released:
        spec = registry[slug]
        m, basis = multiple(slug)
        multiples[slug] = m
        estimate = m * math.exp(levels[slug].log_level)
        if slug in new_sales:
            now = NewPrice(new_sales[slug][0], "new_sales")
        elif (
            spec.launch_price_usd is not None
            and _months(spec.release_date, as_of) <= LAUNCH_PRICE_CURRENT_MONTHS
        ):
            now = NewPrice(spec.launch_price_usd, "launch_price")
        else:
            now = NewPrice(estimate, basis)
        new_price[slug] = now
        reference[slug] = (
            NewPrice(spec.launch_price_usd, "launch_price")
            if spec.launch_price_usd is not None
            else now
        )
    return reference, new_price, multiples


def _fit_sales(
    normalised: Sequence[Normalised],
    registry: dict[str, ModelSpec],
    reference: dict[str, NewPrice],
    frontier: Sequence[FrontierEntry],
    as_of: date,
) -> SaleModel | None:
    rows = []
    for n in normalised:
        if n.source.kind != "sale" or n.source.model_slug not in reference:
            continue
        spec = registry[n.source.model_slug]
        f = sale_features(
            spec,
            frontier,
            n.source.observed_on,
            math.log(reference[spec.slug].price),
            condition=n.source.condition or "unknown",
            listing=n.listing,
            system=n.system,
            commentary=n.commentary,
            model=spec.slug,
        )
        rows.append((n, replace(f, series=series_of(n))))
    return fit_sale_model(rows, years_since_epoch(as_of))


def _sale_evidence(sales: SaleModel | None) -> dict[bool, Estimate]:
    """The used-sale age profile as decline evidence: ``-slope`` of log price per year of
    market age (behind: plus the extra slope per year behind), se floored (see above)."""
    if sales is None or sales.age_slope is None:
        return {False: _NO_EVIDENCE, True: _NO_EVIDENCE}
    (slope, se), (behind_slope, behind_se) = sales.age_slope
    return {
        False: Estimate(-slope, max(se, _SALE_DECLINE_SE_FLOOR)),
        True: Estimate(
            -(slope + behind_slope), max(math.hypot(se, behind_se), _SALE_DECLINE_SE_FLOOR)
        ),
    }


_NO_EVIDENCE = Estimate(0.0, math.inf)


@dataclass(frozen=True, slots=True)
class Capacity:
    """The capacity cost of a GPU-hour beyond power, colocation and operations (the host's
    share of the server and network, sales and idle capacity, the gap between list and realised
    rents), as a multiple of the GPU's new price whose capital charge the owner pays: per model
    where a current new price calibrates it, else the median of its peers (see :meth:`peers`)."""

    own: dict[str, float]
    #: Models whose contract-level rents cannot earn their price even at zero capacity cost:
    #: the income approach does not describe how they are priced (consumer cards rented from
    #: spare hosts, say), and neither does it for their peers.
    unreachable: frozenset[str]
    registry: dict[str, ModelSpec]

    def peers(self, spec: ModelSpec) -> list[str]:
        """Calibrated models of the same vendor and architecture, else of the same segment
        class, that are not the part itself."""
        consumer = spec.segment == "consumer"
        same = [
            s
            for s in self.own
            if s != spec.slug and (self.registry[s].segment == "consumer") == consumer
        ]
        generation = [
            s
            for s in same
            if self.registry[s].vendor == spec.vendor
            and self.registry[s].architecture == spec.architecture
        ]
        return generation or same

    def factor(self, spec: ModelSpec) -> float:
        """The part's own multiple, else the median of its peers', else the default."""
        if spec.slug in self.own:
            return self.own[spec.slug]
        values = [self.own[s] for s in self.peers(spec)]
        return float(np.median(values)) if values else DEFAULT_CAPACITY

    def income_reliable(self, spec: ModelSpec) -> bool:
        """False when the part, or most of its peers, cannot earn its price on rents."""
        if spec.slug in self.own:
            return spec.slug not in self.unreachable
        peers = self.peers(spec)
        return not peers or sum(s in self.unreachable for s in peers) * 2 <= len(peers)


#: Capacity multiple where no model has a current price: about half a GPU's price again
#: (an eight-GPU server's host share).
DEFAULT_CAPACITY = 0.5


def calibrate(
    models: Sequence[ModelSpec],
    observations: Sequence[Observation],
    fx: Sequence[FxRate],
    frontier: Sequence[FrontierEntry],
    *,
    as_of: date,
    known_at: datetime | None = None,
) -> Calibration:
    """Fit the engine on what was observed by ``as_of`` (and recorded by ``known_at``).

    Observations of models missing from the registry, or dated before their model's release,
    are ignored. Raises :class:`CalibrationUnavailable` with fewer than
    :data:`MIN_LEASE_OBSERVATIONS` usable lease prices.
    """
    registry = {m.slug: m for m in models}
    released = sorted(s for s, m in registry.items() if m.release_date <= as_of)
    timeline = tuple(sorted(frontier, key=lambda e: e.effective_from))
    table = FxTable(fx)
    chosen = [
        o
        for o in select(observations, as_of, known_at)
        if o.model_slug in registry and o.observed_on >= _release_floor(registry[o.model_slug])
    ]
    normalised = normalise(chosen, table)
    leases = [n for n in normalised if n.source.kind == "lease"]
    if len(leases) < MIN_LEASE_OBSERVATIONS:
        raise CalibrationUnavailable(as_of, len(leases), MIN_LEASE_OBSERVATIONS)
    rows = _panel_rows(leases, registry, timeline, as_of)
    panel = fit_panel(rows, recent_month=month_index(as_of))
    evidence = _month_evidence(rows, panel)
    settings = replace(LevelSettings(), sigma=_robust_sigma(rows, panel, evidence))
    levels, cross = _levels(registry, released, evidence, settings, timeline, as_of)
    term_levels = _term_levels(rows, panel, settings, released, as_of)
    trend_f, trend_b = trend(_trend_rows(rows))
    pairs = _pairs(leases, registry, timeline, as_of)
    term_only = fit_contracts(pairs)
    term_f = _term_estimate(term_only, False)
    term_b = _term_estimate(term_only, True)
    new_sales = _new_sales([n for n in normalised if n.source.kind == "sale"], as_of)
    reference, new_price, multiples = _prices(registry, released, levels, new_sales, as_of)
    sales = _fit_sales(normalised, registry, reference, timeline, as_of)
    defaults = Assumptions()
    inputs = DeclineInputs(
        trend={False: trend_f, True: trend_b},
        term={False: term_f, True: term_b},
        sales=_sale_evidence(sales),
    )
    declines = combine_declines(
        inputs,
        defaults.decline_prior_frontier,
        defaults.decline_prior_behind,
        defaults.decline_prior_sd,
    )
    contracts = fit_contracts(pairs, {False: declines.frontier, True: declines.behind})
    provisional = Calibration(
        as_of=as_of,
        known_at=known_at,
        frontier=timeline,
        fx=table,
        models=registry,
        panel=panel,
        levels=levels,
        term_levels=term_levels,
        term_tau=TERM_TAU,
        cross_section=cross,
        contracts=contracts,
        capacity=Capacity({}, frozenset(), registry),
        pairs=tuple(pairs),
        declines=declines,
        sales=sales,
        recent_sales=_recent_sales([n for n in normalised if n.source.kind == "sale"], as_of),
        reference=reference,
        new_price=new_price,
        multiples=multiples,
        dispersion=_dispersion(rows, panel, evidence, as_of),
        settings=settings,
        observations_used=len(normalised),
        fx_extrapolated=sum(n.fx_extrapolated for n in normalised),
        last_observed=max(o.observed_on for o in chosen),
        fingerprint=_fingerprint(chosen, models, fx, timeline, as_of, known_at),
    )
    from service.engine.capacity import fit_capacity  # it prices with the calibration

    return fit_capacity(provisional)


def _release_floor(spec: ModelSpec) -> date:
    """Prices dated before a model's release month are pre-announcements, not market prices."""
    return spec.release_date.replace(day=1)


def _term_estimate(contracts: Contracts, behind: bool) -> Estimate:
    regime = contracts.regimes.get(behind)
    if regime is None or not math.isfinite(regime.decline_se):
        return Estimate(0.0, math.inf)
    return Estimate(regime.decline, regime.decline_se)


def _fingerprint(
    chosen: Sequence[Observation],
    models: Sequence[ModelSpec],
    fx: Sequence[FxRate],
    timeline: Sequence[FrontierEntry],
    as_of: date,
    known_at: datetime | None,
) -> str:
    parts = (
        [
            [
                o.observed_on,
                o.recorded_at,
                o.model_slug,
                o.kind,
                o.price,
                o.currency,
                o.term,
                o.condition,
                o.provider,
                o.notes,
            ]
            for o in chosen
        ],
        sorted(
            (
                [
                    m.slug,
                    m.release_date,
                    m.launch_price_usd,
                    m.memory_gb,
                    m.memory_bw_tbps,
                    m.tdp_w,
                    m.bf16_tflops,
                    m.fp8_tflops,
                    m.fp4_tflops,
                    m.fp8,
                    m.fp4,
                    m.form_factor,
                    m.segment,
                    m.vendor,
                    m.architecture,
                ]
                for m in models
            ),
            key=str,
        ),
        sorted(([r.month, r.currency, r.usd_per_unit] for r in fx), key=str),
        [[e.effective_from, e.precision] for e in timeline],
        as_of,
        known_at,
    )
    blob = json.dumps(parts, default=str, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
