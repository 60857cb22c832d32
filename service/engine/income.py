"""Closed-form income-approach formulas (continuous time, rents declining exponentially).

These are the one-regime building blocks of the method (docs/method.md and its worked example);
the two-regime rent path in :mod:`service.engine.path` sums them segment by segment.
"""

from __future__ import annotations

import math

__all__ = [
    "HOURS_PER_YEAR",
    "annuity",
    "economic_life_years",
    "fair_lease_rate",
    "income_value",
    "levelised_rent_factor",
    "opex_per_gpu_hour",
]

HOURS_PER_YEAR = 8760.0


def annuity(k: float, years: float) -> float:
    """Continuous annuity factor ``(1 - e^(-k·T)) / k``, equal to ``T`` in the limit k -> 0.

    >>> round(annuity(0.12, 3.0), 6)
    2.519364
    """
    if abs(k * years) < 1e-12:
        return years
    return -math.expm1(-k * years) / k


def opex_per_gpu_hour(
    tdp_w: float,
    *,
    server_overhead: float,
    pue: float,
    power_price_usd_per_kwh: float,
    colocation_usd_per_kw_month: float,
    operations_usd_per_gpu_hour: float,
) -> float:
    """Operating cost per GPU-hour, paid by the owner (docs/method.md).

    ``C = kW·PUE·p + kW·colo·12/8760 + ops`` with ``kW = TDP/1000 · overhead`` the IT load of
    one GPU's share of its server; colocation is quoted per IT kW per month, power excluded.

    >>> round(opex_per_gpu_hour(700, server_overhead=1.82, pue=1.3, power_price_usd_per_kwh=0.08,
    ...     colocation_usd_per_kw_month=150, operations_usd_per_gpu_hour=0.05), 4)
    0.4443
    """
    it_kw = tdp_w / 1000.0 * server_overhead
    power = it_kw * pue * power_price_usd_per_kwh
    colocation = it_kw * colocation_usd_per_kw_month * 12.0 / HOURS_PER_YEAR
    return power + colocation + operations_usd_per_gpu_hour


def economic_life_years(
    rent: float, utilisation: float, cost: float, decline: float, *, rate: float, scrap: float
) -> float:
    """Years until net rent no longer pays for keeping the unit: ``u·R0·e^(-λL) = C + r·S/H``.

    ``L = ln(u·R0 / (C + r·S/H)) / λ`` (the worked example with S = 0; the ``r·S/H`` term is the
    optimal-retirement rule of replacement theory: keep the unit while it earns more than the
    interest on its scrap value). Infinite when λ <= 0 and the unit pays; 0 when it never pays.
    """
    hurdle = cost + rate * scrap / HOURS_PER_YEAR
    earning = utilisation * rent
    if earning <= hurdle:
        return 0.0
    if decline <= 0.0:
        return math.inf
    return math.log(earning / hurdle) / decline


def income_value(
    rent: float,
    utilisation: float,
    cost: float,
    rate: float,
    decline: float,
    scrap: float = 0.0,
) -> float:
    """Value today of a GPU earning ``u·R0·e^(-λt)`` an hour less cost C until end of life L.

    ``V = H·[u·R0·(1 - e^(-(r+λ)L))/(r+λ) - C·(1 - e^(-rL))/r] + S·e^(-rL)``, H = 8,760
    (the worked example in docs/method.md, one regime). Its vector: R0 = 2.35, u = 0.85, C = 0.43,
    r = 0.12, λ = 0.25 gives 26,050.

    >>> round(income_value(2.35, 0.85, 0.43, 0.12, 0.25))
    26050
    """
    life = economic_life_years(rent, utilisation, cost, decline, rate=rate, scrap=scrap)
    if math.isinf(life):
        raise ValueError("rent never declines below cost: value is unbounded")
    flows = utilisation * rent * annuity(rate + decline, life) - cost * annuity(rate, life)
    return HOURS_PER_YEAR * flows + scrap * math.exp(-rate * life)


def levelised_rent_factor(rate: float, decline: float, years: float) -> float:
    """Level rent equivalent, per unit of today's rent, of ``e^(-λt)`` over T years at rate r.

    ``[(1 - e^(-(r+λ)T))/(r+λ)] / [(1 - e^(-rT))/r]`` (docs/method.md); the worked example's
    3-year lease is ``u·R0·factor = 0.85·2.35·0.7193 = 1.4367``.
    """
    return annuity(rate + decline, years) / annuity(rate, years)


def fair_lease_rate(
    value_start: float, value_end: float, *, rate: float, years: float, cost: float
) -> float:
    """Fair rate per GPU-hour for a T-year lease, lessor paying opex (docs/method.md, section 10).

    ``(V(a) - V(a+T)·e^(-rT)) / (H·(1 - e^(-rT))/r) + C``: the level rent whose present value
    equals the value the lessor gives up over the term, so quotes cannot contradict residuals.
    """
    given_up = value_start - value_end * math.exp(-rate * years)
    return given_up / (HOURS_PER_YEAR * annuity(rate, years)) + cost
