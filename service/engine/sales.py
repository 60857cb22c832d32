"""The used-sale model behind the market approach (docs/method.md): sale prices relative to the
reference price, by age, time behind the frontier, condition and channel, with a model effect.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from service.engine.normalise import Normalised
from service.engine.robust import Array, Prior, huber_fit

__all__ = ["SaleFeatures", "SaleModel", "fit_sale_model"]

#: (mean, sd) priors of log(price / reference price). Used units sell below new ones and
#: values fall with age, faster behind the frontier (used V100s at 2-4% of launch after eight
#: years, used A100 PCIe about -50% a year: service/data/README.md).
_PRIORS: dict[str, tuple[float, float]] = {
    "intercept": (0.0, math.inf),
    "age_years": (-0.15, 0.2),
    "years_behind": (-0.3, 0.3),
    "used": (-0.3, 0.5),
    "unknown_condition": (-0.15, 0.5),
    "listing": (0.1, 0.5),
    "system": (0.2, 0.5),
    "commentary": (0.0, 0.5),
    "consumer": (0.0, 0.5),
}
_MODEL_SD = 0.5
#: A seller's price series around the model level (a listing tracker, an auction average).
_SERIES_SD = 0.3
#: Second-hand prices move fast: a half-year half-life on observation weights.
_HALF_LIFE = 0.5
#: Floor of the residual scale σ, in log price. Sale evidence is quoted in round figures and
#: range midpoints ("around $19K", "$22-25k", the mean of three listings), so log prices are
#: known to a few per cent (rounding to the nearest $1K at $19K is ±2.6%); the rent model's
#: floor (hedonic._MIN_SCALE) rests on the same resolution. Below it the weighted MAD measures
#: exact fits (a series seen once is fitted exactly by its own effect, and once such series
#: carry half the recency weight the MAD is 0), not the market: the penalty σ²·P would vanish,
#: switch the priors off and leave model and series effects unidentified (condition number of
#: the normal matrix ~1e14 at as_of 2026-06-30 under the former floor of 1e-6).
_MIN_SCALE = 0.03
#: Drift variance (log price², per year) of a model's sale price away from the sale model's
#: path where too few repeat prices exist to estimate it (an assumption: a 30% sd a year,
#: the order of the yearly moves of used datacenter parts in the shipped price series).
_PRIOR_DRIFT_VARIANCE = 0.3**2
#: Repeat-price pairs needed before the drift variance is estimated from them.
_MIN_DRIFT_PAIRS = 8
#: The standard normal's 90% quantile (an 80% band is ±z80 standard deviations).
_Z80 = 1.2815515655446004


@dataclass(frozen=True, slots=True)
class SaleFeatures:
    """What a sale price (per GPU) depends on, relative to the model's reference price."""

    log_reference: float
    age_years: float
    years_behind: float
    condition: str  # "new" | "used" | "unknown"
    listing: bool
    system: bool
    commentary: bool
    consumer: bool
    model: str | None
    series: str | None = None  # model x seller x condition, if observed


@dataclass(frozen=True, slots=True)
class SaleModel:
    """Fitted sale model; ``credibility[slug]`` is the weight of a model's own sales."""

    models: tuple[str, ...]
    series: tuple[str, ...]
    beta: Array
    scale: float
    credibility: dict[str, float]
    counts: dict[str, int]
    #: (slope, se) of log price per year of market age, and of the extra slope per year behind
    #: the frontier: the used-sale age profile (None until fitted).
    age_slope: tuple[tuple[float, float], tuple[float, float]] | None = None
    #: Weighted 10% and 90% quantiles of log prices around the model's level (residual plus
    #: the seller-series effect): the spread an 80% band of a sale price must cover.
    dispersion: tuple[float, float] = (-0.3, 0.3)
    #: Variance per year of a seller's price series around the model's path (see
    #: :func:`drift_variance`), and each model's last sale (years since the epoch) and the
    #: fit's date.
    drift: float = _PRIOR_DRIFT_VARIANCE
    last_sale: dict[str, float] = field(default_factory=dict)
    t_end: float = 0.0

    def staleness_variance(self, model: str, years_ahead: float) -> float:
        """Variance a model's sale level gains between its last sale and the date valued,
        ``σ²_drift·(t_end - t_last + h)``: a random walk around the model's path, as its
        sale prices move between observations (0 for a model without sales of its own, whose
        level carries the model effect's prior variance instead)."""
        last = self.last_sale.get(model)
        if last is None:
            return 0.0
        return self.drift * max(self.t_end - last + years_ahead, 0.0)

    def level_variance(self, model: str) -> float:
        """Posterior variance of a model's sale level around the fitted one, ``(1 - Z)·τ²``
        (τ = ``_MODEL_SD``, Z its credibility): the variance of a random effect given its
        data (Bühlmann & Gisler 2005, *A Course in Credibility Theory*, §4.4), τ² for a model
        with no sales of its own."""
        return (1.0 - self.credibility.get(model, 0.0)) * _MODEL_SD**2

    def row(self, f: SaleFeatures) -> Array:
        base = [1.0, f.age_years, f.years_behind, float(f.condition == "used")]
        base += [float(f.condition not in ("new", "used")), float(f.listing), float(f.system)]
        base += [float(f.commentary), float(f.consumer)]
        effects = [float(f.model == m) for m in self.models]
        effects += [float(f.series == s) for s in self.series]
        return np.asarray(base + effects)

    def log_price(self, f: SaleFeatures) -> float:
        """Predicted log USD per GPU: ``log P_ref + x·β`` (``x·β`` summed exactly by
        ``math.fsum``, independent of a BLAS kernel's order of addition)."""
        row = self.row(f)
        return f.log_reference + math.fsum((row * self.beta).tolist())


def fit_sale_model(
    rows: Sequence[tuple[Normalised, SaleFeatures]], t_end: float
) -> SaleModel | None:
    """Penalised Huber fit of ``log(price / P_ref)``; None without sale observations."""
    if not rows:
        return None
    models = tuple(sorted({f.model for _, f in rows if f.model}))
    series = tuple(sorted({f.series for _, f in rows if f.series}))
    shell = SaleModel(models, series, np.zeros(0), 1.0, {}, {})
    x = np.vstack([shell.row(f) for _, f in rows])
    y = np.array([n.log_price - f.log_reference for n, f in rows])
    w = np.array([n.weight * 0.5 ** ((t_end - n.t) / _HALF_LIFE) for n, _ in rows])
    w *= w.sum() / (w * w).sum()
    means = [m for m, _ in _PRIORS.values()] + [0.0] * (len(models) + len(series))
    sds = [s for _, s in _PRIORS.values()] + [_MODEL_SD] * len(models)
    sds += [_SERIES_SD] * len(series)
    prior = Prior(np.asarray(means), np.asarray(sds), np.zeros((0, len(means))), 1.0)
    fit = huber_fit(x, y, w, prior, min_scale=_MIN_SCALE)
    k = (fit.scale / _MODEL_SD) ** 2
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for (_, f), weight in zip(rows, w, strict=True):
        if f.model:
            totals[f.model] = totals.get(f.model, 0.0) + float(weight)
            counts[f.model] = counts.get(f.model, 0) + 1
    credibility = {m: totals[m] / (totals[m] + k) for m in models}
    se = np.sqrt(np.maximum(np.diag(fit.covariance), 0.0))
    slope = ((float(fit.beta[1]), float(se[1])), (float(fit.beta[2]), float(se[2])))
    first_series = len(_PRIORS) + len(models)
    spread = fit.residuals + (x[:, first_series:] * fit.beta[first_series:]).sum(axis=1)
    last: dict[str, float] = {}
    for n, f in rows:
        if f.model:
            last[f.model] = max(last.get(f.model, -math.inf), n.t)
    return SaleModel(
        models,
        series,
        fit.beta,
        fit.scale,
        credibility,
        counts,
        slope,
        _band(spread, w),
        drift=drift_variance(rows, fit.beta),
        last_sale=last,
        t_end=t_end,
    )


def drift_variance(rows: Sequence[tuple[Normalised, SaleFeatures]], beta: Array) -> float:
    """Variance per year of sale prices around the fitted path, from repeat prices of the same
    series (model x seller x condition): for consecutive prices Δt ≥ 2 weeks apart, the change
    of the log price less the path's (age and years-behind slopes x their changes), scaled by
    ``1/√Δt`` as a random walk's increment. σ is read off the increments' 80% quantile of
    absolute deviation from their median, ``q80/z80`` (z80 = 1.2816, the normal's 90%
    quantile), not their MAD: the bands it widens are 80% bands, and repeat sale prices have
    heavier tails than a normal's (a crash between two listings), which a MAD-based σ
    understates at the 80% level. Without enough repeat prices, a prior (an assumption)."""
    by_series: dict[str, list[tuple[float, float, SaleFeatures]]] = {}
    for n, f in rows:
        if f.series:
            by_series.setdefault(f.series, []).append((n.t, n.log_price, f))
    increments = []
    for items in by_series.values():
        items.sort(key=lambda item: item[0])
        for (t0, y0, f0), (t1, y1, f1) in itertools.pairwise(items):
            dt = t1 - t0
            if dt < 14 / 365.25:
                continue
            path = float(beta[1]) * (f1.age_years - f0.age_years) + float(beta[2]) * (
                f1.years_behind - f0.years_behind
            )
            increments.append((y1 - y0 - path) / math.sqrt(dt))
    if len(increments) < _MIN_DRIFT_PAIRS:
        return _PRIOR_DRIFT_VARIANCE
    z = np.asarray(increments)
    return float((np.quantile(np.abs(z - np.median(z)), 0.8) / _Z80) ** 2)


def _band(values: Array, weights: Array) -> tuple[float, float]:
    """Weighted 10% and 90% quantiles, at least ±5% wide."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order]) / weights.sum()
    lo = float(values[order][int(np.searchsorted(cum, 0.1))])
    hi = float(values[order][min(int(np.searchsorted(cum, 0.9)), len(cum) - 1)])
    return min(lo, -0.05), max(hi, 0.05)
