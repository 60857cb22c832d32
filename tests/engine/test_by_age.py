"""One model state, many ages: the fleet's engine call equals ``residual`` at every age (to
1e-9 relative: its income approach runs in NumPy, whose exp and log may differ from the math
module's in the last bit)."""

from __future__ import annotations

import math
import random
from datetime import date

import pytest

from service.engine import Assumptions, EngineInputError, residual
from service.engine.by_age import residuals_by_age
from service.engine.types import Premise
from service.reference import calibration

AS_OF = date(2026, 6, 30)


@pytest.mark.parametrize("premise", ["market", "orderly", "forced"])
def test_every_model_at_random_ages_equals_residual(premise: Premise) -> None:
    cal = calibration(AS_OF)
    rng = random.Random(premise)
    assumptions = Assumptions(discount_rate=0.11) if premise == "orderly" else None
    compared = 0
    for spec in cal.models.values():
        if spec.release_date > AS_OF:
            continue
        ages = [0.0, 600.0, *(rng.randint(0, 4000) / 30.4375 for _ in range(12))]
        got = residuals_by_age(
            cal, spec, as_of=AS_OF, ages=ages, premise=premise, assumptions=assumptions
        )
        for age, value, life in zip(
            ages, got.value_per_gpu, got.remaining_life_months, strict=True
        ):
            one = residual(
                cal, spec, as_of=AS_OF, age_months=age, premise=premise, assumptions=assumptions
            )
            assert math.isclose(value, one.value_per_gpu, rel_tol=1e-9, abs_tol=1e-9)
            assert math.isclose(life, one.remaining_life_months, rel_tol=1e-9, abs_tol=1e-9)
            assert (got.regime, got.frontier_precision) == (one.regime, one.frontier_precision)
            compared += 1
    assert compared > 100


def test_bad_ages_and_premises_name_their_field() -> None:
    cal = calibration(AS_OF)
    spec = next(iter(cal.models.values()))
    with pytest.raises(EngineInputError) as age:
        residuals_by_age(cal, spec, as_of=AS_OF, ages=[1.0, 601.0])
    assert age.value.field == "age_months"
    with pytest.raises(EngineInputError) as premise:
        residuals_by_age(cal, spec, as_of=AS_OF, ages=[1.0], premise="fire")  # type: ignore[arg-type]
    assert premise.value.field == "premise"
