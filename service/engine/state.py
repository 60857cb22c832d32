"""Per-request state shared by ``quote`` and ``residual``: today's rent, its path and the
owner's economics, derived from a calibration, a model, a date and assumptions."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from service.engine.assumptions import Assumptions
from service.engine.calibration import Calibration, reference_price, release_rent
from service.engine.decline import posterior
from service.engine.frontier import (
    Support,
    frontier_at,
    is_behind,
    months_until_left_behind,
    support_of,
)
from service.engine.hedonic import Hedonic, features_of
from service.engine.income import opex_per_gpu_hour
from service.engine.path import RentPath, UnitEconomics, end_of_life, rent_at
from service.engine.types import ModelSpec, Precision, Term

__all__ = ["Declines", "State", "cost_approach", "declines", "market_log_rent", "state_of"]

_MONTHS_PER_YEAR = 12.0


@dataclass(frozen=True, slots=True)
class Declines:
    """Decline rates per year used for the path (after priors and the ordering constraint)."""

    frontier: float
    behind: float


@dataclass(frozen=True, slots=True)
class State:
    """Everything a quote or residual needs about one unit on one date."""

    spec: ModelSpec
    as_of: date
    age_months: float
    precision: Precision
    behind: bool
    fp8: bool
    fp4: bool
    log_rent_parts: dict[str, float]
    rent: float  # on-demand market rent per GPU-hour at as_of (reference provider)
    path: RentPath
    unit: UnitEconomics
    end: float  # years from as_of to retirement
    declines: Declines
    move_in_months: float | None
    reference_price: float
    reference_basis: str
    step: float


def declines(cal: Calibration, a: Assumptions) -> Declines:
    """Posterior decline rates, floored at 0, with ``λ_frontier <= λ_behind`` enforced by
    pooling (a model at the frontier never loses rent faster than one behind it; the
    ordering is the seed's thesis and keeps value monotone in precision support)."""
    ev = cal.decline
    sd = a.decline_prior_sd
    lam_f = max(posterior(a.decline_prior_frontier, sd, ev.trend_frontier, ev.term_frontier), 0.0)
    lam_b = max(posterior(a.decline_prior_behind, sd, ev.trend_behind, ev.term_behind), 0.0)
    if lam_f > lam_b:
        lam_f = lam_b = (lam_f + lam_b) / 2.0
    return Declines(lam_f, lam_b)


def market_log_rent(
    cal: Calibration, spec: ModelSpec, term: Term, fp8: bool | None, fp4: bool | None
) -> dict[str, float]:
    """Log-rent parts at the calibration date for ``term`` at a typical specialist cloud:
    ``index`` (market level), ``specification``, ``frontier`` (behind-the-frontier effect),
    ``term`` and ``model`` (the credibility-weighted model adjustment, kept under what-ifs)."""
    layout, rent = cal.rent.layout, cal.rent
    model = spec.slug if spec.slug in layout.models else None
    f = features_of(spec, support_of(spec, fp8, fp4), cal.frontier, cal.as_of, term, model=model)
    row = layout.row(f)
    labels = _parts_of(layout)
    parts = {"index": 0.0, "specification": 0.0, "frontier": 0.0, "term": 0.0, "model": 0.0}
    # Column order as in the full sum; a zero entry would add an exact ±0.0, so skip it.
    for i in np.flatnonzero(row):
        parts[labels[i]] += float(row[i] * rent.beta[i])
    if parts["frontier"] > 0.0:  # the behind effect may not be a premium (monotone in support)
        parts["frontier"] = 0.0
    return parts


@lru_cache(maxsize=64)
def _parts_of(layout: Hedonic) -> tuple[str, ...]:
    """:func:`_part` of every design column of ``layout`` (computed once per layout)."""
    return tuple(_part(name) for name in layout.names)


def _part(name: str) -> str:
    """Which component a design column belongs to (provider columns are zero at the reference
    provider and go with the model adjustment)."""
    prefix = name.split(":")[0]
    named = {"index": "index", "term": "term", "model": "model", "provider": "model"}
    if prefix in named:
        return named[prefix]
    if name == "behind":
        return "frontier"
    return (
        "model"
        if name in ("hyperscaler", "community", "component", "commentary")
        else "specification"
    )


def state_of(
    cal: Calibration,
    spec: ModelSpec,
    *,
    as_of: date,
    age_months: float | None,
    a: Assumptions,
    fp8: bool | None,
    fp4: bool | None,
) -> State:
    """Rent today projected from the calibration date along the path, and the unit's economics."""
    if as_of < cal.as_of:
        raise ValueError(f"as_of {as_of} precedes the calibration date {cal.as_of}")
    support = support_of(spec, fp8, fp4)
    parts = market_log_rent(cal, spec, "on_demand", fp8, fp4)
    lam = declines(cal, a)
    step = math.exp(min(cal.rent.coefficient("behind"), 0.0))
    start = _path(cal, support, cal.as_of, math.exp(sum(parts.values())), lam, step, a)
    shift = (as_of - cal.as_of).days / 365.25
    rent = rent_at(start, shift)
    path = _path(cal, support, as_of, rent, lam, step, a)
    age = _age(spec, as_of, age_months)
    ref, basis = reference_price(cal.rent, cal.price_to_rent, spec, cal.frontier)
    unit = _unit(spec, a, ref, age)
    precision = frontier_at(cal.frontier, as_of)
    move = months_until_left_behind(cal.frontier, support, as_of, a.frontier_move_interval_months)
    return State(
        spec,
        as_of,
        age,
        precision,
        is_behind(support, precision),
        support.fp8,
        support.fp4,
        parts,
        rent,
        path,
        unit,
        end_of_life(path, unit),
        lam,
        move,
        ref,
        basis,
        step,
    )


def _path(
    cal: Calibration,
    support: Support,
    on: date,
    rent: float,
    lam: Declines,
    step: float,
    a: Assumptions,
) -> RentPath:
    """Behind: one regime at λ_behind. At the frontier: λ_frontier until it moves past the
    model, then the behind step and λ_behind."""
    move = months_until_left_behind(cal.frontier, support, on, a.frontier_move_interval_months)
    if move is None:
        return RentPath.two_regime(rent, lam.behind, None, 1.0, lam.behind)
    return RentPath.two_regime(rent, lam.frontier, move / _MONTHS_PER_YEAR, step, lam.behind)


def _age(spec: ModelSpec, as_of: date, age_months: float | None) -> float:
    """The unit's age; by default the model's market age (as_of - release date), >= 0."""
    if age_months is None:
        return max((as_of - spec.release_date).days / 30.436875, 0.0)
    if not (0.0 <= age_months <= 600.0 and math.isfinite(age_months)):
        raise ValueError(f"age_months must be within [0, 600], got {age_months!r}")
    return age_months


def _unit(spec: ModelSpec, a: Assumptions, reference: float, age_months: float) -> UnitEconomics:
    cost = opex_per_gpu_hour(
        spec.tdp_w,
        server_overhead=a.server_overhead,
        pue=a.pue,
        power_price_usd_per_kwh=a.power_price_usd_per_kwh,
        colocation_usd_per_kw_month=a.colocation_usd_per_kw_month,
        operations_usd_per_gpu_hour=a.operations_usd_per_gpu_hour,
    )
    life_left = max(a.physical_life_months - age_months, 0.0) / _MONTHS_PER_YEAR
    return UnitEconomics(
        a.utilisation, cost, a.discount_rate, a.scrap_fraction * reference, life_left
    )


def cost_approach(cal: Calibration, st: State) -> float:
    """Cost of a new equivalent: ``P_ref · R(as_of) / R_release`` — new-unit prices move with
    the rents they earn (a constant price-to-rent multiple), so a used unit is capped by what
    the same earning power costs new today (IVS 105 cost approach, replacement cost)."""
    return st.reference_price * st.rent / release_rent(cal.rent, st.spec, cal.frontier)
