"""Penalised robust regression: Huber M-estimation by iteratively reweighted least squares."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Fit", "PointFit", "Prior", "huber_fit", "huber_point_fit"]

Array = NDArray[np.float64]

#: Huber's tuning constant: 95% efficiency under normal errors (Huber 1964; Holland & Welsch 1977).
HUBER_C = 1.345


@dataclass(frozen=True, slots=True)
class Prior:
    """Gaussian prior ``β ~ N(mean, sd²)`` per column (sd = inf: flat) and a smoothing penalty
    ``Σ (D·β)² / smooth_sd²`` (D: a difference matrix, e.g. second differences of a spline)."""

    mean: Array
    sd: Array
    difference: Array
    smooth_sd: float


@dataclass(frozen=True, slots=True)
class Fit:
    """Coefficients, robust residual scale, final robustness weights, residuals, and the
    posterior-style covariance ``σ²·(XᵀWX + P)⁻¹``."""

    beta: Array
    scale: float
    robust_weights: Array
    residuals: Array
    covariance: Array


@dataclass(frozen=True, slots=True)
class PointFit:
    """A :class:`Fit` without the covariance, for callers that use only the estimate (the
    covariance costs a pseudo-inverse, i.e. an SVD, of the p x p normal matrix)."""

    beta: Array
    scale: float
    robust_weights: Array
    residuals: Array


def _mad_scale(residuals: Array, weights: Array, floor: float) -> float:
    """Weighted median absolute deviation / 0.6745 (consistent for normal errors), >= floor."""
    order = np.argsort(np.abs(residuals))
    cum = np.cumsum(weights[order])
    median_abs = float(np.abs(residuals)[order][np.searchsorted(cum, cum[-1] / 2.0)])
    return max(median_abs / 0.6745, floor)


def _penalty(prior: Prior, columns: int) -> tuple[Array, Array]:
    """``(P, P·m)``: the prior precision matrix (diagonal plus smoothing) and its target."""
    finite = np.isfinite(prior.sd)
    precision = np.zeros(columns)
    precision[finite] = 1.0 / prior.sd[finite] ** 2
    smooth = prior.difference.T @ prior.difference / prior.smooth_sd**2
    penalty = np.diag(precision) + smooth
    target = precision * np.where(finite, prior.mean, 0.0)
    return penalty, target


def _normal(x: Array, w: Array, y: Array) -> tuple[Array, Array]:
    """``(XᵀWX, XᵀWy)`` sharing one ``Xᵀ·W``.

    Deliberately dense BLAS: a sparse accumulation would be faster for one-hot designs but sums
    in another order, and the sale model can sit at its scale floor where the normal matrix is
    near-singular (condition ~1e14) and amplifies rounding differences to ~1e-4 in its output.
    """
    xtw = x.T * w
    return np.asarray(xtw @ x, dtype=np.float64), np.asarray(xtw @ y, dtype=np.float64)


def _irls(
    x: Array,
    y: Array,
    weights: Array,
    penalty: Array,
    target: Array,
    min_scale: float,
    iterations: int,
) -> tuple[Array, float, Array]:
    """The IRLS loop of :func:`huber_fit`: ``(β, σ, robust weights)``."""
    robust: Array = np.ones_like(y)
    beta: Array = np.zeros(x.shape[1])
    scale = 1.0
    for _ in range(iterations):
        w = weights * robust
        scale_sq = scale * scale
        gram, xtwy = _normal(x, w, y)
        lhs = gram + scale_sq * penalty
        rhs = xtwy + scale_sq * target
        new_beta: Array = np.asarray(_solve(lhs, rhs), dtype=np.float64)
        residuals = y - x @ new_beta
        scale = _mad_scale(residuals, weights, min_scale)
        robust = np.asarray(
            np.minimum(1.0, HUBER_C * scale / np.maximum(np.abs(residuals), 1e-12)),
            dtype=np.float64,
        )
        converged = bool(np.max(np.abs(new_beta - beta)) < 1e-7)
        beta = new_beta
        if converged:
            break
    return beta, scale, robust


def huber_fit(
    x: Array,
    y: Array,
    weights: Array,
    prior: Prior,
    *,
    min_scale: float = 1e-6,
    iterations: int = 30,
) -> Fit:
    """Minimise ``Σ wᵢ·ρ_c(eᵢ/σ)·σ² + ½·σ²·[(β-m)ᵀ diag(1/sd²) (β-m) + |Dβ|²/s²]``.

    Huber's ρ (quadratic within c·σ, linear beyond) with σ re-estimated by weighted MAD each
    step (never below ``min_scale``, so exact repeats cannot switch the priors off): a robust
    MAP estimate under Gaussian priors, i.e. ridge towards prior means, which
    is the credibility (BLUP) estimator for random effects (Robinson 1991).
    """
    penalty, target = _penalty(prior, x.shape[1])
    beta, scale, robust = _irls(x, y, weights, penalty, target, min_scale, iterations)
    lhs = _normal(x, weights * robust, y)[0] + scale * scale * penalty
    covariance = np.asarray(scale * scale * np.linalg.pinv(lhs), dtype=np.float64)
    return Fit(beta, scale, robust, y - x @ beta, covariance)


def huber_point_fit(
    x: Array,
    y: Array,
    weights: Array,
    prior: Prior,
    *,
    min_scale: float = 1e-6,
    iterations: int = 30,
) -> PointFit:
    """:func:`huber_fit` without the covariance: the same estimate by the same arithmetic."""
    penalty, target = _penalty(prior, x.shape[1])
    beta, scale, robust = _irls(x, y, weights, penalty, target, min_scale, iterations)
    return PointFit(beta, scale, robust, y - x @ beta)


def _solve(lhs: Array, rhs: Array) -> Array:
    """``lhs⁻¹·rhs``; where the data cannot identify a coefficient (e.g. no model is behind the
    frontier yet, so that column is all zeros and unpenalised), the minimum-norm solution
    (Moore-Penrose; Golub & Van Loan, Matrix Computations, 5.5) sets it to zero."""
    try:
        return np.asarray(np.linalg.solve(lhs, rhs), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.lstsq(lhs, rhs, rcond=None)[0], dtype=np.float64)
