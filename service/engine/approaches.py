"""The three appraisal approaches to a unit's value (income, market, cost) and the weights
that reconcile them, for units of one model on one date at any age."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from service.engine.answers import CurvePoint, PathPoint
from service.engine.assumptions import Assumptions
from service.engine.calibration import Calibration, sale_features
from service.engine.errors import EngineInputError
from service.engine.path import (
    RentPath,
    UnitEconomics,
    cumulative_hazard,
    end_of_life,
    value_at,
)
from service.engine.state import State, state_of
from service.engine.terms import contract_path
from service.engine.types import PREMISES, ModelSpec, Premise
from service.engine.unit import (
    remaining_service_life_months,
    remaining_service_life_months_array,
    unit_of,
)

__all__ = [
    "INCOME_FLOOR",
    "Valuer",
    "approach_weights",
    "income_reliable",
    "income_value",
    "market_prices",
    "premise_factor",
    "value_curve",
    "value_path",
]


Floats = npt.NDArray[np.float64]


def premise_factor(premise: Premise, a: Assumptions) -> float:
    """The share of fair value a premise of value realises: 1 in the market (an orderly sale
    between willing parties, given time), the orderly- or forced-liquidation factor otherwise
    (the premises of value of IVS 104, International Valuation Standards Council)."""
    if premise not in PREMISES:
        raise EngineInputError(
            "premise", f"premise must be one of {', '.join(PREMISES)}, got {premise!r}"
        )
    return {
        "market": 1.0,
        "orderly": a.orderly_liquidation_factor,
        "forced": a.forced_liquidation_factor,
    }[premise]


def income_value(
    st: State, path: RentPath, age_months: float, a: Assumptions, reference: float
) -> tuple[float, float]:
    """(value, years to retirement) of a unit of ``age_months`` on the contract path."""
    unit = unit_of(st.spec, a, a.scrap_fraction * reference, age_months, st.capacity)
    end = end_of_life(path, unit)
    return value_at(path, unit, 0.0, end), end


#: Pseudo-count of own sales for the market approach's credibility ``n/(n + k)``.
_SALE_PSEUDO_COUNT = 3.0
#: What a recent sale of another part of the same segment counts for, in own sales, in that
#: credibility: the sale model prices every part through the age, regime and condition profile
#: those sales fit (comparable sales, adjusted), weaker evidence of this part's price than its
#: own sales, which also set its model effect. Assumption: a tenth.
_PEER_SALE_WEIGHT = 0.1


def market_prices(
    cal: Calibration, st: State, reference: float
) -> tuple[float, float, float] | None:
    """Sale-model prices on ``as_of`` of a new and of a used unit of the model (at its market
    age; with the what-if) and the credibility ``n/(n + 3)`` of the recent sale evidence, n
    counting the model's own sales and a tenth of each sale of another part of its segment
    (:data:`_PEER_SALE_WEIGHT`), or None without a sale model."""
    sales = cal.sales
    if sales is None:
        return None
    registered = cal.models.get(st.spec.slug) == st.spec
    model = st.spec.slug if st.spec.slug in sales.models and registered else None

    def price(condition: str) -> float:
        f = sale_features(
            st.spec, cal.frontier, st.as_of, math.log(reference), condition=condition, model=model
        )
        return math.exp(sales.log_price(f) + st.what_if)

    own_sales = cal.recent_sales.get(st.spec.slug, 0) if registered else 0
    peers = sum(
        count
        for slug, count in cal.recent_sales.items()
        if slug != st.spec.slug
        and slug in cal.models
        and cal.models[slug].segment == st.spec.segment
    )
    n = own_sales + _PEER_SALE_WEIGHT * peers
    new, used = price("new"), price("used")
    own = cal.new_price.get(st.spec.slug) if registered else None
    if own is not None and own.basis == "new_sales":
        # anchored on the model's own recent new-unit sales; used keeps the model's discount
        anchored = own.price * math.exp(st.what_if) * st.projection_factor
        used, new = used * anchored / new, anchored
    return new, min(used, new), n / (n + _SALE_PSEUDO_COUNT)


def _cumulative_hazard_array(unit: UnitEconomics, start_age: float, end_ages: Floats) -> Floats:
    """:func:`service.engine.path.cumulative_hazard` from ``start_age`` to each of
    ``end_ages`` (years), its array form (NumPy): ``∫ h(x) dx = h0/g·(e^(g·b) - e^(g·a))``
    (``h0·(b-a)`` when g = 0), 0 where ``b <= a`` or without hazard.

    The exponentials are the math module's, mapped over the ages (C calls, no Python code per
    age), so the result is the scalar one to the bit: the difference of two exponentials
    cancels where g·(b - a) is small against 1 (g near 0, or b just past a under a steep
    hazard), and NumPy's exp, which may differ from math's in the last bit, would there move
    the result by far more than a rounding (1e-10 relative at g = 1e-6; a factor e one ulp
    past the market age at g = 2)."""
    if unit.hazard0 == 0.0:
        return np.zeros_like(end_ages)
    g = unit.hazard_growth
    if abs(g) < 1e-12:
        hazard = unit.hazard0 * (end_ages - start_age)
    else:
        grown = np.fromiter(map(math.exp, (g * end_ages).tolist()), np.float64, len(end_ages))
        hazard = unit.hazard0 / g * (grown - math.exp(g * start_age))
    return np.where(end_ages <= start_age, 0.0, hazard)


@dataclass(frozen=True, slots=True)
class Valuer:
    """Everything to value units of one model on one date at any age (for the curve)."""

    st: State
    contracts: RentPath
    a: Assumptions
    reference: float
    new_price: float
    market: tuple[float, float, float] | None  # new, used at market age, credibility
    market_age: float
    weights: tuple[float, float, float]  # income, market, cost

    def market_value(self, age: float) -> float | None:
        """Market approach at ``age`` months: the model's sale prices on ``as_of``, from the
        new price at age 0 to the used price at the model's market age (the age of the units
        that sell used), geometrically in between, ``P_new·(P_used/P_new)^(a/a_m)``; past the
        market age the used price moves with survival, ``P_used·S(a)/S(a_m)``. a_m is at
        least a year (a unit is used from first use)."""
        if self.market is None:
            return None
        new, used, _ = self.market
        market_age = max(self.market_age, 12.0)
        if age <= market_age:
            return float(new * (used / new) ** (age / market_age))
        # S(a)/S(a_m) = exp(-∫ h from a_m to a), in one exponent: the two survivals underflow
        # to 0 together under a steep hazard, their ratio does not
        return used * math.exp(-cumulative_hazard(self.st.unit, market_age / 12.0, age / 12.0))

    def market_values(self, ages: Floats) -> Floats | None:
        """:meth:`market_value` at each of ``ages`` (months), its array form (NumPy):
        ``P_new·(P_used/P_new)^(a/a_m)`` up to the market age a_m (at least a year), then
        ``P_used·S(a)/S(a_m) = P_used·exp(-∫ h from a_m to a)``; None without a sale model."""
        if self.market is None:
            return None
        new, used, _ = self.market
        market_age = max(self.market_age, 12.0)
        young = new * (used / new) ** (ages / market_age)
        hazard = _cumulative_hazard_array(self.st.unit, market_age / 12.0, ages / 12.0)
        old = used * np.exp(-hazard)
        values: Floats = np.where(ages <= market_age, young, old)
        return values

    def cost_value(self, age: float) -> float:
        """New-equivalent price less physical depreciation by the age-life method of the cost
        approach: depreciation is effective age over total life, ``a / (a + RL(a))``, where
        RL(a) is the expected working life left to a unit that has reached age a
        (:func:`remaining_service_life_months`), so a unit is worth scrap at the end of its
        physical life and its new-equivalent price at age 0."""
        scrap = self.a.scrap_fraction
        left = remaining_service_life_months(self.a, age)
        used = age / (age + left) if age + left > 0.0 else 1.0
        return self.new_price * (scrap + (1.0 - scrap) * (1.0 - used))

    def cost_values(self, ages: Floats) -> Floats:
        """:meth:`cost_value` at each of ``ages`` (months), its array form (NumPy): the
        new-equivalent price less age-life depreciation ``a / (a + RL(a))`` (RL from
        :func:`remaining_service_life_months_array`; all of it where ``a + RL(a) = 0``), down
        to scrap at the end of physical life."""
        scrap = self.a.scrap_fraction
        left = remaining_service_life_months_array(self.a, ages)
        total = ages + left
        used = np.divide(ages, total, out=np.ones_like(total), where=total > 0.0)
        values: Floats = self.new_price * (scrap + (1.0 - scrap) * (1.0 - used))
        return values

    def value(self, age: float) -> tuple[float, float, float | None, float, float]:
        """(reconciled, income, market, cost, years to retirement) at ``age`` months."""
        income, end = income_value(self.st, self.contracts, age, self.a, self.reference)
        market = self.market_value(age)
        cost = self.cost_value(age)
        wi, wm, wc = self.weights
        total = wi * income + wc * cost + (wm * market if market is not None else 0.0)
        return total, income, market, cost, end


#: The income approach describes how a part is priced only if a new unit's income value
#: reaches at least this share of its new-equivalent price; below, rents and prices are
#: different markets (consumer cards in spare hosts, parts whose peers' capacity costs do not
#: fit them) and the market and cost approaches carry the value.
INCOME_FLOOR = 0.25


def income_reliable(
    cal: Calibration,
    spec: ModelSpec,
    as_of: date,
    a: Assumptions,
    reference: float,
    fp8: bool | None,
    fp4: bool | None,
    st: State,
) -> bool:
    """Whether rents earn the part's price, judged on the part as it is (a what-if moves the
    value, not which approaches describe the part): its capacity calibration, and a new unit's
    income value at least :data:`INCOME_FLOOR` of its new-equivalent price."""
    if not cal.capacity.income_reliable(spec):
        return False
    base = (
        st
        if fp8 is None and fp4 is None
        else state_of(cal, spec, as_of=as_of, age_months=0.0, a=a, fp8=None, fp4=None)
    )
    income, _ = income_value(base, contract_path(cal, base), 0.0, a, reference)
    return income >= INCOME_FLOOR * base.new_price * base.projection_factor


def approach_weights(
    a: Assumptions, market: tuple[float, float, float] | None, income_reliable: bool
) -> tuple[float, float, float]:
    """Market: ``market_weight_max × n/(n + 3)`` (n: the model's own sales in two years);
    cost: ``cost_weight``; income: the rest. Where rents cannot earn the part's price (see
    :meth:`Capacity.income_reliable` and :data:`INCOME_FLOOR`), income gets no weight and the
    market and cost approaches share it in proportion."""
    wm = a.market_weight_max * market[2] if market is not None else 0.0
    wc = a.cost_weight
    wi = max(1.0 - wm - wc, 0.0)
    if not income_reliable:
        total = wm + wc
        return 0.0, wm / total if total > 0 else 0.0, wc / total if total > 0 else 1.0
    return wi, wm, wc


def value_path(
    st: State, path: RentPath, a: Assumptions, reference: float, value: float, income: float
) -> tuple[PathPoint, ...]:
    """Monthly from ``as_of`` to retirement: today's reported value times the ratio of the
    income value τ ahead (on the expected contract-rent path, surviving to τ) to today's.
    Applied to this path, the lease identity ``(V(0) - V(T)·e^(-rT)) / (H·ann(r, T)) + C``
    gives the fair rate of a T lease on the reported values."""
    unit = unit_of(st.spec, a, a.scrap_fraction * reference, st.age_months, st.capacity)
    end = end_of_life(path, unit)
    ratio = value / income if income > 0 else 1.0
    points = []
    for k in range(math.ceil(end * 12.0) + 1):
        tau = min(k / 12.0, end)
        points.append(PathPoint(k, st.age_months + k, ratio * value_at(path, unit, tau, end)))
    return tuple(points)


def value_curve(valuer: Valuer, factor: float, reference: float) -> tuple[CurvePoint, ...]:
    """Value by age on the same date, monthly from new to the end of physical life."""
    months = math.ceil(valuer.a.physical_life_months)
    points = []
    for age in range(months + 1):
        value, income, _, _, _ = valuer.value(float(age))
        points.append(CurvePoint(float(age), value * factor, value * factor / reference, income))
    return tuple(points)
