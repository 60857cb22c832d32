"""80% bands of quotes and values: the spread of prices around the level, widened by the
variances of the level, its projection and the price level new (docs/method.md, section 11)."""

from __future__ import annotations

import math

from service.engine.approaches import Valuer
from service.engine.assumptions import Assumptions
from service.engine.calibration import Calibration
from service.engine.state import State

__all__ = ["TERM_VARIANCE", "Z80", "band", "projection_variance", "value_band"]

#: The standard normal's 90% quantile: an 80% band is ±Z80 standard deviations.
Z80 = 1.2815515655446004
#: Extra log variance of a fixed-term or spot factor over the on-demand level (contract level
#: read from a few sellers' cards): 5% sd.
TERM_VARIANCE = 0.05**2
_DEFAULTS = Assumptions()


def band(cal: Calibration, st: State, extra: float) -> tuple[float, float]:
    """Log offsets (low, high) of the 80% band: the spread of prices around the level at that
    level (sellers' spread for market and segment answers), widened by the level's own
    variance, the projection's (the filter's level noise per month and the decline's prior sd
    per year) and ``extra``: ``q·√(1 + v/s²)`` with s the spread's normal-equivalent sd."""
    lo, hi = cal.dispersion["provider" if st.level.kind == "provider" else "market"]
    s = max((hi - lo) / (2 * Z80), 1e-3)
    k = math.sqrt(1.0 + (st.level_variance + projection_variance(cal, st) + extra) / s**2)
    return lo * k, hi * k


def projection_variance(cal: Calibration, st: State) -> float:
    """Variance a projection past the evidence adds to a log level: the filter's level noise
    per month and the decline's prior sd per year."""
    years = st.projection_months / 12.0
    return st.projection_months * cal.settings.q_level + (_DEFAULTS.decline_prior_sd * years) ** 2


def value_band(
    cal: Calibration, st: State, valuer: Valuer, income: float, market: float | None, cost: float
) -> tuple[float, float]:
    """80% band of the reconciled value: each approach at its own band (income at the rent
    band, market and cost at the spread of sale prices around a model's level), weighted as
    the value. Every approach rests on the model's price level new (the income approach through
    the capacity multiple that prices a new unit at its new-equivalent price), so each band is
    widened by that level's own uncertainty, ``k = √(1 + v/s²)`` as in :func:`band`, with
    v the sale level's posterior variance (wide for a model with few sales of its own), by
    the drift of its sale prices since its last sale (sale prices move between observations:
    :meth:`SaleModel.staleness_variance`), and by the projection's variance past the evidence,
    as a rent's."""
    # without any sale model, the sale level's prior variance (a 50% sd, as in the sale model)
    v = cal.sales.level_variance(st.spec.slug) if cal.sales is not None else 0.25
    lo, hi = band(cal, st, TERM_VARIANCE + v)
    sale_lo, sale_hi = cal.sales.dispersion if cal.sales is not None else (-0.3, 0.3)
    s = max((sale_hi - sale_lo) / (2 * Z80), 1e-3)
    drift = (
        cal.sales.staleness_variance(st.spec.slug, st.projection_months / 12.0)
        if cal.sales is not None
        else 0.0
    )
    k = math.sqrt(1.0 + (v + drift + st.level_variance + projection_variance(cal, st)) / s**2)
    sale_lo, sale_hi = sale_lo * k, sale_hi * k
    wi, wm, wc = valuer.weights
    # the cost approach's new price is a sale price (own sales) or rests on one (multiples)
    low = wi * income * math.exp(lo) + wc * cost * math.exp(sale_lo)
    high = wi * income * math.exp(hi) + wc * cost * math.exp(sale_hi)
    if market is not None:
        low += wm * market * math.exp(sale_lo)
        high += wm * market * math.exp(sale_hi)
    return low, high
