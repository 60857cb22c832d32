"""A model's market level: a robust local level with a damped local trend, filtered forward in
time over monthly evidence (Harvey 1989, *Forecasting, Structural Time Series Models and the
Kalman Filter*, ch. 2 and 4; damped trend as in Gardner & McKenzie 1985).

State ``x = (level, slope)`` in log USD per GPU-hour at the market (median seller, on-demand):

    level[k+1] = level[k] + φ·slope[k] + η_k,     η ~ N(0, q_level)
    slope[k+1] = φ·slope[k] + ζ_k,                ζ ~ N(0, q_slope)
    z[k]       = level[k] + ε_k,                  ε ~ N(0, σ² / n_eff[k])

``z[k]`` is the weighted median of the month's seller-normalised prices. The filter is made
robust by Huber-clipping the standardised innovation at ``c`` (Masreliez & Martin 1977): an
observation far from the prediction has its variance inflated so that it moves the level only
as much as an observation ``c`` standard deviations away. The damped slope means a forecast
levels off (``φ/(1-φ)`` times the slope at most) and never extrapolates a fixed drift.

Clipping is right for a one-month outlier and wrong for a level shift, which is how list rents
move: a card goes from $2.49 to $1.75 and stays there. Clipped month after month, the level
took half a year to follow: in the walk-forward backtest, a quarter after the H100's spot card
fell from $2.49 to $1.75 (then $1.62) the quote was still $2.21. So the filter monitors runs
of outlying months (West & Harrison 1997, *Bayesian Forecasting and Dynamic Models*, 2nd ed.,
§11.4-11.5: a run of forecast errors on one side signals a change, and a feed-back
intervention widens the state's prior). When ``shift_run`` consecutive evidence months fall
more than ``c`` standard deviations from the prediction on the same side, the last of them is
taken as a level shift: its squared innovation is added to the level's prior variance,
``P₁₁ ← P₁₁ + e²``, and it is not clipped, so the level moves to the new price (gain
``(P₁₁ + e²)/(P₁₁ + e² + R)``) and its variance carries the change. A single outlying month
is still clipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["FilteredLevel", "LevelSettings", "MonthEvidence", "filter_level"]


@dataclass(frozen=True, slots=True)
class LevelSettings:
    """Noise and damping of the filter, per month (log units).

    Defaults: list rents move in steps of a few per cent a quarter (the shipped cards), so a
    level random walk of 3% a month (sd) and a slope shock of 0.5% a month; a slope halves in
    about three months (φ = 0.8). ``sigma`` is the spread of one seller-normalised card around
    the level; the calibration replaces it with the data's robust scale. ``shift_run``:
    outlying evidence months in a row, on one side, that signal a level shift (0: never). Two,
    the fewest that can tell a shift from a one-month outlier. The backtest's errors were the
    same to 0.1 point with the widening halved or doubled, and whether the two months had to be
    adjacent, at most three months apart, or (as here) any two evidence months in a row.
    """

    q_level: float = 0.03**2
    q_slope: float = 0.005**2
    damping: float = 0.8
    sigma: float = 0.15
    huber_c: float = 2.0
    shift_run: int = 2


@dataclass(frozen=True, slots=True)
class MonthEvidence:
    """One month of a model's evidence: month index, normalised level, effective row count."""

    month: int
    value: float
    n_eff: float


@dataclass(frozen=True, slots=True)
class FilteredLevel:
    """The filtered state at ``month``: level, slope and their variances, last evidence month."""

    month: int
    level: float
    slope: float
    var_level: float
    var_slope: float
    cov: float
    last_month: int
    months_observed: int

    def forecast(
        self, month: int, damping: float, q_level: float, q_slope: float
    ) -> tuple[float, float]:
        """(level, variance) ``h = month - self.month`` months ahead (h >= 0): the damped
        trend's forecast ``level + slope·Σφ^j`` and the variance grown by the state noise."""
        h = max(month - self.month, 0)
        level, slope = self.level, self.slope
        p11, p12, p22 = self.var_level, self.cov, self.var_slope
        for _ in range(h):
            level, slope = level + damping * slope, damping * slope
            p11, p12, p22 = (
                p11 + 2 * damping * p12 + damping * damping * p22 + q_level,
                damping * p12 + damping * damping * p22,
                damping * damping * p22 + q_slope,
            )
        return level, p11


def filter_level(
    evidence: Sequence[MonthEvidence], until: int, s: LevelSettings
) -> FilteredLevel | None:
    """Run the filter over ``evidence`` (any order; months after ``until`` are ignored) and
    return the state at month ``until``; None without evidence.

    Starts diffuse on the first month's value (level variance σ²/n, slope variance q_slope·12).
    """
    months = sorted((e for e in evidence if e.month <= until), key=lambda e: e.month)
    if not months:
        return None
    first = months[0]
    level, slope = first.value, 0.0
    p11, p12, p22 = s.sigma**2 / max(first.n_eff, 1e-9), 0.0, s.q_slope * 12.0
    at = first.month
    phi = s.damping
    run = 0  # outlying months in a row so far, signed by their side
    for e in months[1:]:
        for _ in range(e.month - at):
            level, slope = level + phi * slope, phi * slope
            p11, p12, p22 = (
                p11 + 2 * phi * p12 + phi * phi * p22 + s.q_level,
                phi * p12 + phi * phi * p22,
                phi * phi * p22 + s.q_slope,
            )
        at = e.month
        r = s.sigma**2 / max(e.n_eff, 1e-9)
        innovation = e.value - level
        total = p11 + r
        if abs(innovation) > s.huber_c * math.sqrt(total):
            side = 1 if innovation > 0 else -1
            run = run + side if run * side > 0 else side
            if s.shift_run and abs(run) >= s.shift_run:
                p11 += innovation * innovation  # a level shift: widen the level's prior
                run = 0
            else:
                r = (innovation / s.huber_c) ** 2 - p11  # an outlier: clip its pull at c
            total = p11 + r
        else:
            run = 0
        k1, k2 = p11 / total, p12 / total
        level += k1 * innovation
        slope += k2 * innovation
        p11, p12, p22 = (1 - k1) * p11, (1 - k1) * p12, p22 - k2 * p12
    state = FilteredLevel(at, level, slope, p11, p22, p12, at, len(months))
    level_u, var_u = state.forecast(until, phi, s.q_level, s.q_slope)
    steps = until - at
    slope_u = slope * phi**steps
    return FilteredLevel(until, level_u, slope_u, var_u, p22, p12, at, len(months))
