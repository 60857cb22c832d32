"""Term rates: spot and fixed-term quotes at a state's level, and the contract-rent path
bootstrapped from them (the forward curve a unit on contract earns)."""

from __future__ import annotations

import math

from service.engine.calibration import Calibration
from service.engine.income import annuity
from service.engine.path import RentPath, Segment, rent_at
from service.engine.state import State
from service.engine.types import FIXED_TERM_YEARS

__all__ = ["PRIOR_LOG_SPOT", "contract_path", "term_factor", "term_rate"]

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
    factor, source = term_factor(cal, st, term)
    sellers = math.exp(cal.panel.term_sellers.get(term, 0.0)) if st.level.kind == "market" else 1.0
    own_term, own_weight = own_term_factor(cal, st, term, math.log(st.rent * factor * sellers))
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
