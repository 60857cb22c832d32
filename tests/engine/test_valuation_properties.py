"""Invariants of DESIGN.md section 4, as hypothesis properties over specs, ages and assumptions."""

from __future__ import annotations

import dataclasses
import itertools
import math
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine import Assumptions, ModelSpec, fair_lease_rate, quote, residual
from service.engine.types import FIXED_TERM_YEARS
from tests.engine.valuation_data import calibration, models

AS_OF = date(2025, 6, 1)
FAST = settings(max_examples=25, deadline=None)


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
        segment="datacenter",
        form_factor=draw(st.sampled_from(["SXM5", "PCIe", "OAM"])),
        release_date=draw(st.dates(date(2018, 1, 1), AS_OF)),
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


assumptions = st.builds(
    Assumptions,
    utilisation=st.floats(0.3, 1.0),
    power_price_usd_per_kwh=st.floats(0.02, 0.3),
    discount_rate=st.floats(0.03, 0.3),
)
ages = st.floats(0, 120)


@FAST
@given(specs(), ages, assumptions, st.sampled_from(["on_demand", "spot", "1m", "1y", "3y"]))
def test_rates_and_values_are_positive_and_finite(
    spec: ModelSpec, age: float, a: Assumptions, term: str
) -> None:
    cal = calibration(AS_OF)
    q = quote(cal, spec, term=term, as_of=AS_OF, age_months=age, assumptions=a)  # type: ignore[arg-type]
    r = residual(cal, spec, as_of=AS_OF, age_months=age, assumptions=a)
    for x in (q.rate_per_gpu_hour, q.low, q.high, r.value_per_gpu, r.low, r.high):
        assert math.isfinite(x) and x > 0
    assert q.low <= q.rate_per_gpu_hour <= q.high and r.low <= r.value_per_gpu <= r.high


@FAST
@given(specs(), ages, assumptions)
def test_fp8_is_never_worth_less(spec: ModelSpec, age: float, a: Assumptions) -> None:
    cal = calibration(AS_OF)
    without = residual(cal, spec, as_of=AS_OF, age_months=age, assumptions=a, fp8=False)
    with_fp8 = residual(cal, spec, as_of=AS_OF, age_months=age, assumptions=a, fp8=True)
    assert with_fp8.value_per_gpu >= without.value_per_gpu * (1 - 1e-9)
    q0 = quote(cal, spec, term="on_demand", as_of=AS_OF, assumptions=a, fp8=False)
    q1 = quote(cal, spec, term="on_demand", as_of=AS_OF, assumptions=a, fp8=True)
    assert q1.rate_per_gpu_hour >= q0.rate_per_gpu_hour * (1 - 1e-9)


@FAST
@given(specs(), ages, assumptions)
def test_value_never_rises_with_age_along_the_curve(
    spec: ModelSpec, age: float, a: Assumptions
) -> None:
    r = residual(
        calibration(AS_OF), spec, as_of=AS_OF, age_months=age, assumptions=a, include_curve=True
    )
    assert r.curve is not None
    values = [p.value_per_gpu for p in r.curve]
    assert all(b <= a_ * (1 + 1e-12) + 1e-9 for a_, b in itertools.pairwise(values))


@FAST
@given(specs(), ages, assumptions, st.sampled_from(["market", "orderly", "forced"]))
def test_residual_never_exceeds_the_cost_approach(
    spec: ModelSpec, age: float, a: Assumptions, premise: str
) -> None:
    r = residual(
        calibration(AS_OF), spec, as_of=AS_OF, age_months=age, assumptions=a, premise=premise
    )  # type: ignore[arg-type]
    assert r.value_per_gpu <= r.approaches.cost * (1 + 1e-12)


@FAST
@given(specs(), st.integers(0, 100), assumptions, st.sampled_from(sorted(FIXED_TERM_YEARS)))
def test_quote_residual_identity(spec: ModelSpec, age: int, a: Assumptions, term: str) -> None:
    """rate = (V(a) - V(a+T)·e^(-rT)) / (H·(1 - e^(-rT))/r) + C, V from the residual curve."""
    cal = calibration(AS_OF)
    years = FIXED_TERM_YEARS[term]
    r = residual(cal, spec, as_of=AS_OF, age_months=age, assumptions=a, include_curve=True)
    q = quote(cal, spec, term=term, as_of=AS_OF, age_months=age, assumptions=a)  # type: ignore[arg-type]
    assert r.curve is not None
    months = round(years * 12)
    v_start = r.approaches.income
    v_end = r.curve[months].income_value if months < len(r.curve) else r.curve[-1].income_value
    expected = fair_lease_rate(
        v_start, v_end, rate=a.discount_rate, years=years, cost=q.components["opex_per_gpu_hour"]
    )
    assert abs(q.rate_per_gpu_hour - expected) <= 1e-6


@FAST
@given(specs(), ages, assumptions)
def test_same_inputs_same_numbers_and_digest(spec: ModelSpec, age: float, a: Assumptions) -> None:
    cal = calibration(AS_OF)
    first = residual(cal, spec, as_of=AS_OF, age_months=age, assumptions=a, include_curve=True)
    second = residual(cal, spec, as_of=AS_OF, age_months=age, assumptions=a, include_curve=True)
    assert dataclasses.asdict(first) == dataclasses.asdict(second)
    assert dataclasses.replace(a, utilisation=a.utilisation / 2) != a
