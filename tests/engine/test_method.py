"""What the valuation method promises, checked on the shipped data: age, precision, levels,
consistency between quotes and residuals, dates, and answers that explain themselves."""

from __future__ import annotations

import itertools
import math
import statistics
from datetime import date, timedelta
from typing import cast

import pytest

from service.engine import (
    MAX_PROJECTION_MONTHS,
    BeyondHorizon,
    CalibrationUnavailable,
    NotReleased,
    calibrate,
    fair_lease_rate,
    projection_months,
    quote,
    residual,
)
from service.engine.calibration import month_index
from service.engine.income import annuity
from service.engine.path import RentPath, Segment, UnitEconomics, end_of_life, value_at
from service.engine.types import FIXED_TERM_YEARS, Term
from service.reference import FRONTIER, calibration, fx, models, observations, spec

DATES = (date(2023, 9, 1), date(2024, 6, 1), date(2025, 6, 1), date(2026, 6, 25))
TRADED = (
    "nvidia-a100-sxm4-80gb",
    "nvidia-a100-pcie-80gb",
    "nvidia-h100-sxm5-80gb",
    "nvidia-h100-pcie-80gb",
    "nvidia-h100-nvl-94gb",
    "nvidia-b200-sxm-180gb",
)


def _released(on: date) -> list[str]:
    return [m.slug for m in models() if m.release_date <= on]


@pytest.mark.parametrize("on", DATES, ids=str)
def test_value_falls_materially_with_age_for_every_model(on: date) -> None:
    """0 > 24 > 48 > 72 months, and at 48 months at most 85% of new."""
    cal = calibration(on)
    for slug in _released(on):
        values = [
            residual(cal, spec(slug), as_of=on, age_months=age).value_per_gpu
            for age in (0, 24, 48, 72)
        ]
        assert values[0] > values[1] > values[2] > values[3] > 0, slug
        assert values[2] <= 0.85 * values[0], (slug, values[2] / values[0])


def test_the_curve_is_value_by_age_on_the_same_date() -> None:
    on = DATES[-1]
    cal = calibration(on)
    r = residual(cal, spec("nvidia-h100-sxm5-80gb"), as_of=on, include_curve=True)
    assert r.curve is not None
    for age in (0, 13, 40, 72):
        alone = residual(cal, spec("nvidia-h100-sxm5-80gb"), as_of=on, age_months=age)
        assert r.curve[age].value_per_gpu == pytest.approx(alone.value_per_gpu, rel=1e-12)


@pytest.mark.parametrize("on", DATES[1:], ids=str)
def test_the_fp8_what_if_raises_a_non_fp8_datacenter_part_materially(on: date) -> None:
    cal = calibration(on)
    parts = [
        m for m in models() if m.release_date <= on and not m.fp8 and m.segment == "datacenter"
    ]
    assert parts
    for m in parts:
        base = quote(cal, m, term="on_demand", as_of=on).rate_per_gpu_hour
        what_if = quote(cal, m, term="on_demand", as_of=on, fp8=True).rate_per_gpu_hour
        assert what_if >= 1.10 * base, (m.slug, what_if / base)


def test_transition_effects_are_fitted_and_reported() -> None:
    on = DATES[-1]
    q = quote(calibration(on), spec("nvidia-a100-sxm4-80gb"), term="on_demand", as_of=on)
    effects = q.components["frontier_effects"]
    assert set(effects) == {"fp8", "fp4"}
    for effect in effects.values():
        assert math.isfinite(effect["estimate"]) and effect["se"] > 0
        assert effect["used"] == min(effect["estimate"], 0.0)
        assert effect["constrained_at_zero"] == (effect["estimate"] > 0)


@pytest.mark.parametrize("slug", TRADED)
def test_on_demand_quote_tracks_the_last_quarter_market_within_its_band(slug: str) -> None:
    on = DATES[-1]
    prices = [
        o.price
        for o in observations()
        if o.model_slug == slug
        and o.term == "on_demand"
        and o.currency == "USD"
        and 0 <= (on - o.observed_on).days <= 91
    ]
    assert prices
    q = quote(calibration(on), spec(slug), term="on_demand", as_of=on)
    assert q.low <= statistics.median(prices) <= q.high


def test_unpriced_datacenter_parts_are_priced_from_their_generation_or_own_sales() -> None:
    on = DATES[-1]
    cal = calibration(on)
    for m in models():
        if m.release_date > on or m.segment != "datacenter" or m.launch_price_usd is not None:
            continue
        r = residual(cal, m, as_of=on)
        assert r.reference_price_basis in ("new_sales", "generation_multiple", "segment_multiple")
    h200 = residual(cal, spec("nvidia-h200-sxm-141gb"), as_of=on)
    assert h200.reference_price_basis == "generation_multiple"
    assert h200.reference_price > 25_000  # Hopper peers, not a catalogue-wide multiple


def test_fixed_term_factors_follow_observed_contracts_per_regime() -> None:
    """Like for like, a model without pairs of its own gets each regime's observed same-seller
    ratio (within 10% of the plain median of the pairs), never rising with the term."""
    for on in DATES[2:]:
        cal = calibration(on)
        mi300x = spec("amd-mi300x-192gb")  # no lease prices at all
        behind = quote(cal, mi300x, term="on_demand", as_of=on).regime == "behind"
        pairs = [p for p in cal.pairs if p.behind == behind and p.term in FIXED_TERM_YEARS]
        factors = {
            t: quote(cal, mi300x, term=t, as_of=on).components["term_factor"]  # type: ignore[arg-type]
            for t in sorted(FIXED_TERM_YEARS, key=FIXED_TERM_YEARS.__getitem__)
        }
        values = list(factors.values())
        assert all(b <= a for a, b in itertools.pairwise(values)) and values[0] <= 1
        for term in {p.term for p in pairs}:
            mine = [p.log_ratio for p in pairs if p.term == term]
            if len(mine) >= 3:
                observed = math.exp(statistics.median(mine))
                assert abs(math.log(factors[term] / observed)) < 0.10, (on, term)


def test_the_identity_on_the_reported_value_path_reproduces_fixed_term_quotes() -> None:
    """``(V(0) - V(T)·e^(-rT)) / (H·ann(r, T)) + C`` on the reported residual path, for every
    released model whose rents earn its price (the income approach has weight; for the others,
    consumer cards rented from spare hosts, rents and sale prices are different markets and the
    answer shows it with an income weight of 0), date, fixed term and two ages: inside the
    quote's 80% band for at least 95% of them, and never more than 50% off where the unit's
    rent covers its cost from the start. A unit whose rent starts below its cost but is kept
    because later rents pay for it (the retirement that maximises its value) has a value
    path that rises first: there a short lease's implied rate is the path's scaled net loss,
    outside the band (five part-ages at 2023-09-01, when two-year cards were still few)."""
    inside, total, worst = 0, 0, 0.0
    for on in DATES:
        cal = calibration(on)
        for slug in _released(on):
            for age in (0, 24):
                r = residual(cal, spec(slug), as_of=on, age_months=age, include_path=True)
                assert r.path is not None
                if r.components["weights"]["income"] == 0:
                    continue
                for term, years in FIXED_TERM_YEARS.items():
                    months = round(years * 12)
                    if months >= len(r.path):
                        continue
                    q = quote(cal, spec(slug), term=cast(Term, term), as_of=on, age_months=age)
                    implied = fair_lease_rate(
                        r.path[0].value_per_gpu,
                        r.path[months].value_per_gpu,
                        rate=0.12,
                        years=years,
                        cost=q.components["opex_per_gpu_hour"],
                    )
                    total += 1
                    inside += q.low <= implied <= q.high
                    if r.path[1].value_per_gpu <= r.path[0].value_per_gpu:
                        worst = max(worst, abs(math.log(implied / q.rate_per_gpu_hour)))
    assert total > 500
    assert inside / total >= 0.95, inside / total
    assert worst < math.log(1.5), worst


def test_a_longer_lease_is_never_worth_less_in_total_than_a_shorter_one() -> None:
    """No arbitrage across fixed terms: ``q_T·ann(r, T)`` never falls as T grows, for every
    released model and date; and the rule is not idle (some raw quotes needed it)."""
    moved = 0
    for on in DATES:
        cal = calibration(on)
        for slug in _released(on):
            totals = []
            for term, years in sorted(FIXED_TERM_YEARS.items(), key=lambda kv: kv[1]):
                q = quote(cal, spec(slug), term=cast(Term, term), as_of=on)
                totals.append(q.rate_per_gpu_hour * annuity(0.12, years))
                moved += q.components["no_arbitrage_factor"] != 1.0
            assert all(b >= a * (1 - 1e-12) for a, b in itertools.pairwise(totals)), slug
    assert moved > 0


def test_while_rents_are_expected_to_fall_a_longer_commitment_never_costs_more_per_hour() -> None:
    """For every released model and date whose regime's rents decline, fixed-term rates never
    rise with the term; and the rule is not idle (some raw quotes needed it)."""
    moved = 0
    for on in DATES:
        cal = calibration(on)
        for slug in _released(on):
            quotes = [
                quote(cal, spec(slug), term=cast(Term, term), as_of=on)
                for term, _ in sorted(FIXED_TERM_YEARS.items(), key=lambda kv: kv[1])
            ]
            c = quotes[0].components
            if c[f"decline_{quotes[0].regime}_per_year"] <= 0:
                continue
            rates = [q.rate_per_gpu_hour for q in quotes]
            assert all(b <= a * (1 + 1e-12) for a, b in itertools.pairwise(rates)), slug
            moved += sum(q.components["term_order_factor"] != 1.0 for q in quotes)
    assert moved > 0


def test_the_owner_keeps_a_unit_through_a_dip_its_later_rents_pay_for() -> None:
    """Rent 3/h, then a year at 0.5/h (below the cost of 1/h), then 3/h again: retiring at the
    dip (the first date rent falls below cost) is worth less than keeping the unit to the end
    of its life, so it is kept; a dip with nothing after it ends the unit's life there."""
    unit = UnitEconomics(utilisation=1.0, cost=1.0, rate=0.12, scrap=0.0, life_left=5.0)
    dip = RentPath((Segment(0.0, 3.0, 0.0), Segment(1.0, 0.5, 0.0), Segment(2.0, 3.0, 0.0)))
    assert end_of_life(dip, unit) == 5.0
    assert value_at(dip, unit, 0.0, 5.0) > value_at(dip, unit, 0.0, 1.0)
    cliff = RentPath((Segment(0.0, 3.0, 0.0), Segment(1.0, 0.5, 0.0)))
    assert end_of_life(cliff, unit) == 1.0


def test_too_early_a_date_cannot_be_calibrated() -> None:
    with pytest.raises(CalibrationUnavailable) as caught:
        calibrate(models(), observations(), fx(), FRONTIER, as_of=date(2018, 12, 31))
    assert caught.value.field == "as_of" and caught.value.needed > caught.value.seen


def test_a_model_before_its_release_has_no_price() -> None:
    cal = calibration(date(2024, 6, 1))
    with pytest.raises(NotReleased) as caught:
        quote(cal, spec("nvidia-b200-sxm-180gb"), term="on_demand", as_of=date(2024, 6, 1))
    assert caught.value.release_date == date(2024, 11, 1) and "2024-11-01" in caught.value.reason


def test_a_date_after_the_evidence_is_a_projection_with_a_wider_band() -> None:
    evidence = DATES[-1]
    cal = calibration(evidence)
    a100 = spec("nvidia-a100-sxm4-80gb")
    now = quote(cal, a100, term="on_demand", as_of=evidence)
    later = quote(cal, a100, term="on_demand", as_of=date(2027, 6, 25))
    assert now.projection is None
    assert later.projection is not None and later.projection.evidence_on == evidence
    assert later.projection.horizon_months == pytest.approx(12.0, abs=0.05)
    assert later.high / later.low > now.high / now.low
    with pytest.raises(BeyondHorizon):
        quote(cal, a100, term="on_demand", as_of=date(9999, 12, 31))


def test_the_projection_horizon_names_the_last_date_a_projection_reaches() -> None:
    for evidence, last in (
        (date(2026, 6, 25), date(2031, 6, 25)),
        (date(2026, 1, 31), date(2031, 1, 31)),
        (date(2026, 3, 31), date(2031, 3, 31)),
        (date(2025, 8, 31), date(2030, 8, 31)),
        (date(2026, 12, 31), date(2031, 12, 31)),
        (date(2024, 2, 29), date(2029, 2, 28)),
    ):
        assert projection_months(evidence, evidence) == 0.0
        assert projection_months(evidence, last) <= MAX_PROJECTION_MONTHS
        for late in (last + timedelta(days=1), date(2100, 12, 31), date(9999, 12, 31)):
            with pytest.raises(BeyondHorizon) as refused:
                projection_months(evidence, late)
            assert refused.value.last == last
            assert f"projections reach {last.isoformat()}" in refused.value.reason


@pytest.mark.parametrize("slug", TRADED[:4])
def test_month_to_month_quotes_move_no_more_than_their_own_market(slug: str) -> None:
    """Scanning 2024-2026 month by month (the service's calibration each month-end), the total
    absolute monthly change of the on-demand quote is no larger than that of the model's own
    cross-seller monthly median."""
    months = [date(y, m, 28) for y in (2024, 2025, 2026) for m in range(1, 13)][:30]
    quotes, medians = [], []
    for on in months:
        seen = [o for o in observations() if o.observed_on <= on]
        cal = calibrate(models(), seen, fx(), FRONTIER, as_of=max(o.observed_on for o in seen))
        quotes.append(quote(cal, spec(slug), term="on_demand", as_of=on).rate_per_gpu_hour)
        month = [
            o.price
            for o in seen
            if o.model_slug == slug
            and o.term == "on_demand"
            and month_index(o.observed_on) == month_index(on)
        ]
        medians.append(statistics.median(month) if month else math.nan)
    moves = sum(abs(math.log(b / a)) for a, b in itertools.pairwise(quotes))
    pairs = [
        (a, b) for a, b in itertools.pairwise(medians) if math.isfinite(a) and math.isfinite(b)
    ]
    market = sum(abs(math.log(b / a)) for a, b in pairs)
    assert moves <= market, (moves, market)


def test_a_quote_and_a_residual_are_rebuilt_from_their_components() -> None:
    on = DATES[-1]
    cal = calibration(on)
    q = quote(
        cal, spec("nvidia-h100-sxm5-80gb"), term="6m", as_of=date(2026, 9, 1), segment="neocloud"
    )
    c = q.components
    rebuilt = (
        c["market_level"]
        * c["level_factor"]
        * c["what_if_factor"]
        * c["projection_factor"]
        * c["term_factor"]
        * c["term_sellers_factor"]
        * c["own_term_factor"]
        * c["term_order_factor"]
        * c["no_arbitrage_factor"]
    )
    assert rebuilt == pytest.approx(q.rate_per_gpu_hour, rel=1e-12)
    # a market quote that the order rules moved, rebuilt the same way
    early = date(2023, 9, 1)
    q = quote(calibration(early), spec("nvidia-a800-sxm4-80gb"), term="1y", as_of=early)
    c = q.components
    assert (c["term_order_factor"], c["no_arbitrage_factor"]) != (1.0, 1.0)
    rebuilt = math.prod(
        c[k]
        for k in (
            "market_level",
            "level_factor",
            "what_if_factor",
            "projection_factor",
            "term_factor",
            "term_sellers_factor",
            "own_term_factor",
            "term_order_factor",
            "no_arbitrage_factor",
        )
    )
    assert rebuilt == pytest.approx(q.rate_per_gpu_hour, rel=1e-12)
    r = residual(cal, spec("nvidia-a100-sxm4-80gb"), as_of=on, age_months=30, premise="orderly")
    w = r.components["weights"]
    a = r.approaches
    value = w["income"] * a.income + w["market"] * (a.market or 0.0) + w["cost"] * a.cost
    assert value * r.components["premise_factor"] == pytest.approx(r.value_per_gpu, rel=1e-12)
    assert w["income"] + w["market"] + w["cost"] == pytest.approx(1.0)
