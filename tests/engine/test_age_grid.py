"""The vectorised income approach equals the scalar one at every age: for every released model
at several dates, at ages from new to past the physical life, value and retirement date agree
with :func:`service.engine.approaches.income_value` to 1e-9 relative."""

from __future__ import annotations

import math
import random
from dataclasses import fields
from datetime import date

import numpy as np
import pytest

from service.engine import age_grid
from service.engine.approaches import income_value
from service.engine.by_age import ModelValues
from service.engine.path import RentPath, Segment, UnitEconomics
from service.engine.path import end_of_life as scalar_end_of_life
from service.engine.path import value_at as scalar_value_at
from service.reference import calibration

DATES = [date(2024, 6, 1), date(2025, 3, 15), date(2026, 6, 30)]
REL = 1e-9


def _close(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=REL, abs_tol=1e-9)


def _ages(rng: random.Random, physical: float) -> list[float]:
    """New, around the physical life, past it, the cap, and random ages in between."""
    edges = [0.0, 1e-9, physical - 1e-6, physical, physical + 1e-6, physical + 13.0, 600.0]
    return [*edges, *(rng.randint(0, 4000) / 30.4375 for _ in range(60))]


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_income_by_age_equals_income_value_for_every_model(as_of: date) -> None:
    cal = calibration(as_of)
    rng = random.Random(as_of.toordinal())
    compared = 0
    for spec in cal.models.values():
        if spec.release_date > as_of:
            continue
        v = ModelValues(cal, spec, as_of=as_of)._valuer
        ages = _ages(rng, v.a.physical_life_months)
        income, end = age_grid.income_by_age(
            v.st, v.contracts, v.a, v.reference, np.array(ages, dtype=np.float64)
        )
        for age, got_income, got_end in zip(ages, income.tolist(), end.tolist(), strict=True):
            want_income, want_end = income_value(v.st, v.contracts, age, v.a, v.reference)
            assert _close(got_income, want_income), (spec.slug, age, got_income, want_income)
            assert _close(got_end, want_end), (spec.slug, age, got_end, want_end)
            compared += 1
    assert compared > 500


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_model_values_equal_the_valuer_at_every_age(as_of: date) -> None:
    """Reconciled value and life left, through :meth:`ModelValues.at`, against the scalar
    :meth:`Valuer.value` on every premise."""
    cal = calibration(as_of)
    rng = random.Random(-as_of.toordinal())
    for premise in ("market", "orderly", "forced"):
        for spec in cal.models.values():
            if spec.release_date > as_of:
                continue
            model = ModelValues(cal, spec, as_of=as_of, premise=premise)
            ages = _ages(rng, model._valuer.a.physical_life_months)
            got = model.at(ages)
            for age, value, life in zip(
                ages, got.value_per_gpu, got.remaining_life_months, strict=True
            ):
                reconciled, _, _, _, end = model._valuer.value(age)
                assert _close(value, reconciled * model.factor), (spec.slug, age)
                assert _close(life, end * 12.0), (spec.slug, age)


def _unit(life_left: float, age: float, **kw: float) -> UnitEconomics:
    base = {"utilisation": 0.7, "cost": 0.5, "rate": 0.1, "scrap": 300.0, "hazard0": 0.02}
    return UnitEconomics(life_left=life_left, age=age, hazard_growth=0.3, **(base | kw))


def test_paths_that_dip_and_recover_pick_the_scalar_retirement_date() -> None:
    """A path whose rent dips below the hurdle and recovers has several candidate dates; the
    vectorised choice (highest value, earliest of equal ones) is the scalar one. Random paths
    and units cover steps down through the hurdle, crossings and the physical life."""
    rng = random.Random(7)
    several = 0
    for _ in range(150):
        segments, start = [], 0.0
        for _ in range(rng.randint(1, 5)):
            segments.append(Segment(start, rng.uniform(0.3, 4.0), rng.choice([0.0, 0.2, 0.6])))
            start += rng.choice([0.25, 0.5, 1.0, 1.7])
        path = RentPath(tuple(segments))
        units = [
            _unit(
                max(rng.uniform(-1.0, 7.0), 0.0),
                rng.uniform(0.0, 8.0),
                cost=rng.uniform(0.1, 2.0),
                hazard0=rng.choice([0.0, 0.05]),
            )
            for _ in range(20)
        ]
        grid = age_grid.Units.of(units)
        ends = age_grid.end_of_life(path, grid)
        values = age_grid.value_at(path, grid, ends)
        for unit, end, value in zip(units, ends.tolist(), values.tolist(), strict=True):
            want_end = scalar_end_of_life(path, unit)
            assert _close(end, want_end), (path, unit, end, want_end)
            assert _close(value, scalar_value_at(path, unit, 0.0, want_end))
            several += end not in (unit.life_left, 0.0)
    assert several > 100  # retirement before the physical life, by a crossing or a step


def test_the_vectorised_units_carry_every_field_of_the_scalar_ones() -> None:
    """A field added to UnitEconomics (a new dependence on age) must reach the NumPy pass."""
    assert [f.name for f in fields(age_grid.Units)] == [f.name for f in fields(UnitEconomics)]


def test_units_past_their_physical_life_are_worth_their_scrap() -> None:
    path = RentPath((Segment(0.0, 2.0, 0.1),))
    grid = age_grid.Units.of([_unit(0.0, 9.0), _unit(0.0, 12.0, scrap=10.0)])
    ends = age_grid.end_of_life(path, grid)
    assert ends.tolist() == [0.0, 0.0]
    assert age_grid.value_at(path, grid, ends).tolist() == [300.0, 10.0]


def test_unit_ages_are_the_fields_of_unit_of_at_each_age() -> None:
    """The array form gives, bit for bit, the life left and age ``unit_of`` gives at each age;
    every other field of the unit is the same at any age."""
    from service.engine.assumptions import Assumptions
    from service.engine.unit import unit_ages, unit_of

    cal = calibration(date(2026, 6, 30))
    spec = cal.models["nvidia-h100-sxm5-80gb"]
    a = Assumptions()
    ages = np.array([0.0, 1e-9, 0.5, 12.0, 59.99, 119.99, 120.0, 120.01, 333.3, 600.0])
    life_left, age = unit_ages(a, ages)
    base = unit_of(spec, a, 100.0, 0.0, 1000.0)
    for k, months in enumerate(ages.tolist()):
        unit = unit_of(spec, a, 100.0, months, 1000.0)
        assert (unit.life_left, unit.age) == (life_left[k], age[k])
        for f in fields(UnitEconomics):
            if f.name not in ("life_left", "age"):
                assert getattr(unit, f.name) == getattr(base, f.name)
