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
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from service.engine import evidence, new_prices
from service.engine.assumptions import Assumptions
from service.engine.contracts import Contracts, Pair, fit_contracts
from service.engine.decline import DeclineInputs, Declines, Estimate, combine_declines, trend
from service.engine.errors import CalibrationUnavailable
from service.engine.evidence import ModelLevel, month_index
from service.engine.fx import FxTable
from service.engine.level import LevelSettings
from service.engine.new_prices import Capacity, NewPrice, sale_features, series_of, years_behind
from service.engine.normalise import normalise, select
from service.engine.panel import Panel, fit_panel
from service.engine.prior import CrossSection
from service.engine.sales import SaleModel
from service.engine.types import FrontierEntry, FxRate, ModelSpec, Observation

__all__ = [
    "MIN_LEASE_OBSERVATIONS",
    "TERM_TAU",
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


#: sd of a model's own fixed-term or spot level around its on-demand level times the pooled
#: term factor: sellers price one model's contracts 10-40% apart from another's (the shipped
#: six-month and two-year cards), so 0.25 in logs.
TERM_TAU = 0.25


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
    rows = evidence.panel_rows(leases, registry, timeline, as_of)
    panel = fit_panel(rows, recent_month=month_index(as_of))
    monthly = evidence.month_evidence(rows, panel)
    settings = replace(LevelSettings(), sigma=evidence.robust_sigma(rows, panel, monthly))
    levels, cross = evidence.model_levels(registry, released, monthly, settings, timeline, as_of)
    term_levels = evidence.term_levels(rows, panel, settings, released, as_of)
    trend_f, trend_b = trend(evidence.trend_rows(rows))
    pairs = evidence.pairs(leases, registry, timeline, as_of)
    term_only = fit_contracts(pairs)
    term_f = _term_estimate(term_only, False)
    term_b = _term_estimate(term_only, True)
    new_sales = new_prices.own_new_sales([n for n in normalised if n.source.kind == "sale"], as_of)
    reference, new_price, multiples = new_prices.prices(
        registry, released, levels, new_sales, as_of
    )
    sales = new_prices.fit_sales(normalised, registry, reference, timeline, as_of)
    defaults = Assumptions()
    inputs = DeclineInputs(
        trend={False: trend_f, True: trend_b},
        term={False: term_f, True: term_b},
        sales=new_prices.sale_evidence(sales),
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
        recent_sales=new_prices.recent_sales(
            [n for n in normalised if n.source.kind == "sale"], as_of
        ),
        reference=reference,
        new_price=new_price,
        multiples=multiples,
        dispersion=evidence.dispersion(rows, panel, monthly, as_of),
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
