"""Sanity on the shipped data, determinism, point in time, FX and the assumptions registry."""

from __future__ import annotations

import dataclasses
import itertools
import math
from datetime import date, datetime

import pytest

from service.engine import (
    ASSUMPTIONS,
    Assumptions,
    EngineInputError,
    Observation,
    calibrate,
    convert,
    quote,
    residual,
)
from service.reference import FRONTIER, calibration, fx, models, observations, spec

JUNE_2024 = date(2024, 6, 1)
JAN_2026 = date(2026, 1, 1)
A100 = "nvidia-a100-sxm4-80gb"
H100 = "nvidia-h100-sxm5-80gb"
V100 = "nvidia-v100-sxm2-32gb"


def test_a100_on_demand_mid_2024_is_in_line_with_the_market_and_behind() -> None:
    q = quote(calibration(JUNE_2024), spec(A100), term="on_demand", as_of=JUNE_2024)
    assert 1.3 <= q.rate_per_gpu_hour <= 2.5
    assert q.regime == "behind" and q.frontier_precision == "fp8"
    assert q.low < q.rate_per_gpu_hour < q.high
    assert q.rate_per_gpu_month == pytest.approx(q.rate_per_gpu_hour * 730)


def test_fp8_what_if_quotes_higher() -> None:
    cal = calibration(JUNE_2024)
    base = quote(cal, spec(A100), term="on_demand", as_of=JUNE_2024)
    what_if = quote(cal, spec(A100), term="on_demand", as_of=JUNE_2024, fp8=True)
    assert what_if.rate_per_gpu_hour > base.rate_per_gpu_hour
    assert what_if.regime == "frontier" and what_if.inputs_digest != base.inputs_digest


def test_h100_one_year_is_below_on_demand_like_for_like_as_in_the_data() -> None:
    """Like for like (one seller), the one-year factor is below 1 exactly when the data's
    same-provider pairs are; the market-level quote may also carry who sells one-year terms."""
    cal = calibration(JAN_2026)
    one_year = quote(cal, spec(H100), term="1y", as_of=JAN_2026)
    # like for like: the same provider's 1y and on-demand H100 prices on the same date
    prices: dict[tuple[str, date, str], float] = {}
    for o in observations():
        if o.model_slug == H100 and o.observed_on <= JAN_2026 and o.term in ("1y", "on_demand"):
            prices[(o.provider, o.observed_on, o.term)] = o.price
    ratios = [
        p / prices[(prov, on, "on_demand")]
        for (prov, on, term), p in prices.items()
        if term == "1y" and (prov, on, "on_demand") in prices
    ]
    assert ratios, "the data has paired 1y and on-demand quotes"
    data_says_lower = sorted(ratios)[len(ratios) // 2] < 1.0
    assert (one_year.components["term_factor"] < 1.0) == data_says_lower


def test_before_sellers_pair_terms_the_factors_are_the_panels_and_never_rise_with_length() -> None:
    """At the start of 2024 no seller yet listed a fixed term beside its own on-demand rate
    often enough to pair them: the factors come from the lease panel (terms against other
    sellers' on-demand prices of the same model and month), not from the theoretical curve,
    and a longer commitment never costs more per hour than a shorter one."""
    on = date(2024, 1, 1)
    cal = calibration(on)
    a100 = "nvidia-a100-sxm4-80gb"
    factors = []
    for term in ("6m", "1y", "2y", "3y"):
        q = quote(cal, spec(a100), term=term, as_of=on)
        assert q.components["term_source"] == "term_panel"
        factors.append(q.components["term_factor"])
    assert all(0.0 < f <= 1.0 for f in factors)
    assert factors == sorted(factors, reverse=True)
    # the two-year factor is the panel's pooled effect behind the frontier, as fitted
    assert factors[2] == pytest.approx(math.exp(min(cal.panel.terms[("2y", True)], 0.0)))
    assert factors[2] > 0.75  # the curve alone said 0.37 here; two-year cards stood near 0.75


def test_v100_residual_in_2026_is_a_small_fraction_of_launch_and_curve_never_rises() -> None:
    cal = calibration(JAN_2026)
    r = residual(cal, spec(V100), as_of=JAN_2026, include_curve=True)
    assert r.reference_price_basis == "launch_price" and r.reference_price == 11_458
    assert 0 < r.residual_fraction < 0.3  # eight years on, a fraction of its launch price
    months = round(Assumptions().physical_life_months)  # monthly from new to physical life
    assert r.curve is not None and [p.age_months for p in r.curve] == list(range(months + 1))
    at_24 = residual(cal, spec(V100), as_of=JAN_2026, age_months=24)
    assert r.curve[24].value_per_gpu == pytest.approx(at_24.value_per_gpu, rel=1e-12)
    values = [p.value_per_gpu for p in r.curve]
    assert all(b < a for a, b in itertools.pairwise(values))


def test_unknown_launch_price_is_estimated_and_said_so() -> None:
    r = residual(calibration(JAN_2026), spec(A100), as_of=JAN_2026)
    assert r.reference_price_basis in ("new_sales", "generation_multiple", "segment_multiple")
    assert r.reference_price > 0
    assert r.components["new_equivalent_basis"] == r.reference_price_basis


def test_premises_order_values() -> None:
    cal = calibration(JAN_2026)
    values = [
        residual(cal, spec(H100), as_of=JAN_2026, premise=p).value_per_gpu
        for p in ("market", "orderly", "forced")
    ]
    assert values[0] > values[1] > values[2] > 0


def test_same_request_same_numbers_and_digest() -> None:
    again = calibrate(models(), observations(), fx(), FRONTIER, as_of=JUNE_2024)
    first = quote(calibration(JUNE_2024), spec(A100), term="3y", as_of=JUNE_2024)
    second = quote(again, spec(A100), term="3y", as_of=JUNE_2024)
    assert dataclasses.asdict(first) == dataclasses.asdict(second)
    assert len(first.inputs_digest) == 64


def test_observations_recorded_after_known_at_change_nothing() -> None:
    known_at = datetime(2024, 7, 1)
    late = Observation(
        observed_on=date(2024, 5, 1),
        model_slug=A100,
        kind="lease",
        price=9.99,
        currency="USD",
        term="on_demand",
        provider="Late",
        recorded_at=datetime(2024, 8, 1),
    )
    before = calibrate(models(), observations(), fx(), FRONTIER, as_of=JUNE_2024, known_at=known_at)
    after = calibrate(
        models(), (*observations(), late), fx(), FRONTIER, as_of=JUNE_2024, known_at=known_at
    )
    q1 = quote(before, spec(A100), term="on_demand", as_of=JUNE_2024)
    q2 = quote(after, spec(A100), term="on_demand", as_of=JUNE_2024)
    assert q1 == q2
    assert before.fingerprint == after.fingerprint


def test_quote_before_calibration_date_is_refused() -> None:
    with pytest.raises(ValueError, match="precedes"):
        quote(calibration(JUNE_2024), spec(A100), term="on_demand", as_of=date(2024, 1, 1))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"term": "5y"}, "term"),
        ({"gpus": 0}, "gpus"),
        ({"segment": "boutique"}, "segment"),
        ({"provider": "nobody"}, "provider"),
        ({"segment": "neocloud", "provider": "lambda"}, "provider"),
        ({"age_months": -1.0}, "age_months"),
    ],
)
def test_invalid_quote_inputs_name_their_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"term": "on_demand", "as_of": JUNE_2024} | kwargs
    with pytest.raises(EngineInputError) as caught:
        quote(calibration(JUNE_2024), spec(A100), **args)  # type: ignore[arg-type]
    assert caught.value.field == field and caught.value.reason


def test_invalid_premise_and_age_are_refused() -> None:
    cal = calibration(JUNE_2024)
    with pytest.raises(EngineInputError, match="premise"):
        residual(cal, spec(A100), as_of=JUNE_2024, premise="fire")  # type: ignore[arg-type]
    with pytest.raises(EngineInputError, match="age_months"):
        residual(cal, spec(A100), as_of=JUNE_2024, age_months=-1)


def test_fx_after_the_table_uses_the_latest_month_and_flags_it() -> None:
    later = convert(100.0, "CNY", "2026-06", fx())
    assert later.extrapolated and later.month_used == "2026-01"
    same = convert(100.0, "EUR", date(2024, 3, 9), fx())
    assert not same.extrapolated and same.amount == pytest.approx(100.0 / same.usd_per_unit)
    assert convert(5.0, "usd", "2030-01", fx()).amount == 5.0


def test_assumption_registry_is_complete_and_validated() -> None:
    names = [s.name for s in ASSUMPTIONS]
    assert names == list(Assumptions().as_dict())
    for s in ASSUMPTIONS:
        assert s.minimum <= s.default <= s.maximum and s.unit and s.reason
    assert Assumptions.from_mapping({"utilisation": 0.6}).utilisation == 0.6
    with pytest.raises(ValueError, match="outside"):
        Assumptions.from_mapping({"pue": 0.5})
    with pytest.raises(ValueError, match="unknown"):
        Assumptions.from_mapping({"vibes": 1.0})


def test_calibration_sees_only_the_past_and_only_released_models() -> None:
    cal = calibration(JUNE_2024)
    assert cal.last_observed <= JUNE_2024
    assert all(math.isfinite(v.log_level) for v in cal.levels.values())
    assert set(cal.levels) == {m.slug for m in models() if m.release_date <= JUNE_2024}
    assert "nvidia-b200-sxm-180gb" not in cal.levels  # released 2024-11: not yet a market
