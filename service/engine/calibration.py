"""``calibrate``: fit everything that depends on the data once per data version and ``as_of``.

A :class:`Calibration` is immutable and shared by any number of quotes and residuals.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

import numpy as np

from service.engine.decline import DeclineEvidence, TrendRow, term_structure, trend
from service.engine.frontier import frontier_at, is_behind, support_of
from service.engine.fx import FxTable
from service.engine.hedonic import Features, RentModel, features_of, fit_rent_model, form_of
from service.engine.normalise import Normalised, normalise, select, years_since_epoch
from service.engine.sales import SaleFeatures, SaleModel, fit_sale_model
from service.engine.types import (
    FIXED_TERM_YEARS,
    FrontierEntry,
    FxRate,
    ModelSpec,
    Observation,
)

__all__ = [
    "Calibration",
    "calibrate",
    "card_of",
    "reference_price",
    "release_rent",
    "sale_features",
    "series_of",
    "years_behind",
]

#: Fallback price-to-rent multiple (hours of on-demand rent a new unit costs) when no model
#: with a launch price can be priced: an H100 at $33,600 and ~$4/GPU-h at launch.
_DEFAULT_MULTIPLE = 8000.0


@dataclass(frozen=True, slots=True)
class Calibration:
    """The fitted state at ``as_of`` (and ``known_at``): rent model, decline evidence, sale
    model, price-to-rent multiple and a fingerprint of the data it saw."""

    as_of: date
    known_at: datetime | None
    frontier: tuple[FrontierEntry, ...]
    fx: FxTable
    models: dict[str, ModelSpec]
    rent: RentModel
    decline: DeclineEvidence
    sales: SaleModel | None
    price_to_rent: float
    observations_used: int
    fx_extrapolated: int
    last_observed: date
    fingerprint: str


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


def _lease_features(o: Normalised, spec: ModelSpec, frontier: Sequence[FrontierEntry]) -> Features:
    flags = (o.hyperscaler, o.community, o.component, o.commentary)
    f = features_of(
        spec,
        support_of(spec),
        frontier,
        o.source.observed_on,
        o.source.term,
        flags=flags,
        provider=o.provider,
        model=spec.slug,
    )
    return replace(f, card=card_of(o))


def series_of(o: Normalised) -> str:
    """A seller's sale-price series: model, provider and condition."""
    return "|".join((o.source.model_slug, o.provider, o.source.condition or "unknown"))


def card_of(o: Normalised) -> str:
    """The rate card an observation comes from: model, provider, term, flags and SKU."""
    sku = next((p.strip() for p in o.source.notes.split(";") if p.strip().startswith("sku=")), "")
    flags = "".join(
        "1" if x else "0" for x in (o.hyperscaler, o.community, o.component, o.commentary)
    )
    return "|".join((o.source.model_slug, o.provider, o.source.term, flags, sku))


def _trend_rows(rows: Sequence[tuple[Normalised, Features]]) -> list[TrendRow]:
    return [
        TrendRow((f.model, f.provider, f.term, f.flags), f.t, f.behind, n.log_price, n.weight)
        for n, f in rows
    ]


def _term_pairs(rows: Sequence[tuple[Normalised, Features]]) -> list[tuple[str, str, float, bool]]:
    """Shortest and longest fixed term quoted by one provider for one model on one date."""
    groups: dict[tuple[object, ...], dict[str, list[float]]] = {}
    behind: dict[tuple[object, ...], bool] = {}
    for n, f in rows:
        if f.term in FIXED_TERM_YEARS:
            key = (f.model, f.provider, f.flags, n.source.observed_on)
            groups.setdefault(key, {}).setdefault(f.term, []).append(n.log_price)
            behind[key] = f.behind
    pairs = []
    for group, terms in groups.items():
        if len(terms) >= 2:
            ordered = sorted(terms, key=FIXED_TERM_YEARS.__getitem__)
            a, b = ordered[0], ordered[-1]
            ratio = math.exp(float(np.mean(terms[b]) - np.mean(terms[a])))
            pairs.append((a, b, ratio, behind[group]))
    return pairs


def release_rent(rent: RentModel, spec: ModelSpec, frontier: Sequence[FrontierEntry]) -> float:
    """Hedonic on-demand rent of the registry spec at its release date (model effect kept)."""
    model = spec.slug if spec.slug in rent.layout.models else None
    f = features_of(spec, support_of(spec), frontier, spec.release_date, "on_demand", model=model)
    return math.exp(rent.log_rent(f))


def _multiple(
    rent: RentModel, models: Sequence[ModelSpec], frontier: Sequence[FrontierEntry]
) -> float:
    """Median ``launch price / rent at release`` over models with a launch price."""
    ratios = [
        m.launch_price_usd / release_rent(rent, m, frontier)
        for m in models
        if m.launch_price_usd is not None
    ]
    return float(np.median(ratios)) if ratios else _DEFAULT_MULTIPLE


def reference_price(
    cal_rent: RentModel, multiple: float, spec: ModelSpec, frontier: Sequence[FrontierEntry]
) -> tuple[float, str]:
    """(price, basis): the launch price, else ``multiple x`` the engine's rent at release."""
    if spec.launch_price_usd is not None:
        return spec.launch_price_usd, "launch_price"
    return multiple * release_rent(cal_rent, spec, frontier), "engine_estimate"


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
        consumer=form_of(spec) == "consumer",
        model=model,
    )


def _fingerprint(*parts: object) -> str:
    blob = json.dumps(parts, default=str, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


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

    Observations of models missing from the registry are ignored. Raises ``ValueError`` when
    fewer than 20 usable lease observations are visible.
    """
    registry = {m.slug: m for m in models}
    timeline = tuple(sorted(frontier, key=lambda e: e.effective_from))
    table = FxTable(fx)
    chosen = [o for o in select(observations, as_of, known_at) if o.model_slug in registry]
    normalised = normalise(chosen, table)
    leases = [
        (n, _lease_features(n, registry[n.source.model_slug], timeline))
        for n in normalised
        if n.source.kind == "lease"
    ]
    if len(leases) < 20:
        raise ValueError(
            f"only {len(leases)} lease observations visible at {as_of}: too few to calibrate"
        )
    rent = fit_rent_model(leases, as_of)
    multiple = _multiple(rent, models, timeline)
    sales = _fit_sales(normalised, registry, rent, multiple, timeline, as_of)
    trend_f, trend_b = trend(_trend_rows(leases))
    term_f, term_b = term_structure(_term_pairs(leases))
    return Calibration(
        as_of=as_of,
        known_at=known_at,
        frontier=timeline,
        fx=table,
        models=registry,
        rent=rent,
        decline=DeclineEvidence(trend_f, trend_b, term_f, term_b),
        sales=sales,
        price_to_rent=multiple,
        observations_used=len(normalised),
        fx_extrapolated=sum(n.fx_extrapolated for n in normalised),
        last_observed=max(o.observed_on for o in chosen),
        fingerprint=_fingerprint(
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
                    ]
                    for m in models
                ),
                key=str,
            ),
            sorted(([r.month, r.currency, r.usd_per_unit] for r in fx), key=str),
            [[e.effective_from, e.precision] for e in timeline],
            as_of,
            known_at,
        ),
    )


def _fit_sales(
    normalised: Sequence[Normalised],
    registry: dict[str, ModelSpec],
    rent: RentModel,
    multiple: float,
    frontier: Sequence[FrontierEntry],
    as_of: date,
) -> SaleModel | None:
    rows = []
    log_reference: dict[str, float] = {}  # per model: the reference price depends on nothing else
    for n in normalised:
        if n.source.kind != "sale":
            continue
        spec = registry[n.source.model_slug]
        if spec.slug not in log_reference:
            log_reference[spec.slug] = math.log(reference_price(rent, multiple, spec, frontier)[0])
        f = sale_features(
            spec,
            frontier,
            n.source.observed_on,
            log_reference[spec.slug],
            condition=n.source.condition or "unknown",
            listing=n.listing,
            system=n.system,
            commentary=n.commentary,
            model=spec.slug,
        )
        rows.append((n, replace(f, series=series_of(n))))
    return fit_sale_model(rows, years_since_epoch(as_of))
