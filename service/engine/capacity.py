"""Calibrate the capacity cost to new-unit prices: the realisation of list rents that the market's
prices imply (see :class:`service.engine.calibration.Capacity`).

For each released model, the multiple k of its new-equivalent price (its own new sales, a launch
price under ``LAUNCH_PRICE_CURRENT_MONTHS`` old, else its generation's price-to-rent multiple)
whose capital charge, added to opex, makes the income value of a new unit on the model's contract
path (as answers value it, default assumptions) equal that price: models with prices of their own
calibrate it on them, the others share their generation's prices through the multiple. The
income approach then adds what it knows best, how value runs off with age, survival and the
expected rent path. The value falls as k rises, so k is found by bisection on
[0, 50]; where even k = 0 leaves the value below the price, the model's rents cannot earn its
price and k = 0 is recorded with the model marked unreachable.
"""

from __future__ import annotations

from dataclasses import replace

from service.engine.assumptions import Assumptions
from service.engine.calibration import Calibration, Capacity
from service.engine.path import RentPath, end_of_life, value_at
from service.engine.state import state_of
from service.engine.terms import contract_path
from service.engine.types import ModelSpec
from service.engine.unit import unit_of

__all__ = ["CAPACITY_MAX", "fit_capacity"]

CAPACITY_MAX = 50.0
_STEPS = 50


def fit_capacity(cal: Calibration) -> Calibration:
    """``cal`` with its :class:`Capacity` fitted (the rest of the calibration is unchanged)."""
    a = Assumptions()
    own: dict[str, float] = {}
    unreachable: set[str] = set()
    for slug, price in sorted(cal.new_price.items()):
        spec = cal.models[slug]
        st = state_of(cal, spec, as_of=cal.as_of, age_months=0.0, a=a, fp8=None, fp4=None)
        path = contract_path(cal, st)

        target = price.price

        def value(
            k: float,
            spec: ModelSpec = spec,
            scrap: float = st.new_price,
            path: RentPath = path,
            target: float = target,
        ) -> float:
            unit = unit_of(spec, a, a.scrap_fraction * scrap, 0.0, k * target)
            return value_at(path, unit, 0.0, end_of_life(path, unit))

        if value(0.0) <= target:
            own[slug] = 0.0
            unreachable.add(slug)
            continue
        lo, hi = 0.0, CAPACITY_MAX
        if value(hi) >= target:
            own[slug] = hi
            continue
        for _ in range(_STEPS):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if value(mid) > target else (lo, mid)
        own[slug] = (lo + hi) / 2
    return replace(cal, capacity=Capacity(own, frozenset(unreachable), cal.models))
