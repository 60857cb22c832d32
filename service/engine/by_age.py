"""Residual values of one model on one date at many ages: the fleet's engine call.

A fleet holds many units of few models, and what :func:`service.engine.valuation.residual`
computes splits in two: the model's state on ``as_of`` (level, regime, rent and contract paths,
sale prices, approach weights), which does not depend on the unit's age, and the reconciliation
of the three approaches at one age, which does. :func:`residuals_by_age` builds the first once
and evaluates the second for each age, so valuing a fleet costs one model state per model and
one cheap evaluation per distinct age.

The value at each age is the ``value_per_gpu`` and ``remaining_life_months`` of
``residual(cal, spec, as_of=as_of, age_months=age, premise=premise, assumptions=a)`` (the tests
compare both at every age they draw, to 1e-9 relative): the same formulas, in the same order,
from the same state (module doc of :mod:`service.engine.valuation` for the method). The income
approach, the costly one, runs over all the ages at once (:func:`service.engine.age_grid.
income_by_age`, NumPy, agreeing with the scalar :meth:`Valuer.value` to the last bits of the
elementary functions); the market and cost approaches are the ``Valuer``'s, in their array forms
(:meth:`Valuer.market_values`, :meth:`Valuer.cost_values`: the scalar methods' formulas over
all the ages at once, equal to them to 1e-12 relative), and the weights are the ``Valuer``'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from service.engine.age_grid import income_by_age
from service.engine.approaches import (
    Valuer,
    approach_weights,
    income_reliable,
    market_prices,
    premise_factor,
)
from service.engine.assumptions import Assumptions
from service.engine.calibration import Calibration
from service.engine.errors import EngineInputError
from service.engine.state import cal_reference, state_of
from service.engine.terms import contract_path
from service.engine.types import DAYS_PER_MONTH, ModelSpec, Premise

__all__ = ["AgeValues", "ModelValues", "residuals_by_age"]

_DEFAULTS = Assumptions()


@dataclass(frozen=True, slots=True)
class AgeValues:
    """Residual value per GPU (USD) and economic life left (months) at each requested age,
    with the model's regime and frontier precision on ``as_of`` (the same at every age)."""

    ages: tuple[float, ...]
    value_per_gpu: tuple[float, ...]
    remaining_life_months: tuple[float, ...]
    regime: str
    frontier_precision: str


class ModelValues:
    """One model on one date, on a premise, ready to be valued at any age (see module doc)."""

    def __init__(
        self,
        cal: Calibration,
        spec: ModelSpec,
        *,
        as_of: date,
        premise: Premise = "market",
        assumptions: Assumptions | None = None,
    ) -> None:
        a = assumptions or _DEFAULTS
        self.factor = premise_factor(premise, a)
        # Only the state's unit (opex, life left) depends on the age, and the reconciliation
        # rebuilds the unit at each age, as residual() does: any age will do here.
        st = state_of(cal, spec, as_of=as_of, age_months=0.0, a=a, fp8=None, fp4=None)
        reference = cal_reference(cal, spec)
        new_price = st.new_price * math.exp(st.what_if) * st.projection_factor
        prices = market_prices(cal, st, reference)
        market_age = max((as_of - spec.release_date).days / DAYS_PER_MONTH, 0.0)
        weights = approach_weights(
            a, prices, income_reliable(cal, spec, as_of, a, reference, None, None, st)
        )
        self._valuer = Valuer(
            st, contract_path(cal, st), a, reference, new_price, prices, market_age, weights
        )
        self.regime = "behind" if st.behind else "frontier"
        self.frontier_precision: str = st.precision

    def at(self, ages: Sequence[float]) -> AgeValues:
        """Value per GPU and economic life left at each of ``ages`` (months, in [0, 600])."""
        array = np.array(ages, dtype=np.float64)
        bad = ~((array >= 0.0) & (array <= 600.0))  # NaN compares False: bad too
        if bad.any():
            age = ages[int(np.argmax(bad))]
            raise EngineInputError("age_months", f"age_months must be within [0, 600], got {age!r}")
        v = self._valuer
        income, end = income_by_age(v.st, v.contracts, v.a, v.reference, array)
        market = v.market_values(array)  # Valuer.value's reconciliation, term for term
        wi, wm, wc = v.weights
        weighted_market = wm * market if market is not None else 0.0
        values = (wi * income + wc * v.cost_values(array) + weighted_market) * self.factor
        return AgeValues(
            ages=tuple(ages),
            value_per_gpu=tuple(values.tolist()),
            remaining_life_months=tuple((end * 12.0).tolist()),
            regime=self.regime,
            frontier_precision=self.frontier_precision,
        )


def residuals_by_age(
    cal: Calibration,
    spec: ModelSpec,
    *,
    as_of: date,
    ages: Sequence[float],
    premise: Premise = "market",
    assumptions: Assumptions | None = None,
) -> AgeValues:
    """``residual(...).value_per_gpu`` and ``.remaining_life_months`` at each of ``ages``
    (months, each within [0, 600]), from one model state.

    Value: ``premise_factor × Σ weight × approach(age)`` (income: PV of contract-level rent
    less opex to retirement; market: sale prices from new to the market age; cost: new price
    less straight-line physical depreciation), exactly as :func:`residual` reconciles it.
    """
    model = ModelValues(cal, spec, as_of=as_of, premise=premise, assumptions=assumptions)
    return model.at(ages)
