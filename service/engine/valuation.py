"""``quote`` and ``residual``: fair lease rates and residual values.

A quote is the model's market level (its own filtered market, blended with the hedonic prior by
credibility), moved to the requested level (segment or provider), by the what-if's effect, along
the regime path from the evidence date to ``as_of``, and by the term: spot from spot cards,
fixed terms as the levelised contract-level rent over the term. A residual reconciles three
approaches with shown weights: income (the expected PV of contract-level rent less opex over the
unit's remaining life, weighted by survival), market (the sale model, anchored on the model's
own sales) and cost (new-equivalent price less physical depreciation).

Every number is rebuilt from its ``components``: ``rate = market_level × level_factor ×
what_if_factor × projection_factor × term_factor × term_sellers_factor × own_term_factor ×
term_order_factor × no_arbitrage_factor``
and ``value = premise_factor × Σ weight × approach``.
"""

from __future__ import annotations

import math
from dataclasses import fields
from datetime import date
from typing import Any

from service.engine.answers import Approaches, CurvePoint, PathPoint, Projection, Quote, Residual
from service.engine.approaches import (
    Valuer,
    approach_weights,
    income_reliable,
    market_prices,
    premise_factor,
    value_curve,
    value_path,
)
from service.engine.assumptions import Assumptions
from service.engine.bands import TERM_VARIANCE, band, value_band
from service.engine.calibration import Calibration
from service.engine.digest import inputs_digest
from service.engine.errors import EngineInputError
from service.engine.income import HOURS_PER_YEAR
from service.engine.state import State, cal_reference, state_of
from service.engine.terms import PRIOR_LOG_SPOT, contract_path, term_rate
from service.engine.types import DAYS_PER_MONTH, QUOTE_TERMS, ModelSpec, Premise, Term
from service.engine.version import ENGINE_VERSION

__all__ = [
    "PRIOR_LOG_SPOT",
    "Approaches",
    "CurvePoint",
    "PathPoint",
    "Projection",
    "Quote",
    "Residual",
    "contract_path",
    "quote",
    "residual",
    "term_rate",
]

_HOURS_PER_MONTH = HOURS_PER_YEAR / 12.0
_DEFAULTS = Assumptions()
_SPEC_FIELDS = tuple(f.name for f in fields(ModelSpec))


def _check(term: str, gpus: int) -> None:
    if term not in QUOTE_TERMS:
        raise EngineInputError(
            "term", f"term must be one of {', '.join(QUOTE_TERMS)}, got {term!r}"
        )
    if not 1 <= gpus <= 1_000_000:
        raise EngineInputError("gpus", f"gpus must be between 1 and 1,000,000, got {gpus!r}")


def _projection(cal: Calibration, st: State) -> Projection | None:
    if st.as_of <= cal.as_of:
        return None
    return Projection(cal.as_of, round(st.projection_months, 2))


def quote(
    cal: Calibration,
    spec: ModelSpec,
    *,
    term: Term,
    as_of: date,
    age_months: float | None = None,
    gpus: int = 1,
    assumptions: Assumptions | None = None,
    fp8: bool | None = None,
    fp4: bool | None = None,
    segment: str | None = None,
    provider: str | None = None,
) -> Quote:
    """Fair lease rate for ``term`` starting ``as_of`` (see the module doc for its parts)."""
    _check(term, gpus)
    a = assumptions or _DEFAULTS
    st = state_of(
        cal,
        spec,
        as_of=as_of,
        age_months=age_months,
        a=a,
        fp8=fp8,
        fp4=fp4,
        segment=segment,
        provider=provider,
    )
    t = term_rate(cal, st, term)
    rate = t.rate
    lo, hi = band(cal, st, 0.0 if term == "on_demand" else TERM_VARIANCE)
    components = _components(cal, st) | {
        "term_factor": t.factor,
        "term_source": t.source,
        "term_sellers_factor": t.sellers,
        "own_term_factor": t.own_term,
        "own_term_credibility": t.own_weight,
        "term_order_factor": t.order,
        "no_arbitrage_factor": t.no_arbitrage,
        "rate_per_gpu_hour": rate,
    }
    request = {
        "kind": "quote",
        "term": term,
        "gpus": gpus,
        "fp8": fp8,
        "fp4": fp4,
        "segment": segment,
        "provider": provider,
    }
    echoed = a.as_dict()
    return Quote(
        model=spec.slug,
        as_of=as_of,
        term=term,
        currency="USD",
        gpus=gpus,
        age_months=st.age_months,
        rate_per_gpu_hour=rate,
        rate_per_gpu_month=rate * _HOURS_PER_MONTH,
        rate_total_per_hour=rate * gpus,
        low=rate * math.exp(lo),
        high=rate * math.exp(hi),
        regime="behind" if st.behind else "frontier",
        frontier_precision=st.precision,
        fp8=st.fp8,
        fp4=st.fp4,
        level=st.level.kind,
        projection=_projection(cal, st),
        components=components,
        observations_used=cal.levels[spec.slug].observations if spec.slug in cal.levels else 0,
        assumptions=echoed,
        engine_version=ENGINE_VERSION,
        inputs_digest=_digest(cal, spec, st, echoed, request),
    )


def _components(cal: Calibration, st: State) -> dict[str, Any]:
    """The parts of the rate: market level and where it comes from, level, what-if, projection,
    regime and declines, transitions, contract level and opex."""
    transitions = {
        p: {
            "estimate": t.estimate,
            "se": t.se,
            "prior": t.prior,
            "used": t.used,
            "constrained_at_zero": t.constrained,
        }
        for p, t in cal.cross_section.transitions.items()
    }
    return {
        "market_level": math.exp(st.log_market_level),
        "own_level": math.exp(st.log_own) if st.log_own is not None else None,
        "prior_level": math.exp(st.log_prior),
        "credibility": st.credibility,
        "level": st.level.kind,
        "level_name": st.level.name,
        "level_factor": math.exp(st.level.shift),
        "what_if_factor": math.exp(st.what_if),
        "projection_factor": st.projection_factor,
        "projection_months": st.projection_months,
        "market_rent_on_demand": st.market_rent,
        "decline_frontier_per_year": st.declines.frontier,
        "decline_behind_per_year": st.declines.behind,
        "frontier_effects": transitions,
        "frontier_step_factor": st.step,
        "months_until_left_behind": st.move_in_months,
        "contract_level_factor": math.exp(st.log_psi),
        "opex_per_gpu_hour": st.unit.cost,
        "capacity_multiple": st.capacity / st.new_price if st.new_price > 0 else 0.0,
        "evidence_on": cal.as_of.isoformat(),
        "hedonic_tau": cal.cross_section.tau,
    }


def _digest(
    cal: Calibration,
    spec: ModelSpec,
    st: State,
    assumptions: dict[str, float],
    request: dict[str, Any],
) -> str:
    return inputs_digest(
        {
            "engine_version": ENGINE_VERSION,
            "data": cal.fingerprint,
            "spec": {name: getattr(spec, name) for name in _SPEC_FIELDS},
            "request": request | {"as_of": st.as_of.isoformat(), "age_months": st.age_months},
            "assumptions": assumptions,
        }
    )


def residual(
    cal: Calibration,
    spec: ModelSpec,
    *,
    as_of: date,
    age_months: float | None = None,
    premise: Premise = "market",
    assumptions: Assumptions | None = None,
    fp8: bool | None = None,
    fp4: bool | None = None,
    include_curve: bool = False,
    include_path: bool = False,
) -> Residual:
    """Residual value per GPU: income, market and cost approaches reconciled by shown weights,
    on a premise (1, the orderly or the forced liquidation factor)."""
    a = assumptions or _DEFAULTS
    factor = premise_factor(premise, a)
    st = state_of(cal, spec, as_of=as_of, age_months=age_months, a=a, fp8=fp8, fp4=fp4)
    reference = cal_reference(cal, spec)
    new_price = st.new_price * math.exp(st.what_if) * st.projection_factor
    prices = market_prices(cal, st, reference)
    market_age = max((as_of - spec.release_date).days / DAYS_PER_MONTH, 0.0)
    contracts = contract_path(cal, st)
    weights = approach_weights(
        a, prices, income_reliable(cal, spec, as_of, a, reference, fp8, fp4, st)
    )
    valuer = Valuer(st, contracts, a, reference, new_price, prices, market_age, weights)
    reconciled, income, market, cost, end = valuer.value(st.age_months)
    value = reconciled * factor
    low, high = value_band(cal, st, valuer, income, market, cost)
    curve = value_curve(valuer, factor, reference) if include_curve else None
    path = value_path(st, valuer.contracts, a, reference, value, income) if include_path else None
    wi, wm, wc = valuer.weights
    basis = (
        cal.reference[spec.slug].basis
        if spec.slug in cal.reference and cal.models.get(spec.slug) == spec
        else ("launch_price" if spec.launch_price_usd is not None else "segment_multiple")
    )
    request = {
        "kind": "residual",
        "premise": premise,
        "fp8": fp8,
        "fp4": fp4,
        "curve": include_curve,
        "path": include_path,
    }
    echoed = a.as_dict()
    components = _components(cal, st) | {
        "premise_factor": factor,
        "new_equivalent_price": new_price,
        "new_equivalent_basis": st.new_basis,
        "market_new_price": prices[0] if prices else None,
        "market_used_price": prices[1] if prices else None,
        "sale_credibility": prices[2] if prices else 0.0,
        "market_age_months": market_age,
        "weights": {"income": wi, "market": wm, "cost": wc},
        "survival_hazard_now": st.unit.hazard(st.age_months / 12.0),
    }
    return Residual(
        model=spec.slug,
        as_of=as_of,
        age_months=st.age_months,
        currency="USD",
        value_per_gpu=value,
        residual_fraction=value / reference,
        reference_price=reference,
        reference_price_basis=basis,
        low=low * factor,
        high=high * factor,
        economic_life_months=st.age_months + end * 12.0,
        remaining_life_months=end * 12.0,
        regime="behind" if st.behind else "frontier",
        frontier_precision=st.precision,
        fp8=st.fp8,
        fp4=st.fp4,
        approaches=Approaches(income, market, cost, wm, wi, wc),
        reconciled=reconciled,
        premise=premise,
        projection=_projection(cal, st),
        components=components,
        observations_used=(cal.levels[spec.slug].observations if spec.slug in cal.levels else 0)
        + (cal.sales.counts.get(spec.slug, 0) if cal.sales else 0),
        assumptions=echoed,
        engine_version=ENGINE_VERSION,
        inputs_digest=_digest(cal, spec, st, echoed, request),
        curve=curve,
        path=path,
    )
