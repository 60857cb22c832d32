"""New-unit prices and sales for :func:`service.engine.calibration.calibrate`: each model's
reference (launch-equivalent) and current new-equivalent price, from its own launch price or
new sales, else from price-to-rent multiples of its peers; the used-sale model behind the market
approach, and its age profile as decline evidence; the capacity multiple's container."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from service.engine.decline import Estimate
from service.engine.evidence import ModelLevel, month_index, monthly
from service.engine.frontier import frontier_at, is_behind, support_of
from service.engine.level import LevelSettings, filter_level
from service.engine.normalise import Normalised, years_since_epoch
from service.engine.sales import SaleFeatures, SaleModel, fit_sale_model
from service.engine.types import DAYS_PER_MONTH, FrontierEntry, ModelSpec

__all__ = [
    "DEFAULT_CAPACITY",
    "DEFAULT_MULTIPLE",
    "LAUNCH_PRICE_CURRENT_MONTHS",
    "NEW_SALE_WINDOW_MONTHS",
    "Capacity",
    "NewPrice",
    "fit_sales",
    "own_new_sales",
    "prices",
    "recent_sales",
    "sale_evidence",
    "sale_features",
    "series_of",
    "years_behind",
]

#: Fallback price-to-rent multiple, in hours of market on-demand rent a new unit costs, when no
#: peer has a current price: an H100 SXM at its $33,600 launch price and ~$4/GPU-h in 2023.
DEFAULT_MULTIPLE = 8400.0


#: A launch price is current evidence of a new unit's price this long after release (months);
#: new-sale prices count when observed within ``NEW_SALE_WINDOW_MONTHS`` of the date.
LAUNCH_PRICE_CURRENT_MONTHS = 30


NEW_SALE_WINDOW_MONTHS = 24


#: Decline priors' floor on the standard error of the sale-profile evidence: used prices fall
#: with the units' ageing as well as with rents, so the profile is weak evidence of rent decline.
_SALE_DECLINE_SE_FLOOR = 0.15


@dataclass(frozen=True, slots=True)
class NewPrice:
    """What a new unit costs on the calibration date (USD) and how that was found."""

    price: float
    basis: (
        str  # launch_price | new_sales | generation_multiple | segment_multiple | default_multiple
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


def own_new_sales(sales: Sequence[Normalised], as_of: date) -> dict[str, tuple[float, int]]:
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
        if (as_of - o.observed_on).days > NEW_SALE_WINDOW_MONTHS * DAYS_PER_MONTH:
            continue
        cells.setdefault((o.model_slug, month_index(o.observed_on)), []).append(
            (n.log_price, n.weight)
        )
        counts[o.model_slug] = counts.get(o.model_slug, 0) + 1
    out = {}
    for model, months in monthly(cells).items():
        state = filter_level(months, month_index(as_of), _SALE_LEVEL)
        if state is not None:
            out[model] = (math.exp(state.level), counts[model])
    return out


#: Level filter settings for new-unit sale prices (see :func:`own_new_sales`).
_SALE_LEVEL = LevelSettings(q_level=0.03**2, q_slope=0.01**2, damping=0.9, sigma=0.10, huber_c=2.0)


def recent_sales(sales: Sequence[Normalised], as_of: date) -> dict[str, int]:
    out: dict[str, int] = {}
    for n in sales:
        if (
            not n.commentary
            and (as_of - n.source.observed_on).days <= NEW_SALE_WINDOW_MONTHS * DAYS_PER_MONTH
        ):
            out[n.source.model_slug] = out.get(n.source.model_slug, 0) + 1
    return out


def _months(start: date, end: date) -> float:
    return (end - start).days / DAYS_PER_MONTH


def prices(
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


def fit_sales(
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


def sale_evidence(sales: SaleModel | None) -> dict[bool, Estimate]:
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
