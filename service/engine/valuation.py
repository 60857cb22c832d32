"""``quote`` and ``residual``: fair lease rates and residual values (DESIGN.md 4.5-4.10, 6).

Both read one :class:`~service.engine.state.State`, so a fixed-term quote is, by
construction, the level rent that hands the lessee exactly the value the lessor gives up
along the same path as the residual value (the identity of DESIGN.md 4.8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

from service.engine.assumptions import Assumptions
from service.engine.calibration import Calibration, sale_features
from service.engine.digest import inputs_digest
from service.engine.income import HOURS_PER_YEAR, fair_lease_rate
from service.engine.path import RentPath, end_of_life, value_at
from service.engine.state import State, cost_approach, market_log_rent, state_of
from service.engine.types import FIXED_TERM_YEARS, PREMISES, QUOTE_TERMS, ModelSpec, Premise, Term
from service.engine.version import ENGINE_VERSION

__all__ = ["Approaches", "CurvePoint", "Quote", "Residual", "quote", "residual"]

_HOURS_PER_MONTH = HOURS_PER_YEAR / 12.0
#: Prior sd of a model's own level (log), as in the hedonic model: widens the band of models
#: priced from the cross-section alone.
_MODEL_SD = 0.3
#: The default assumptions (immutable, so one validated instance serves every request).
_DEFAULTS = Assumptions()
#: Field names of :class:`ModelSpec` in declaration order (for the inputs digest).
_SPEC_FIELDS = tuple(f.name for f in fields(ModelSpec))


@dataclass(frozen=True, slots=True)
class Quote:
    """A fair lease rate in USD per GPU-hour (fields as in DESIGN.md section 6)."""

    model: str
    as_of: date
    term: Term
    currency: str
    gpus: int
    age_months: float
    rate_per_gpu_hour: float
    rate_per_gpu_month: float
    rate_total_per_hour: float
    low: float
    high: float
    regime: str
    frontier_precision: str
    fp8: bool
    fp4: bool
    components: dict[str, Any]
    observations_used: int
    assumptions: dict[str, float]
    engine_version: str
    inputs_digest: str


@dataclass(frozen=True, slots=True)
class Approaches:
    """The three appraisal approaches per GPU in USD (market: None without sale evidence)."""

    income: float
    market: float | None
    cost: float
    market_weight: float


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """Projected value of the unit when it reaches ``age_months`` on the expected path,
    reconciled and premise-adjusted as today; ``income_value`` is the raw income path."""

    age_months: float
    value_per_gpu: float
    residual_fraction: float
    income_value: float


@dataclass(frozen=True, slots=True)
class Residual:
    """A residual value in USD per GPU (fields as in DESIGN.md section 6)."""

    model: str
    as_of: date
    age_months: float
    currency: str
    value_per_gpu: float
    residual_fraction: float
    reference_price: float
    reference_price_basis: str  # "launch_price" | "engine_estimate"
    low: float
    high: float
    economic_life_months: float
    remaining_life_months: float
    regime: str
    frontier_precision: str
    fp8: bool
    fp4: bool
    approaches: Approaches
    reconciled: float
    premise: Premise
    components: dict[str, Any]
    observations_used: int
    assumptions: dict[str, float]
    engine_version: str
    inputs_digest: str
    curve: tuple[CurvePoint, ...] | None


def _band_widening(cal: Calibration, spec: ModelSpec) -> float:
    """``√(1 + (1-Z)·τ²/s²)``: a model without its own prices carries the between-model
    uncertainty τ on top of the market's spread s (half the width of the band)."""
    z = cal.rent.credibility.get(spec.slug, 0.0)
    lo, hi = cal.rent.residual_quantiles
    spread = max((hi - lo) / 2.0, 1e-3)
    return math.sqrt(1.0 + (1.0 - z) * (_MODEL_SD / spread) ** 2)


def _scaled(path: RentPath, factor: float) -> RentPath:
    return RentPath(tuple(replace(s, rent=s.rent * factor) for s in path.segments))


def _income(st: State, path: RentPath) -> float:
    return value_at(path, st.unit, 0.0, end_of_life(path, st.unit))


def _fixed_rate(st: State, path: RentPath, years: float) -> float:
    """DESIGN.md 4.8 on the path: ``(V(0) - V(T)·e^(-rT)) / (H·(1 - e^(-rT))/r) + C``."""
    end = end_of_life(path, st.unit)
    v0 = value_at(path, st.unit, 0.0, end)
    vt = value_at(path, st.unit, years, end)
    return fair_lease_rate(v0, vt, rate=st.unit.rate, years=years, cost=st.unit.cost)


def _check(term: str, gpus: int) -> None:
    if term not in QUOTE_TERMS:
        raise ValueError(f"term must be one of {', '.join(QUOTE_TERMS)}, got {term!r}")
    if not 1 <= gpus <= 1_000_000:
        raise ValueError(f"gpus must be between 1 and 1,000,000, got {gpus!r}")


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
) -> Quote:
    """Fair lease rate for ``term`` starting ``as_of`` on a unit of age ``age_months``.

    On-demand and spot are market rates: the hedonic rent with its term effect, projected
    from the calibration date along the rent path. Fixed terms (1m-3y) come from the
    identity of DESIGN.md 4.8 on the same path as :func:`residual`.
    """
    _check(term, gpus)
    a = assumptions or _DEFAULTS
    st = state_of(cal, spec, as_of=as_of, age_months=age_months, a=a, fp8=fp8, fp4=fp4)
    hedonic_term = market_log_rent(cal, spec, term, fp8, fp4)["term"]
    lo_q, hi_q = (q * _band_widening(cal, spec) for q in cal.rent.residual_quantiles)
    if term in FIXED_TERM_YEARS:
        years = FIXED_TERM_YEARS[term]
        rate = _fixed_rate(st, st.path, years)
        low = _fixed_rate(st, _scaled(st.path, math.exp(lo_q)), years)
        high = _fixed_rate(st, _scaled(st.path, math.exp(hi_q)), years)
    else:
        rate = st.rent * math.exp(hedonic_term)
        low, high = rate * math.exp(lo_q), rate * math.exp(hi_q)
    components = _components(cal, st) | {
        "term_factor": rate / st.rent,
        "market_term_rate": st.rent * math.exp(hedonic_term),
        "pricing": "identity" if term in FIXED_TERM_YEARS else "market",
    }
    request = {"kind": "quote", "term": term, "gpus": gpus, "fp8": fp8, "fp4": fp4}
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
        low=low,
        high=high,
        regime="behind" if st.behind else "frontier",
        frontier_precision=st.precision,
        fp8=st.fp8,
        fp4=st.fp4,
        components=components,
        observations_used=cal.rent.counts.get(spec.slug, 0),
        assumptions=echoed,
        engine_version=ENGINE_VERSION,
        inputs_digest=_digest(cal, spec, st, echoed, request),
    )


def _components(cal: Calibration, st: State) -> dict[str, Any]:
    """The explanation of a number (DESIGN.md 4.10): multiplicative rent factors, regime,
    decline rates, opex and the data behind them."""
    parts = st.log_rent_parts
    return {
        "hedonic_base": math.exp(parts["index"] + parts["specification"]),
        "frontier_factor": math.exp(parts["frontier"]),
        "model_adjustment": math.exp(parts["model"]),
        "credibility": cal.rent.credibility.get(st.spec.slug, 0.0),
        "projection_factor": st.rent / math.exp(sum(parts.values())),
        "market_rent_on_demand": st.rent,
        "decline_frontier_per_year": st.declines.frontier,
        "decline_behind_per_year": st.declines.behind,
        "frontier_step_factor": st.step,
        "months_until_left_behind": st.move_in_months,
        "opex_per_gpu_hour": st.unit.cost,
        "remaining_life_months": st.end * 12.0,
        "calibration_as_of": cal.as_of.isoformat(),
        "cross_section_observations": cal.observations_used,
    }


def _digest(
    cal: Calibration,
    spec: ModelSpec,
    st: State,
    assumptions: dict[str, float],
    request: dict[str, Any],
) -> str:
    """Digest of everything behind an answer; the spec is read field by field (as
    ``dataclasses.asdict`` would give for its scalar fields, without the deep copy)."""
    return inputs_digest(
        {
            "engine_version": ENGINE_VERSION,
            "data": cal.fingerprint,
            "spec": {name: getattr(spec, name) for name in _SPEC_FIELDS},
            "request": request | {"as_of": st.as_of.isoformat(), "age_months": st.age_months},
            "assumptions": assumptions,
        }
    )


def _market(
    cal: Calibration, st: State, fp8: bool | None, fp4: bool | None
) -> tuple[float | None, float]:
    """Used-sale value from the sale model (credibility ``Z`` of the model's own sales), moved
    by the what-if's effect on rent; None when the model has no sale evidence."""
    sales = cal.sales
    if sales is None or st.spec.slug not in sales.credibility:
        return None, 0.0
    f = sale_features(
        st.spec,
        cal.frontier,
        st.as_of,
        math.log(st.reference_price),
        condition="used",
        model=st.spec.slug,
    )
    what_if = math.exp(sum(market_log_rent(cal, st.spec, "on_demand", fp8, fp4).values()))
    as_is = math.exp(sum(market_log_rent(cal, st.spec, "on_demand", None, None).values()))
    return math.exp(sales.log_price(f)) * what_if / as_is, sales.credibility[st.spec.slug]


def _reconcile(income: float, market: float | None, weight: float, cost: float) -> float:
    """``min(cost, (1-w)·income + w·market)``: income is the spine, used sales pull it by their
    credibility, and no used unit is worth more than a new equivalent."""
    blended = income if market is None else (1.0 - weight) * income + weight * market
    return min(cost, blended)


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
) -> Residual:
    """Residual value per GPU: income, market and cost approaches, reconciled, on a premise.

    The premise factor is 1 (market value), the orderly or the forced liquidation factor.
    """
    if premise not in PREMISES:
        raise ValueError(f"premise must be one of {', '.join(PREMISES)}, got {premise!r}")
    a = assumptions or _DEFAULTS
    st = state_of(cal, spec, as_of=as_of, age_months=age_months, a=a, fp8=fp8, fp4=fp4)
    factor = {
        "market": 1.0,
        "orderly": a.orderly_liquidation_factor,
        "forced": a.forced_liquidation_factor,
    }[premise]
    income = value_at(st.path, st.unit, 0.0, st.end)
    market, z = _market(cal, st, fp8, fp4)
    weight = a.market_weight_max * z if market is not None else 0.0
    cost = cost_approach(cal, st)
    reconciled = _reconcile(income, market, weight, cost)
    lo_q, hi_q = (q * _band_widening(cal, spec) for q in cal.rent.residual_quantiles)
    low = _reconcile(_income(st, _scaled(st.path, math.exp(lo_q))), market, weight, cost)
    high = _reconcile(_income(st, _scaled(st.path, math.exp(hi_q))), market, weight, cost)
    value = reconciled * factor
    curve = _curve(st, income, reconciled * factor) if include_curve else None
    request = {
        "kind": "residual",
        "premise": premise,
        "fp8": fp8,
        "fp4": fp4,
        "curve": include_curve,
    }
    echoed = a.as_dict()
    return Residual(
        model=spec.slug,
        as_of=as_of,
        age_months=st.age_months,
        currency="USD",
        value_per_gpu=value,
        residual_fraction=value / st.reference_price,
        reference_price=st.reference_price,
        reference_price_basis=st.reference_basis,
        low=low * factor,
        high=high * factor,
        economic_life_months=st.age_months + st.end * 12.0,
        remaining_life_months=st.end * 12.0,
        regime="behind" if st.behind else "frontier",
        frontier_precision=st.precision,
        fp8=st.fp8,
        fp4=st.fp4,
        approaches=Approaches(income, market, cost, weight),
        reconciled=reconciled,
        premise=premise,
        components=_components(cal, st) | {"premise_factor": factor},
        observations_used=cal.rent.counts.get(spec.slug, 0)
        + (cal.sales.counts.get(spec.slug, 0) if cal.sales else 0),
        assumptions=echoed,
        engine_version=ENGINE_VERSION,
        inputs_digest=_digest(cal, spec, st, echoed, request),
        curve=curve,
    )


def _curve(st: State, income_now: float, value_now: float) -> tuple[CurvePoint, ...]:
    """Monthly points from today's age to retirement on the expected path; today's ratio of
    reported to income value scales the income path (so the first point is today's answer)."""
    ratio = value_now / income_now if income_now > 0 else 1.0
    months = math.ceil(st.end * 12.0)
    points = []
    for k in range(months + 1):
        tau = min(k / 12.0, st.end)
        income = value_at(st.path, st.unit, tau, st.end)
        value = income * ratio
        points.append(CurvePoint(st.age_months + k, value, value / st.reference_price, income))
    return tuple(points)
