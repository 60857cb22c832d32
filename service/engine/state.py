"""Per-request state shared by ``quote`` and ``residual``: the model's level at the requested
level (market, segment or provider), projected from the evidence date to ``as_of`` along the
regime path, the path from ``as_of`` on, and the owner's economics of a unit of a given age."""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date

from service.engine.assumptions import Assumptions
from service.engine.calibration import Calibration, Declines, combine_declines, month_index
from service.engine.contracts import Contracts, fit_contracts
from service.engine.errors import BeyondHorizon, EngineInputError, NotReleased
from service.engine.frontier import (
    Support,
    frontier_at,
    is_behind,
    months_until_left_behind,
    support_of,
)
from service.engine.new_prices import DEFAULT_MULTIPLE
from service.engine.panel import SEGMENTS
from service.engine.path import RentPath, Segment, UnitEconomics, end_of_life
from service.engine.prior import features
from service.engine.types import DAYS_PER_MONTH, ModelSpec, Precision
from service.engine.unit import unit_of

__all__ = [
    "MAX_PROJECTION_MONTHS",
    "Level",
    "State",
    "cal_reference",
    "declines_for",
    "new_equivalent",
    "projection_months",
    "state_of",
]

_MONTHS_PER_YEAR = 12.0
#: How far past the last evidence the engine projects (months): beyond five years a GPU
#: generation has turned over twice and no rent path is evidence of anything.
MAX_PROJECTION_MONTHS = 60
_DEFAULT_PRIORS = (
    Assumptions().decline_prior_frontier,
    Assumptions().decline_prior_behind,
    Assumptions().decline_prior_sd,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Level:
    """The level a rate is quoted at: ``kind`` market|segment|provider, its name and log shift
    from the market level (median seller)."""

    kind: str
    name: str | None
    shift: float


@dataclass(frozen=True, slots=True, kw_only=True)
class State:
    """Everything a quote or residual needs about one unit on one date."""

    spec: ModelSpec
    as_of: date
    age_months: float
    precision: Precision
    behind: bool
    fp8: bool
    fp4: bool
    support: Support
    log_market_level: float  # at the evidence date, the model as it is (USD/h, log)
    level_variance: float
    credibility: float
    log_prior: float
    log_own: float | None
    what_if: float  # log factor of the fp8/fp4 what-if
    level: Level
    projection_months: float
    projection_factor: float
    market_rent: float  # on-demand at as_of, market level, what-if applied (USD/h)
    rent: float  # market_rent at the requested level
    path: RentPath  # on-demand market rent from as_of on
    declines: Declines
    contracts: Contracts
    move_in_months: float | None
    step: float
    log_psi: float
    pooled_spot: (
        float | None
    )  # the panel's pooled spot effect for the regime, if any seller has one
    new_price: float  # new-equivalent price at the evidence date, as is (USD)
    new_basis: str
    capacity: float  # capital whose charge the owner pays on top of opex (USD per GPU)
    unit: UnitEconomics
    end: float  # years from as_of to retirement


def declines_for(cal: Calibration, a: Assumptions) -> tuple[Declines, Contracts]:
    """Declines under ``a``'s priors (the calibration's when they are the defaults) and the
    contract levels read at those rates (memoised per calibration)."""
    key = (a.decline_prior_frontier, a.decline_prior_behind, a.decline_prior_sd)
    if key == _DEFAULT_PRIORS:
        return cal.declines, cal.contracts
    hit = cal.refits.get(key)
    if hit is None:
        declines = combine_declines(cal.declines.inputs, *key)
        hit = (
            declines,
            fit_contracts(cal.pairs, {False: declines.frontier, True: declines.behind}),
        )
        if len(cal.refits) < 64:
            cal.refits[key] = hit
    return hit


def _level(cal: Calibration, segment: str | None, provider: str | None) -> Level:
    if segment is not None and provider is not None:
        raise EngineInputError("provider", "give segment or provider, not both")
    if provider is not None:
        key = provider.strip().lower()
        matches = sorted(s for s in cal.panel.sellers if s == key or s.split("+")[0] == key)
        if not matches:
            known = ", ".join(sorted({s.split("+")[0] for s in cal.panel.sellers}))
            raise EngineInputError(
                "provider", f"no prices from provider {provider!r}; known: {known}"
            )
        chosen = key if key in matches else matches[0]
        return Level(kind="provider", name=chosen, shift=cal.panel.seller(chosen))
    if segment is not None:
        if segment not in SEGMENTS:
            raise EngineInputError("segment", f"segment must be one of {', '.join(SEGMENTS)}")
        return Level(kind="segment", name=segment, shift=cal.panel.segments.get(segment, 0.0))
    return Level(kind="market", name=None, shift=0.0)


def _steps(
    cal: Calibration, support: Support, on: date, a: Assumptions
) -> list[tuple[float, float]]:
    """(years from ``on``, log step) of each later frontier transition the part lacks: the known
    ones at their estimated effect, and, for a part that supports every known format, one
    assumed move a cadence after the last at the latest transition's effect."""
    transitions = cal.cross_section.transitions
    steps = []
    for entry in sorted(cal.frontier, key=lambda e: e.effective_from):
        if (
            entry.effective_from > on
            and entry.precision in transitions
            and not support.supports(entry.precision)
        ):
            steps.append(
                ((entry.effective_from - on).days / 365.25, transitions[entry.precision].used)
            )
    if not steps and support.fp8 and support.fp4:
        move = months_until_left_behind(cal.frontier, support, on, a.frontier_move_interval_months)
        if move is not None:
            steps.append((move / _MONTHS_PER_YEAR, transitions["fp4"].used))
    return steps


def _projection_factor(
    cal: Calibration, spec: ModelSpec, support: Support, as_of: date, a: Assumptions
) -> float:
    """How the quoted level moves from the evidence date to ``as_of``: the level filter's
    forecast (flat plus the damped slope, ``slope·φ(1-φ^h)/(1-φ)`` after h months; list rents
    are sticky and the filter never extrapolates a fixed drift) times the step of each
    frontier transition the part lacks that falls in between."""
    months = max(month_index(as_of) - month_index(cal.as_of), 0)
    known = cal.levels.get(spec.slug) if cal.models.get(spec.slug) == spec else None
    phi = cal.settings.damping
    trend = (
        known.slope * phi * (1 - phi**months) / (1 - phi) if known is not None and months else 0.0
    )
    steps = sum(
        log_step
        for years, log_step in _steps(cal, support, cal.as_of, a)
        if years * 365.25 <= (as_of - cal.as_of).days
    )
    return math.exp(trend + steps)


def _pooled_spot(cal: Calibration, behind: bool) -> float | None:
    terms = cal.panel.terms
    if ("spot", behind) in terms or ("spot", not behind) in terms:
        return cal.panel.term("spot", behind)
    return None


def _bounded(rate: float, as_is: float, support: Support, base: Support) -> float:
    """A what-if that adds formats never declines faster than the part as it is, one that
    removes formats never slower: value stays monotone in precision support."""
    adds = support.fp8 >= base.fp8 and support.fp4 >= base.fp4
    removes = support.fp8 <= base.fp8 and support.fp4 <= base.fp4
    if adds and not removes:
        return min(rate, as_is)
    if removes and not adds:
        return max(rate, as_is)
    return rate


def _path(
    cal: Calibration,
    support: Support,
    base: Support,
    on: date,
    rent: float,
    rates: dict[bool, float],
    a: Assumptions,
) -> tuple[RentPath, float | None]:
    """Rents from ``on``: the regime's rate now (bounded for what-ifs), then at each later
    transition the part lacks, its step and the behind rate. Returns the path and the months
    until the frontier first moves past the part (None if it is behind already)."""
    precision = frontier_at(cal.frontier, on)
    behind_now = is_behind(support, precision)
    now = _bounded(rates[behind_now], rates[is_behind(base, precision)], support, base)
    segments = [Segment(0.0, rent, now)]
    for years, log_step in _steps(cal, support, on, a):
        last = segments[-1]
        level = last.rent * math.exp(-last.decline * (years - last.start) + log_step)
        segments.append(Segment(years, level, rates[True]))
    move = None
    if not behind_now:
        move = months_until_left_behind(cal.frontier, support, on, a.frontier_move_interval_months)
    return RentPath(tuple(segments)), move


def _age(spec: ModelSpec, as_of: date, age_months: float | None) -> float:
    if age_months is None:
        return max((as_of - spec.release_date).days / DAYS_PER_MONTH, 0.0)
    if not (0.0 <= age_months <= 600.0 and math.isfinite(age_months)):
        raise EngineInputError(
            "age_months", f"age_months must be within [0, 600], got {age_months!r}"
        )
    return age_months


def _model_level(
    cal: Calibration, spec: ModelSpec, support: Support
) -> tuple[float, float, float, float, float | None]:
    """(log level as is, variance, credibility, prior, own) at the evidence date."""
    known = cal.levels.get(spec.slug)
    if known is not None and cal.models.get(spec.slug) == spec:
        return known.log_level, known.variance, known.credibility, known.prior, known.own
    prior = cal.cross_section.level(features(spec, support_of(spec), cal.frontier, cal.as_of))
    return prior, cal.cross_section.tau**2, 0.0, prior, None


def state_of(
    cal: Calibration,
    spec: ModelSpec,
    *,
    as_of: date,
    age_months: float | None,
    a: Assumptions,
    fp8: bool | None,
    fp4: bool | None,
    segment: str | None = None,
    provider: str | None = None,
) -> State:
    """Level at the evidence date, moved along the regime path to ``as_of``; then the path and
    the unit's economics from ``as_of`` on."""
    if as_of < cal.as_of:
        raise ValueError(f"as_of {as_of} precedes the calibration date {cal.as_of}")
    if spec.release_date > as_of:
        raise NotReleased(spec.slug, spec.release_date, as_of)
    horizon = projection_months(cal.as_of, as_of)
    level = _level(cal, segment, provider)
    lam, contracts = declines_for(cal, a)
    support = support_of(spec, fp8, fp4)
    log_level, variance, credibility, prior, own = _model_level(cal, spec, support)
    as_is = support_of(spec)
    what_if = 0.0
    if support != as_is:
        what_if = cal.cross_section.level(
            features(spec, support, cal.frontier, cal.as_of)
        ) - cal.cross_section.level(features(spec, as_is, cal.frontier, cal.as_of))
    rates = {False: lam.frontier, True: lam.behind}
    projection_factor = _projection_factor(cal, spec, support, as_of, a)
    market_rent = math.exp(log_level + what_if) * projection_factor
    path, move = _path(cal, support, as_is, as_of, market_rent, rates, a)
    steps = _steps(cal, support, as_of, a)
    age = _age(spec, as_of, age_months)
    behind = is_behind(support, frontier_at(cal.frontier, as_of))
    scrap = a.scrap_fraction * cal_reference(cal, spec)
    new_price, new_basis = new_equivalent(cal, spec)
    capacity = cal.capacity.factor(spec) * new_price
    unit = unit_of(spec, a, scrap, age, capacity)
    log_psi = contracts.log_psi(spec.slug, behind)
    income_path = path.scaled(math.exp(log_psi))
    return State(
        spec=spec,
        as_of=as_of,
        age_months=age,
        precision=frontier_at(cal.frontier, as_of),
        behind=behind,
        fp8=support.fp8,
        fp4=support.fp4,
        support=support,
        log_market_level=log_level,
        level_variance=variance,
        credibility=credibility,
        log_prior=prior,
        log_own=own,
        what_if=what_if,
        level=level,
        projection_months=max(horizon, 0.0),
        projection_factor=projection_factor,
        market_rent=market_rent,
        rent=market_rent * math.exp(level.shift),
        path=path,
        declines=lam,
        contracts=contracts,
        move_in_months=move,
        step=math.exp(steps[0][1]) if steps else 1.0,
        log_psi=log_psi,
        pooled_spot=_pooled_spot(cal, behind),
        new_price=new_price,
        new_basis=new_basis,
        capacity=capacity,
        unit=unit,
        end=end_of_life(income_path, unit),
    )


def cal_reference(cal: Calibration, spec: ModelSpec) -> float:
    """The reference (launch-equivalent) price of ``spec``: the calibration's for a registered
    model, the launch price or the segment's price-to-rent multiple for an inline one."""
    known = cal.reference.get(spec.slug)
    if known is not None and cal.models.get(spec.slug) == spec:
        return known.price
    if spec.launch_price_usd is not None:
        return spec.launch_price_usd
    level, _, _, _, _ = _model_level(cal, spec, support_of(spec))
    return _inline_multiple(cal, spec) * math.exp(level)


def new_equivalent(cal: Calibration, spec: ModelSpec) -> tuple[float, str]:
    """What a new unit costs at the evidence date and how that was found (an inline part: its
    launch price, or its level times its segment's price-to-rent multiple)."""
    known = cal.new_price.get(spec.slug)
    if known is not None and cal.models.get(spec.slug) == spec:
        return known.price, known.basis
    if spec.launch_price_usd is not None:
        return spec.launch_price_usd, "launch_price"
    return cal_reference(cal, spec), "segment_multiple"


def _inline_multiple(cal: Calibration, spec: ModelSpec) -> float:
    """Median price-to-rent multiple of registered models of the same segment class."""
    consumer = spec.segment == "consumer"
    values = sorted(
        m for s, m in cal.multiples.items() if (cal.models[s].segment == "consumer") == consumer
    )
    if not values:
        values = sorted(cal.multiples.values())
    if not values:
        return DEFAULT_MULTIPLE
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def projection_months(evidence_on: date, as_of: date) -> float:
    """Months from the evidence date to ``as_of`` (calendar months plus the day difference
    over the mean month). Raises :class:`BeyondHorizon`, naming the last date a projection
    reaches, past :data:`MAX_PROJECTION_MONTHS`: any later date, up to 9999-12-31, is refused
    here before any date arithmetic on it."""
    horizon = (
        month_index(as_of)
        - month_index(evidence_on)
        + (as_of.day - evidence_on.day) / DAYS_PER_MONTH
    )
    if horizon > MAX_PROJECTION_MONTHS:
        last = _add_months(evidence_on, MAX_PROJECTION_MONTHS)
        raise BeyondHorizon(evidence_on, as_of, MAX_PROJECTION_MONTHS, last)
    return horizon


def _add_months(on: date, months: int) -> date:
    """``on`` moved ``months`` calendar months on, the day clamped to the month's end: the
    last date :func:`projection_months` accepts (the same day, 60 months later)."""
    year, month0 = divmod(month_index(on) + months, 12)
    if year > 9999:
        return date.max
    return date(year, month0 + 1, min(on.day, calendar.monthrange(year, month0 + 1)[1]))
