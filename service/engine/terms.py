"""Term rates: spot and fixed-term quotes at a state's level, and the contract-rent path
bootstrapped from them (the forward curve a unit on contract earns)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from service.engine.calibration import Calibration
from service.engine.income import annuity
from service.engine.path import RentPath, Segment, rent_at
from service.engine.state import State
from service.engine.types import FIXED_TERM_YEARS

__all__ = [
    "PRIOR_LOG_SPOT",
    "TermRate",
    "contract_path",
    "fixed_term_rates",
    "non_decreasing",
    "term_factor",
    "term_rate",
]

#: Spot against on-demand where no seller quotes both (an assumption): interruptible capacity
#: lists at roughly half to two thirds of on-demand on public cards.
PRIOR_LOG_SPOT = math.log(0.6)


def term_factor(cal: Calibration, st: State, term: str) -> tuple[float, str]:
    """Rate for ``term`` per unit of the on-demand rate, and where it comes from: a seller's
    own cards (pairs of the same seller and date), else the lease panel's pooled term effect
    (the term's prices against the on-demand prices of the same model and month, across
    sellers, net of seller effects), else the theoretical contract curve ``ψ·lev(r, λ, T)``.
    The panel comes before the curve because it is observed: before sellers list a term
    beside their own on-demand rate, the curve alone put a two-year behind-the-frontier
    contract at 0.37 of on-demand where the market's two-year cards stood near 0.75."""
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
    if source == "contract_curve":
        pooled = _panel_log_factor(cal, st.behind, term)
        if pooled is not None:
            return math.exp(pooled), "term_panel"
    return math.exp(log_factor), source


def _panel_log_factor(cal: Calibration, behind: bool, term: str) -> float | None:
    """The panel's pooled log effect of ``term`` (the regime's, else the other regime's), at
    most 0 and never above a shorter term's (a commitment never costs more per hour than a
    shorter one), or None where no seller has quoted the term."""
    terms = cal.panel.terms
    regime = behind if (term, behind) in terms else not behind
    if (term, regime) not in terms:
        return None
    best = 0.0
    for other, years in sorted(FIXED_TERM_YEARS.items(), key=lambda kv: kv[1]):
        if years > FIXED_TERM_YEARS[term]:
            break
        best = min(best, terms.get((other, regime), best))
    return best


@dataclass(frozen=True, slots=True)
class TermRate:
    """A term's rate at the state's level and its parts: ``rate = rent × factor × sellers ×
    own_term × order × no_arbitrage``."""

    rate: float
    factor: float
    source: str
    sellers: float
    own_term: float
    own_weight: float
    no_arbitrage: float
    order: float = 1.0


def term_rate(cal: Calibration, st: State, term: str) -> TermRate:
    """The rate of ``term`` at the state's level.

    Like for like (one seller), a commitment costs less per hour than on-demand: the term
    factor ``ψ·lev < 1``. At the market level a term's quote also carries who sells it (the
    term-sellers factor) and the model's own prices for it, so a one-year market quote may sit
    above the on-demand market when only premium sellers offer one-year contracts: the data
    say so, and the components show it. Fixed terms are then made free of arbitrage together
    (:func:`fixed_term_rates`)."""
    if term in FIXED_TERM_YEARS:
        return fixed_term_rates(cal, st)[term]
    return _raw_term_rate(cal, st, term)


def _raw_term_rate(cal: Calibration, st: State, term: str) -> TermRate:
    factor, source = term_factor(cal, st, term)
    sellers = math.exp(cal.panel.term_sellers.get(term, 0.0)) if st.level.kind == "market" else 1.0
    own_term, own_weight = own_term_factor(cal, st, term, math.log(st.rent * factor * sellers))
    rate = st.rent * factor * sellers * own_term
    return TermRate(rate, factor, source, sellers, own_term, own_weight, 1.0)


def fixed_term_rates(cal: Calibration, st: State) -> dict[str, TermRate]:
    """Every fixed term's rate, in two order restrictions, each a least-squares fit by the
    pool-adjacent-violators algorithm (Barlow, Bartholomew, Bremner & Brunk 1972,
    *Statistical Inference under Order Restrictions*):

    1. **Order** (``term_order`` factor): while the model's rents are expected to fall (its
       regime's decline rate is positive), a longer commitment never costs more per hour, as
       the level rent of a longer stretch of a falling path is lower. Market quotes of
       different terms come from different sellers, and a cheap seller's two-year card under
       premium sellers' one- and three-year cards made the three-year rate the higher (an H100
       at 1.82 for two years and 2.45 for three in mid-2026): a lessee would sign for two years
       and re-let the third at the lower rent expected then. Rates that rise with the term are
       pooled to their mean. Where rents are expected to rise, the data's order stands.
    2. **No arbitrage** (``no_arbitrage`` factor): a longer commitment is never worth less in
       total than a shorter one, ``q_T·ann(r, T)`` non-decreasing in T; taken one by one the
       quotes priced a two-year lease below a one-year lease in total for a quarter of models
       and dates on the shipped data (a lessee would take the two-year lease and walk away
       after a year). Totals that fall are pooled to their mean and each rate is its pooled
       total over ``ann(r, T)``."""
    r = st.unit.rate
    terms = sorted(FIXED_TERM_YEARS.items(), key=lambda kv: kv[1])
    raw = [_raw_term_rate(cal, st, term) for term, _ in terms]
    ordered = [q.rate for q in raw]
    if st.path.segments[0].decline > 0.0:
        ordered = [-x for x in non_decreasing([-x for x in ordered])]
    totals = non_decreasing(
        [q * annuity(r, years) for q, (_, years) in zip(ordered, terms, strict=True)]
    )
    out = {}
    for (term, years), q, rate, total in zip(terms, raw, ordered, totals, strict=True):
        order = rate / q.rate if q.rate > 0 else 1.0
        fix = total / annuity(r, years) / rate if rate > 0 else 1.0
        out[term] = TermRate(
            q.rate * order * fix,
            q.factor,
            q.source,
            q.sellers,
            q.own_term,
            q.own_weight,
            fix,
            order,
        )
    return out


def non_decreasing(values: list[float]) -> list[float]:
    """The least-squares non-decreasing fit of ``values`` (equal weights): pool adjacent
    violators, each pooled block at its mean.

    >>> non_decreasing([1.0, 3.0, 2.0, 4.0])
    [1.0, 2.5, 2.5, 4.0]
    """
    blocks: list[tuple[float, int]] = []  # (sum, count)
    for value in values:
        blocks.append((value, 1))
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            top = blocks.pop()
            blocks[-1] = (blocks[-1][0] + top[0], blocks[-1][1] + top[1])
    return [total / count for total, count in blocks for _ in range(count)]


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
    rates = fixed_term_rates(cal, st)
    for term, years in terms:
        pv = rates[term].rate * annuity(r, years)
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


def own_term_factor(cal: Calibration, st: State, term: str, prior: float) -> tuple[float, float]:
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
