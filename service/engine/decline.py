"""Rent decline evidence from card trends, and the shrinkage that combines evidence with priors.

The trend of each rate card over time is estimated within a model x seller x term card (fixed
effects, so levels never masquerade as trends), with standard errors clustered by card. The
term structure's evidence is in :mod:`service.engine.contracts`; the calibration combines them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.engine.linalg import cholesky, cholesky_solve
from service.engine.robust import Prior, huber_fit

__all__ = [
    "DeclineInputs",
    "Declines",
    "Estimate",
    "TrendRow",
    "combine_declines",
    "posterior",
    "trend",
]


@dataclass(frozen=True, slots=True)
class Estimate:
    """A decline rate per year and its standard error (``inf``: no evidence)."""

    value: float
    se: float


@dataclass(frozen=True, slots=True)
class TrendRow:
    """One lease observation for the trend fit."""

    cell: tuple[object, ...]
    t: float
    behind: bool
    log_price: float
    weight: float


_NONE = Estimate(0.0, math.inf)


def trend(rows: Sequence[TrendRow], min_cells: int = 3) -> tuple[Estimate, Estimate]:
    """Robust within-cell regression ``y - ȳ_cell = -λ_f·(t·F)~ - λ_b·(t·B)~ + β·B~``.

    ``~`` is the within-cell deviation (fixed effects), F/B flag the regime at the date; the
    step β at a frontier move is absorbed so that it is not read as a trend. Returns
    ``(frontier, behind)`` with standard errors from ``σ²(XᵀWX)⁻¹`` on Kish-rescaled weights.
    """
    cells: dict[tuple[object, ...], list[int]] = {}
    for i, row in enumerate(rows):
        cells.setdefault(row.cell, []).append(i)
    spans = [ix for ix in cells.values() if len({rows[i].t for i in ix}) > 1]
    if len(spans) < min_cells:
        return _NONE, _NONE
    index = [i for ix in spans for i in ix]
    x = np.array([[r.t * (not r.behind), r.t * r.behind, float(r.behind)] for r in rows])[index]
    y = np.array([r.log_price for r in rows])[index]
    w = np.array([r.weight for r in rows])[index]
    start = 0
    for ix in spans:
        block = slice(start, start + len(ix))
        mean_w = w[block] / w[block].sum()
        x[block] -= (mean_w[:, None] * x[block]).sum(axis=0)
        y[block] -= (mean_w * y[block]).sum()
        start += len(ix)
    w = w * w.sum() / (w * w).sum()
    flat = Prior(np.zeros(3), np.full(3, math.inf), np.zeros((0, 3)), 1.0)
    fit = huber_fit(x, y, w, flat)
    clusters = np.repeat(np.arange(len(spans)), [len(ix) for ix in spans])
    covariance = _clustered(x, w * fit.robust_weights, fit.residuals, clusters, fit.covariance)
    return tuple(_estimate(fit.beta[j], covariance[j, j], x[:, j]) for j in (0, 1))  # type: ignore[return-value]


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` by element-wise products and NumPy sums (no BLAS: bit-identical on any
    machine and thread count, as the rest of the engine's linear algebra)."""
    return np.asarray((a[:, :, None] * b[None, :, :]).sum(axis=1))


def _clustered(
    x: np.ndarray, w: np.ndarray, e: np.ndarray, clusters: np.ndarray, fallback: np.ndarray
) -> np.ndarray:
    """Cluster-robust (sandwich) covariance ``B·(Σ_g s_g s_gᵀ)·B·G/(G-1)``, ``s_g = X_gᵀW_g e_g``,
    ``B = (XᵀWX)⁻¹`` (Liang & Zeger 1986; Cameron & Miller 2015): a rate card's repeated
    snapshots are one piece of evidence, not many. The model-based covariance where the
    cluster count is too small (G < 2) or the bread is singular."""
    groups = int(clusters.max()) + 1 if len(clusters) else 0
    live = np.flatnonzero(np.any(x != 0.0, axis=0))
    if groups < 2 or len(live) == 0:
        return fallback
    xl = x[:, live]
    gram = (xl[:, :, None] * xl[:, None, :] * w[:, None, None]).sum(axis=0)
    lower, alive = cholesky(gram)
    if not alive.all():
        return fallback
    bread = cholesky_solve(lower, alive, np.eye(len(live)))
    scores = np.zeros((groups, len(live)))
    np.add.at(scores, clusters, xl * (w * e)[:, None])
    meat = (scores[:, :, None] * scores[:, None, :]).sum(axis=0)
    out = np.zeros_like(fallback)
    out[np.ix_(live, live)] = _product(_product(bread, meat), bread) * groups / (groups - 1)
    return out


#: Floor on a card trend's standard error as evidence of the decline a unit's rent will see:
#: list cards are sticky and sellers discount off them as a model ages, so however precisely a
#: list trend is measured, it says this much less about realised rents (10% a year).
TREND_SE_FLOOR = 0.10


def _estimate(beta: float, variance: float, column: np.ndarray) -> Estimate:
    if not np.any(column != 0.0) or not math.isfinite(variance):
        return _NONE
    return Estimate(-float(beta), max(math.sqrt(max(float(variance), 0.0)), TREND_SE_FLOOR))


def posterior(prior: float, prior_sd: float, *evidence: Estimate) -> float:
    """Precision-weighted mean ``Σ(x/s²) / Σ(1/s²)`` of the prior and the data estimates
    (normal-normal shrinkage: thin data leaves the prior in charge)."""
    pairs = [(prior, prior_sd), *((e.value, e.se) for e in evidence if math.isfinite(e.se))]
    weights = [1.0 / (s * s) for _, s in pairs]
    return sum(x * w for (x, _), w in zip(pairs, weights, strict=True)) / sum(weights)


@dataclass(frozen=True, slots=True)
class DeclineInputs:
    """The data's decline estimates per regime (False: frontier, True: behind): within-card
    trends of list prices (standard errors clustered by card), the term structure's implied
    decline, and the used-sale age profile."""

    trend: dict[bool, Estimate]
    term: dict[bool, Estimate]
    sales: dict[bool, Estimate]


@dataclass(frozen=True, slots=True)
class Declines:
    """Expected decline per year of the rents a unit earns, per regime: the precision-weighted
    mean of the regime's prior and its trend, term-structure and sale-profile evidence
    (normal-normal shrinkage), the two regimes estimated separately."""

    frontier: float
    behind: float
    inputs: DeclineInputs

    def rate(self, behind: bool) -> float:
        return self.behind if behind else self.frontier


def combine_declines(
    inputs: DeclineInputs, prior_frontier: float, prior_behind: float, prior_sd: float
) -> Declines:
    """Posterior declines per regime from ``inputs`` and the priors (see :class:`Declines`)."""
    rates = {}
    for behind, prior in ((False, prior_frontier), (True, prior_behind)):
        evidence = (inputs.trend[behind], inputs.term[behind], inputs.sales[behind])
        rates[behind] = posterior(prior, prior_sd, *evidence)
    return Declines(rates[False], rates[True], inputs)
