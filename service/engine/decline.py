"""Rent decline rates by regime, estimated from the data and shrunk towards stated priors.

Two kinds of evidence (DESIGN.md 4.5): the trend of each rate card over time (within a
model x provider x term cell, so levels never masquerade as trends), and the term structure
(a lessor quoting both a T1 and a T2 commitment reveals the decline it expects).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from service.engine.income import levelised_rent_factor
from service.engine.robust import Prior, huber_fit
from service.engine.types import FIXED_TERM_YEARS

__all__ = [
    "DeclineEvidence",
    "Estimate",
    "TrendRow",
    "implied_decline",
    "posterior",
    "term_structure",
    "trend",
]

#: Discount rate used to read decline out of quoted term structures (DESIGN.md appendix r).
_TERM_RATE = 0.12


@dataclass(frozen=True, slots=True)
class Estimate:
    """A decline rate per year and its standard error (``inf``: no evidence)."""

    value: float
    se: float


@dataclass(frozen=True, slots=True)
class DeclineEvidence:
    """Data estimates per regime: within-cell trends and term-structure implied rates."""

    trend_frontier: Estimate
    trend_behind: Estimate
    term_frontier: Estimate
    term_behind: Estimate


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
    return tuple(_estimate(fit.beta[j], fit.covariance[j, j], x[:, j]) for j in (0, 1))  # type: ignore[return-value]


def _estimate(beta: float, variance: float, column: np.ndarray) -> Estimate:
    if not np.any(column != 0.0) or not math.isfinite(variance):
        return _NONE
    return Estimate(-float(beta), math.sqrt(max(float(variance), 1e-12)))


def implied_decline(ratio: float, short: float, long: float, rate: float = _TERM_RATE) -> float:
    """λ solving ``lev(r, λ, T2) / lev(r, λ, T1) = q(T2)/q(T1)`` (DESIGN.md 4.8: a fixed rate
    is the levelised expected rent), by bisection on [-0.5, 3]; the ratio falls as λ rises."""
    lo, hi = -0.5, 3.0
    for _ in range(80):
        mid = (lo + hi) / 2
        implied = levelised_rent_factor(rate, mid, long) / levelised_rent_factor(rate, mid, short)
        lo, hi = (mid, hi) if implied > ratio else (lo, mid)
    return (lo + hi) / 2


def term_structure(pairs: Sequence[tuple[str, str, float, bool]]) -> tuple[Estimate, Estimate]:
    """Median implied λ per regime from ``(short_term, long_term, price ratio, behind)`` pairs
    quoted by one provider for one model on one date; se = 1.4826·MAD/√n (at least 0.05)."""
    result = []
    for behind in (False, True):
        rates = [
            implied_decline(ratio, FIXED_TERM_YEARS[a], FIXED_TERM_YEARS[b])
            for a, b, ratio, flag in pairs
            if flag == behind
        ]
        if not rates:
            result.append(_NONE)
            continue
        median = float(np.median(rates))
        mad = float(np.median(np.abs(np.asarray(rates) - median)))
        result.append(Estimate(median, max(1.4826 * mad / math.sqrt(len(rates)), 0.05)))
    return result[0], result[1]


def posterior(prior: float, prior_sd: float, *evidence: Estimate) -> float:
    """Precision-weighted mean ``Σ(x/s²) / Σ(1/s²)`` of the prior and the data estimates
    (normal-normal shrinkage: thin data leaves the prior in charge)."""
    pairs = [(prior, prior_sd), *((e.value, e.se) for e in evidence if math.isfinite(e.se))]
    weights = [1.0 / (s * s) for _, s in pairs]
    return sum(x * w for (x, _), w in zip(pairs, weights, strict=True)) / sum(weights)
