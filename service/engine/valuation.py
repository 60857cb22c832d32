"""``quote`` and ``residual``: fair lease rates and residual values.

A quote is the model's market level (its own filtered market, blended with the hedonic prior by
credibility), moved to the requested level (segment or provider), by the what-if's effect, along
the regime path from the evidence date to ``as_of``, and by the term: spot from spot cards,
fixed terms as the levelised contract-level rent over the term. A residual reconciles three
approaches with shown weights: income (the expected PV of contract-level rent less opex over the
unit's remaining life, weighted by survival), market (the sale model, anchored on the model's
own sales) and cost (new-equivalent price less physical depreciation).

Every number is rebuilt from its ``components``: ``rate = market_level × level_factor ×
what_if_factor × projection_factor × term_factor × term_sellers_factor × own_term_factor``
and ``value = premise_factor × Σ weight × approach``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from service.engine.assumptions import Assumptions
from service.engine.calibration import Calibration, sale_features
from service.engine.digest import inputs_digest
from service.engine.errors import EngineInputError
from service.engine.income import HOURS_PER_YEAR, annuity
from service.engine.path import (
    RentPath,
    Segment,
    cumulative_hazard,
    end_of_life,
    rent_at,
    value_at,
)
from service.engine.state import State, cal_reference, state_of
from service.engine.types import FIXED_TERM_YEARS, PREMISES, QUOTE_TERMS, ModelSpec, Premise, Term
from service.engine.unit import unit_of
from service.engine.version import ENGINE_VERSION

__all__ = [
    "Approaches",
    "CurvePoint",
    "PathPoint",
    "Projection",
    "Quote",
    "Residual",
    "quote",
    "residual",
]

_HOURS_PER_MONTH = HOURS_PER_YEAR / 12.0
_Z80 = 1.2815515655446004
_DEFAULTS = Assumptions()
_SPEC_FIELDS = tuple(f.name for f in fields(ModelSpec))
#: Spot against on-demand where no seller quotes both (an assumption): interruptible capacity
#: lists at roughly half to two thirds of on-demand on public cards.
PRIOR_LOG_SPOT = math.log(0.6)
#: Extra log variance of a fixed-term or spot factor over the on-demand level (contract level
#: read from a few sellers' cards): 5% sd.
_TERM_VARIANCE = 0.05**2


@dataclass(frozen=True, slots=True)
class Projection:
    """An answer dated after the last evidence: the evidence date and how far past it."""

    evidence_on: date
    horizon_months: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """A fair lease rate in USD per GPU-hour."""

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
    level: str
    projection: Projection | None
    components: dict[str, Any]
    observations_used: int
    assumptions: dict[str, float]
    engine_version: str
    inputs_digest: str


@dataclass(frozen=True, slots=True)
class Approaches:
    """The three appraisal approaches per GPU in USD and the weights that reconcile them."""

    income: float
    market: float | None
    cost: float
    market_weight: float
    income_weight: float = 0.0
    cost_weight: float = 0.0


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """Value, on the same date, of a unit of ``age_months`` (same premise and what-ifs);
    ``income_value`` is the income approach alone."""

    age_months: float
    value_per_gpu: float
    residual_fraction: float
    income_value: float


@dataclass(frozen=True, slots=True)
class PathPoint:
    """Expected value of this unit ``months_ahead`` from ``as_of`` (when it is
    ``age_months`` old), if it still works: the reported value moved along the expected
    contract-rent path (income approach's shape over time)."""

    months_ahead: int
    age_months: float
    value_per_gpu: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Residual:
    """A residual value in USD per GPU."""

    model: str
    as_of: date
    age_months: float
    currency: str
    value_per_gpu: float
    residual_fraction: float
    reference_price: float
    reference_price_basis: str
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
    projection: Projection | None
    components: dict[str, Any]
    observations_used: int
    assumptions: dict[str, float]
    engine_version: str
    inputs_digest: str
    curve: tuple[CurvePoint, ...] | None
    path: tuple[PathPoint, ...] | None = None


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


def _term_factor(st: State, term: str) -> tuple[float, str]:
    """Rate for ``term`` per unit of the on-demand rate, and where it comes from."""
    if term == "on_demand":
        return 1.0, "market"
    if term == "spot":
        spot = st.contracts.log_spot(st.spec.slug, st.behind)
        if spot is not None:
            return math.exp(spot), "spot_cards"
        pooled = st.pooled_spot
        if pooled is not None:
            return math.exp(pooled), "spot_panel"
        return math.exp(PRIOR_LOG_SPOT), "spot_prior"
    log_factor, source = st.contracts.log_factor(st.spec.slug, st.behind, term)
    return math.exp(log_factor), source


def term_rate(
    cal: Calibration, st: State, term: str
) -> tuple[float, float, str, float, float, float]:
    """(rate, term factor, its source, term-sellers factor, own-term factor, own credibility)
    of ``term`` at the state's level.

    Like for like (one seller), a commitment costs less per hour than on-demand: the term
    factor ``ψ·lev < 1``. At the market level a term's quote also carries who sells it (the
    term-sellers factor) and the model's own prices for it, so a one-year market quote may sit
    above the on-demand market when only premium sellers offer one-year contracts: the data
    say so, and the components show it."""
    factor, source = _term_factor(st, term)
    sellers = math.exp(cal.panel.term_sellers.get(term, 0.0)) if st.level.kind == "market" else 1.0
    own_term, own_weight = _own_term(cal, st, term, math.log(st.rent * factor * sellers))
    rate = st.rent * factor * sellers * own_term
    return rate, factor, source, sellers, own_term, own_weight


def contract_path(cal: Calibration, st: State) -> RentPath:
    """The expected contract-level rent path, bootstrapped from the fixed-term quotes as a
    forward curve is from bond yields: on each interval between quoted terms the forward rent
    ``f_i = (PV_i - PV_(i-1)) / (e^(-r·T_(i-1))·ann(r, T_i - T_(i-1)))``, ``PV_T = q_T·ann(r,
    T)`` (ann(r, T) = (1 - e^(-rT))/r), so that the level rent of every term T is exactly its
    quote; after the longest term, the on-demand path's shape (decline and frontier steps) from
    the last forward on. A forward is never negative."""
    r = st.unit.rate
    terms = sorted(FIXED_TERM_YEARS.items(), key=lambda kv: kv[1])
    segments = []
    previous_pv, previous_t = 0.0, 0.0
    for term, years in terms:
        pv = term_rate(cal, st, term)[0] * annuity(r, years)
        forward = (pv - previous_pv) / (math.exp(-r * previous_t) * annuity(r, years - previous_t))
        segments.append(Segment(previous_t, max(forward, 0.0), 0.0))
        previous_pv, previous_t = pv, years
    tail = st.path
    scale = segments[-1].rent / rent_at(tail, previous_t) if rent_at(tail, previous_t) > 0 else 0.0
    later = [s for s in tail.segments if s.start > previous_t]
    current = [s for s in tail.segments if s.start <= previous_t][-1]
    segments[-1] = Segment(segments[-1].start, segments[-1].rent, 0.0)
    segments.append(Segment(previous_t, rent_at(tail, previous_t) * scale, current.decline))
    segments += [Segment(s.start, s.rent * scale, s.decline) for s in later]
    return RentPath(tuple(segments))


def _own_term(cal: Calibration, st: State, term: str, prior: float) -> tuple[float, float]:
    """The pull of a model's own prices for ``term`` (market level only): the credibility blend
    ``Z·own + (1-Z)·prior`` of the term's filtered level (moved to ``as_of`` like the on-demand
    level, with the what-if) and the prior (on-demand × term factor × term sellers), as a
    factor on the prior, with ``Z = τ²/(τ² + P)``."""
    known = cal.term_levels.get((st.spec.slug, term))
    if known is None or st.level.kind != "market" or cal.models.get(st.spec.slug) != st.spec:
        return 1.0, 0.0
    level, variance = known
    own = level + st.what_if + math.log(st.projection_factor)
    z = cal.term_tau**2 / (cal.term_tau**2 + variance)
    return math.exp(z * (own - prior)), z


def _band(cal: Calibration, st: State, extra: float) -> tuple[float, float]:
    """Log offsets (low, high) of the 80% band: the spread of prices around the level at that
    level (sellers' spread for market and segment answers), widened by the level's own
    variance, the projection's (the filter's level noise per month and the decline's prior sd
    per year) and ``extra``: ``q·√(1 + v/s²)`` with s the spread's normal-equivalent sd."""
    lo, hi = cal.dispersion["provider" if st.level.kind == "provider" else "market"]
    s = max((hi - lo) / (2 * _Z80), 1e-3)
    k = math.sqrt(1.0 + (st.level_variance + _projection_variance(cal, st) + extra) / s**2)
    return lo * k, hi * k


def _projection_variance(cal: Calibration, st: State) -> float:
    """Variance a projection past the evidence adds to a log level: the filter's level noise
    per month and the decline's prior sd per year."""
    years = st.projection_months / 12.0
    return st.projection_months * cal.settings.q_level + (_DEFAULTS.decline_prior_sd * years) ** 2


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
    rate, factor, source, sellers, own_term, own_weight = term_rate(cal, st, term)
    lo, hi = _band(cal, st, 0.0 if term == "on_demand" else _TERM_VARIANCE)
    components = _components(cal, st) | {
        "term_factor": factor,
        "term_source": source,
        "term_sellers_factor": sellers,
        "own_term_factor": own_term,
        "own_term_credibility": own_weight,
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


def _income(
    st: State, path: RentPath, age_months: float, a: Assumptions, reference: float
) -> tuple[float, float]:
    """(value, years to retirement) of a unit of ``age_months`` on the contract path."""
    unit = unit_of(st.spec, a, a.scrap_fraction * reference, age_months, st.capacity)
    end = end_of_life(path, unit)
    return value_at(path, unit, 0.0, end), end


#: Pseudo-count of own sales for the market approach's credibility ``n/(n + k)``.
_SALE_PSEUDO_COUNT = 3.0


def _market_prices(
    cal: Calibration, st: State, reference: float
) -> tuple[float, float, float] | None:
    """Sale-model prices on ``as_of`` of a new and of a used unit of the model (at its market
    age; with the what-if) and the credibility of the model's own recent sales, or None
    without a sale model."""
    sales = cal.sales
    if sales is None:
        return None
    registered = cal.models.get(st.spec.slug) == st.spec
    model = st.spec.slug if st.spec.slug in sales.models and registered else None

    def price(condition: str) -> float:
        f = sale_features(
            st.spec, cal.frontier, st.as_of, math.log(reference), condition=condition, model=model
        )
        return math.exp(sales.log_price(f) + st.what_if)

    n = cal.recent_sales.get(st.spec.slug, 0) if registered else 0
    new, used = price("new"), price("used")
    own = cal.new_price.get(st.spec.slug) if registered else None
    if own is not None and own.basis == "new_sales":
        # anchored on the model's own recent new-unit sales; used keeps the model's discount
        anchored = own.price * math.exp(st.what_if) * st.projection_factor
        used, new = used * anchored / new, anchored
    return new, min(used, new), n / (n + _SALE_PSEUDO_COUNT)


@dataclass(frozen=True, slots=True)
class _Valuer:
    """Everything to value units of one model on one date at any age (for the curve)."""

    st: State
    contracts: RentPath
    a: Assumptions
    reference: float
    new_price: float
    market: tuple[float, float, float] | None  # new, used at market age, credibility
    market_age: float
    weights: tuple[float, float, float]  # income, market, cost

    def survival(self, age: float) -> float:
        """``S(x) = exp(-∫_0^x h)``, the share of units still working at ``age`` months."""
        return math.exp(-cumulative_hazard(self.st.unit, 0.0, age / 12.0))

    def market_value(self, age: float) -> float | None:
        """Market approach at ``age`` months: the model's sale prices on ``as_of``, from the
        new price at age 0 to the used price at the model's market age (the age of the units
        that sell used), geometrically in between, ``P_new·(P_used/P_new)^(a/a_m)``; past the
        market age the used price moves with survival, ``P_used·S(a)/S(a_m)``. a_m is at
        least a year (a unit is used from first use)."""
        if self.market is None:
            return None
        new, used, _ = self.market
        market_age = max(self.market_age, 12.0)
        if age <= market_age:
            return float(new * (used / new) ** (age / market_age))
        return used * self.survival(age) / self.survival(market_age)

    def cost_value(self, age: float) -> float:
        """New-equivalent price less physical depreciation, straight line to scrap over the
        physical life (the age-life method of the cost approach)."""
        scrap = self.a.scrap_fraction
        depreciation = scrap + (1.0 - scrap) * max(1.0 - age / self.a.physical_life_months, 0.0)
        return self.new_price * depreciation

    def value(self, age: float) -> tuple[float, float, float | None, float, float]:
        """(reconciled, income, market, cost, years to retirement) at ``age`` months."""
        income, end = _income(self.st, self.contracts, age, self.a, self.reference)
        market = self.market_value(age)
        cost = self.cost_value(age)
        wi, wm, wc = self.weights
        total = wi * income + wc * cost + (wm * market if market is not None else 0.0)
        return total, income, market, cost, end


#: The income approach describes how a part is priced only if a new unit's income value
#: reaches at least this share of its new-equivalent price; below, rents and prices are
#: different markets (consumer cards in spare hosts, parts whose peers' capacity costs do not
#: fit them) and the market and cost approaches carry the value.
INCOME_FLOOR = 0.25


def _income_reliable(
    cal: Calibration,
    spec: ModelSpec,
    as_of: date,
    a: Assumptions,
    reference: float,
    fp8: bool | None,
    fp4: bool | None,
    st: State,
) -> bool:
    """Whether rents earn the part's price, judged on the part as it is (a what-if moves the
    value, not which approaches describe the part): its capacity calibration, and a new unit's
    income value at least :data:`INCOME_FLOOR` of its new-equivalent price."""
    if not cal.capacity.income_reliable(spec):
        return False
    base = (
        st
        if fp8 is None and fp4 is None
        else state_of(cal, spec, as_of=as_of, age_months=0.0, a=a, fp8=None, fp4=None)
    )
    income, _ = _income(base, contract_path(cal, base), 0.0, a, reference)
    return income >= INCOME_FLOOR * base.new_price * base.projection_factor


def _weights(
    a: Assumptions, market: tuple[float, float, float] | None, income_reliable: bool
) -> tuple[float, float, float]:
    """Market: ``market_weight_max × n/(n + 3)`` (n: the model's own sales in two years);
    cost: ``cost_weight``; income: the rest. Where rents cannot earn the part's price (see
    :meth:`Capacity.income_reliable` and :data:`INCOME_FLOOR`), income gets no weight and the
    market and cost approaches share it in proportion."""
    wm = a.market_weight_max * market[2] if market is not None else 0.0
    wc = a.cost_weight
    wi = max(1.0 - wm - wc, 0.0)
    if not income_reliable:
        total = wm + wc
        return 0.0, wm / total if total > 0 else 0.0, wc / total if total > 0 else 1.0
    return wi, wm, wc


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
    if premise not in PREMISES:
        raise EngineInputError(
            "premise", f"premise must be one of {', '.join(PREMISES)}, got {premise!r}"
        )
    a = assumptions or _DEFAULTS
    st = state_of(cal, spec, as_of=as_of, age_months=age_months, a=a, fp8=fp8, fp4=fp4)
    factor = {
        "market": 1.0,
        "orderly": a.orderly_liquidation_factor,
        "forced": a.forced_liquidation_factor,
    }[premise]
    reference = cal_reference(cal, spec)
    new_price = st.new_price * math.exp(st.what_if) * st.projection_factor
    prices = _market_prices(cal, st, reference)
    market_age = max((as_of - spec.release_date).days / 30.436875, 0.0)
    contracts = contract_path(cal, st)
    weights = _weights(a, prices, _income_reliable(cal, spec, as_of, a, reference, fp8, fp4, st))
    valuer = _Valuer(st, contracts, a, reference, new_price, prices, market_age, weights)
    reconciled, income, market, cost, end = valuer.value(st.age_months)
    value = reconciled * factor
    low, high = _value_band(cal, st, valuer, income, market, cost)
    curve = _curve(valuer, factor, reference) if include_curve else None
    path = _value_path(st, valuer.contracts, a, reference, value, income) if include_path else None
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


def _value_band(
    cal: Calibration, st: State, valuer: _Valuer, income: float, market: float | None, cost: float
) -> tuple[float, float]:
    """80% band of the reconciled value: each approach at its own band (income at the rent
    band, market and cost at the spread of sale prices around a model's level), weighted as
    the value. Every approach rests on the model's price level new (the income approach through
    the capacity multiple that prices a new unit at its new-equivalent price), so each band is
    widened by that level's own uncertainty, ``k = √(1 + v/s²)`` as in :func:`_band`, with
    v the sale level's posterior variance (wide for a model with few sales of its own), and
    by the projection's variance past the evidence, as a rent's."""
    v = cal.sales.level_variance(st.spec.slug) if cal.sales is not None else 0.25
    lo, hi = _band(cal, st, _TERM_VARIANCE + v)
    sale_lo, sale_hi = cal.sales.dispersion if cal.sales is not None else (-0.3, 0.3)
    s = max((sale_hi - sale_lo) / (2 * _Z80), 1e-3)
    k = math.sqrt(1.0 + (v + st.level_variance + _projection_variance(cal, st)) / s**2)
    sale_lo, sale_hi = sale_lo * k, sale_hi * k
    wi, wm, wc = valuer.weights
    # the cost approach's new price is a sale price (own sales) or rests on one (multiples)
    low = wi * income * math.exp(lo) + wc * cost * math.exp(sale_lo)
    high = wi * income * math.exp(hi) + wc * cost * math.exp(sale_hi)
    if market is not None:
        low += wm * market * math.exp(sale_lo)
        high += wm * market * math.exp(sale_hi)
    return low, high


def _value_path(
    st: State, path: RentPath, a: Assumptions, reference: float, value: float, income: float
) -> tuple[PathPoint, ...]:
    """Monthly from ``as_of`` to retirement: today's reported value times the ratio of the
    income value τ ahead (on the expected contract-rent path, surviving to τ) to today's.
    Applied to this path, the lease identity ``(V(0) - V(T)·e^(-rT)) / (H·ann(r, T)) + C``
    gives the fair rate of a T lease on the reported values."""
    unit = unit_of(st.spec, a, a.scrap_fraction * reference, st.age_months, st.capacity)
    end = end_of_life(path, unit)
    ratio = value / income if income > 0 else 1.0
    points = []
    for k in range(math.ceil(end * 12.0) + 1):
        tau = min(k / 12.0, end)
        points.append(PathPoint(k, st.age_months + k, ratio * value_at(path, unit, tau, end)))
    return tuple(points)


def _curve(valuer: _Valuer, factor: float, reference: float) -> tuple[CurvePoint, ...]:
    """Value by age on the same date, monthly from new to the end of physical life."""
    months = math.ceil(valuer.a.physical_life_months)
    points = []
    for age in range(months + 1):
        value, income, _, _, _ = valuer.value(float(age))
        points.append(CurvePoint(float(age), value * factor, value * factor / reference, income))
    return tuple(points)
