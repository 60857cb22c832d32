"""Invariants of the valuation method as hypothesis properties over models, dates, ages and
assumptions: positive and finite answers, precision support never hurts, value falls with age,
the lease identity on the reported value path, determinism."""

from __future__ import annotations

import dataclasses
import itertools
import math
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine import ASSUMPTIONS, Assumptions, ModelSpec, fair_lease_rate, quote, residual
from service.engine.types import FIXED_TERM_YEARS
from service.reference import calibration, models

DATES = (date(2023, 9, 1), date(2024, 6, 1), date(2025, 6, 1), date(2026, 6, 25))
FAST = settings(max_examples=40, deadline=None)
LATEST = DATES[-1]


@st.composite
def specs(draw: st.DrawFn) -> ModelSpec:
    """Registry models, and invented ones described only by their specs."""
    if draw(st.booleans()):
        return draw(st.sampled_from(models()))
    bf16 = draw(st.floats(50, 3000))
    fp8 = draw(st.booleans())
    return ModelSpec(
        slug="inline-test-gpu",
        vendor="X",
        architecture="Y",
        segment=draw(st.sampled_from(["datacenter", "consumer"])),
        form_factor=draw(st.sampled_from(["SXM5", "PCIe", "OAM"])),
        release_date=draw(st.dates(date(2018, 1, 1), date(2023, 9, 1))),
        launch_price_usd=draw(st.none() | st.floats(1000, 60000)),
        memory_gb=draw(st.floats(8, 300)),
        memory_bw_tbps=draw(st.floats(0.3, 9)),
        tdp_w=draw(st.floats(70, 1500)),
        bf16_tflops=bf16,
        fp8_tflops=2 * bf16 if fp8 else 0.0,
        fp4_tflops=0.0,
        fp8=fp8,
        fp4=False,
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[ModelSpec, date]:
    """A model and a date on or after its release."""
    spec = draw(specs())
    on = draw(st.sampled_from([d for d in DATES if d >= spec.release_date] or [LATEST]))
    return spec, on


assumptions = st.builds(
    Assumptions,
    utilisation=st.floats(0.3, 1.0),
    power_price_usd_per_kwh=st.floats(0.02, 0.3),
    discount_rate=st.floats(0.03, 0.3),
    decline_prior_behind=st.floats(0.1, 0.6),
)
ages = st.floats(0, 120)
#: Every assumption anywhere within its bounds, its bounds included (what the API accepts).
bounded = st.fixed_dictionaries(
    {
        a.name: st.sampled_from([a.minimum, a.maximum]) | st.floats(a.minimum, a.maximum)
        for a in ASSUMPTIONS
    }
).map(lambda values: Assumptions(**values))
terms = st.sampled_from(["on_demand", "spot", "1m", "6m", "1y", "3y"])


@FAST
@given(cases(), ages, assumptions, terms)
def test_rates_and_values_are_positive_and_finite(
    case: tuple[ModelSpec, date], age: float, a: Assumptions, term: str
) -> None:
    spec, on = case
    cal = calibration(on)
    q = quote(cal, spec, term=term, as_of=on, age_months=age, assumptions=a)  # type: ignore[arg-type]
    r = residual(cal, spec, as_of=on, age_months=age, assumptions=a)
    for x in (q.rate_per_gpu_hour, q.low, q.high, r.value_per_gpu, r.low, r.high):
        assert math.isfinite(x) and x > 0
    assert q.low <= q.rate_per_gpu_hour <= q.high and r.low <= r.value_per_gpu <= r.high


@FAST
@given(cases(), ages, assumptions, terms)
def test_fp8_never_lowers_a_rate_or_value_and_its_absence_never_raises_one(
    case: tuple[ModelSpec, date], age: float, a: Assumptions, term: str
) -> None:
    spec, on = case
    cal = calibration(on)
    as_is = residual(cal, spec, as_of=on, age_months=age, assumptions=a).value_per_gpu
    with_fp8 = residual(cal, spec, as_of=on, age_months=age, assumptions=a, fp8=True).value_per_gpu
    without = residual(cal, spec, as_of=on, age_months=age, assumptions=a, fp8=False).value_per_gpu
    assert with_fp8 >= as_is * (1 - 1e-9) and without <= as_is * (1 + 1e-9)
    rates = [
        quote(cal, spec, term=term, as_of=on, assumptions=a, fp8=f).rate_per_gpu_hour  # type: ignore[arg-type]
        for f in (None, True, False)
    ]
    assert rates[1] >= rates[0] * (1 - 1e-9) and rates[2] <= rates[0] * (1 + 1e-9)


@FAST
@given(cases(), assumptions)
def test_value_strictly_falls_with_age_along_the_curve(
    case: tuple[ModelSpec, date], a: Assumptions
) -> None:
    spec, on = case
    r = residual(calibration(on), spec, as_of=on, assumptions=a, include_curve=True)
    assert r.curve is not None
    values = [p.value_per_gpu for p in r.curve]
    assert all(b < a_ for a_, b in itertools.pairwise(values))


@FAST
@given(cases(), st.integers(0, 48), assumptions, st.sampled_from(sorted(FIXED_TERM_YEARS)))
def test_lease_identity_on_the_income_path_reproduces_the_contract_curve(
    case: tuple[ModelSpec, date], age: int, a: Assumptions, term: str
) -> None:
    """On the income approach's own path (survival aside, so with no failures), the identity
    ``(V(0) - V(T)·e^(-rT)) / (H·ann(r, T)) + C`` returns the quoted fixed-term rate (at full
    utilisation): the contract path is bootstrapped from the quotes."""
    spec, on = case
    a = dataclasses.replace(a, utilisation=1.0, failure_hazard_per_year=0.0)
    cal = calibration(on)
    q = quote(cal, spec, term=term, as_of=on, age_months=age, assumptions=a)  # type: ignore[arg-type]
    r = residual(cal, spec, as_of=on, age_months=age, assumptions=a, include_path=True)
    assert r.path is not None
    months = round(FIXED_TERM_YEARS[term] * 12)
    if months >= len(r.path) - 1:
        return  # the unit retires within the term: the identity has no end value to use
    scale = r.approaches.income / r.value_per_gpu
    v0, vt = (r.path[0].value_per_gpu * scale, r.path[months].value_per_gpu * scale)
    cost = q.components["opex_per_gpu_hour"]
    implied = fair_lease_rate(v0, vt, rate=a.discount_rate, years=FIXED_TERM_YEARS[term], cost=cost)
    assert math.isclose(implied, q.rate_per_gpu_hour, rel_tol=1e-6)


@FAST
@given(cases(), ages, assumptions)
def test_same_inputs_same_numbers_and_digest(
    case: tuple[ModelSpec, date], age: float, a: Assumptions
) -> None:
    spec, on = case
    cal = calibration(on)
    first = residual(cal, spec, as_of=on, age_months=age, assumptions=a, include_curve=True)
    second = residual(cal, spec, as_of=on, age_months=age, assumptions=a, include_curve=True)
    assert dataclasses.asdict(first) == dataclasses.asdict(second)


@settings(max_examples=60, deadline=None)
@given(cases(), st.floats(0, 600), bounded, terms, st.sampled_from(["market", "forced"]))
def test_any_assumptions_the_bounds_allow_give_finite_answers(
    case: tuple[ModelSpec, date], age: float, a: Assumptions, term: str, premise: str
) -> None:
    """No override within the bounds breaks the arithmetic (a 0/0 under the steepest hazard
    once did), at any age the API accepts, with the curve and the path."""
    spec, on = case
    cal = calibration(on)
    r = residual(
        cal,
        spec,
        as_of=on,
        age_months=age,
        assumptions=a,
        premise=premise,  # type: ignore[arg-type]
        include_curve=True,
        include_path=True,
    )
    q = quote(cal, spec, term=term, as_of=on, age_months=age, assumptions=a)  # type: ignore[arg-type]
    for x in (r.value_per_gpu, r.low, r.high, q.rate_per_gpu_hour, q.low, q.high):
        assert math.isfinite(x) and x >= 0.0
