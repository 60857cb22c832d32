"""Penalised robust regression: Huber M-estimation with a fixed robust scale, solved by
iteratively reweighted least squares with Newton steps (see :func:`huber_fit`).

Reproducibility. Every sum here is NumPy element-wise arithmetic added up by ``np.bincount``
(sequentially, in row order) or ``np.sum`` (NumPy's fixed pairwise order), and the linear
systems are solved by a Cholesky factorisation written out in NumPy (:mod:`linalg`). No
BLAS or LAPACK routine is called: their summation order changes with the number of threads
and with the CPU's kernels, which moved answers by up to 1e-11 relative (and by 5e-3 in an
ill-conditioned fit). Same inputs and NumPy version, same bits, on any machine and thread count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from service.engine.linalg import cholesky, cholesky_solve

__all__ = ["Fit", "PointFit", "Prior", "huber_fit", "huber_point_fit"]

Array = NDArray[np.float64]
Index = NDArray[np.intp]
Mask = NDArray[np.bool_]

#: Huber's tuning constant: 95% efficiency under normal errors (Huber 1964; Holland & Welsch 1977).
HUBER_C = 1.345
#: A fit has converged when an iteration moves no coefficient by more than this (coefficients
#: are log-price effects: 1e-8 is a relative price change of 1e-8, far below any quoted digit).
_TOLERANCE = 1e-8


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
    posterior-style covariance ``σ²·(XᵀWX + P)⁻¹`` (zero rows and columns for coefficients
    the data and prior cannot identify, as the pseudo-inverse gives for an all-zero column)."""

    beta: Array
    scale: float
    robust_weights: Array
    residuals: Array
    covariance: Array
    #: Iterations of both Huber stages, whether both met the tolerance within the cap, and
    #: the largest coefficient change of the last iteration.
    iterations: int = 0
    converged: bool = False
    last_step: float = math.inf


@dataclass(frozen=True, slots=True)
class PointFit:
    """A :class:`Fit` without the covariance, for callers that use only the estimate (the
    covariance costs an inverse of the p x p normal matrix)."""

    beta: Array
    scale: float
    robust_weights: Array
    residuals: Array
    iterations: int = 0
    converged: bool = False
    last_step: float = math.inf


class _Rows:
    """The nonzero pattern of a matrix, row by row: each row's nonzero columns in increasing
    order, padded to the longest row with columns where that row is zero.

    ``values`` arrays of shape ``(rows, width)`` hold the entries at those positions (zero at
    the padding). Products over the pattern cost O(rows·width²) instead of O(rows·p²) for a
    dense p-column matrix, and are added up by ``np.bincount`` in row order.
    """

    __slots__ = ("_cells", "_left", "_right", "columns", "shape", "width")

    def __init__(self, pattern: Mask) -> None:
        rows, columns = pattern.shape
        self.shape = (rows, columns)
        self.width = min(max(int(pattern.sum(axis=1).max(initial=0)), 1), columns)
        # Stable: nonzero columns first, in increasing order; then the row's zero columns.
        self.columns: Index = np.argsort(~pattern, axis=1, kind="stable")[:, : self.width]
        # Position pairs (a, b), a <= b, within a row: the real columns of a row increase, so
        # their products land on the upper triangle (padding adds exact zeros elsewhere).
        self._left, self._right = np.triu_indices(self.width)
        self._cells: Index = (
            self.columns[:, self._left] * columns + self.columns[:, self._right]
        ).ravel()

    def gather(self, matrix: Array) -> Array:
        """The entries of ``matrix`` (of this pattern's shape) at the pattern's positions."""
        return np.take_along_axis(matrix, self.columns, axis=1)

    def gram(self, values: Array, w: Array) -> Array:
        """``Σᵣ wᵣ·vᵣvᵣᵀ`` over rows r (``AᵀWA``), symmetric, shape (p, p)."""
        p = self.shape[1]
        scaled = values * w[:, None]
        products = (scaled[:, self._left] * values[:, self._right]).ravel()
        upper = np.bincount(self._cells, weights=products, minlength=p * p).reshape(p, p)
        return np.asarray(upper + np.triu(upper, 1).T, dtype=np.float64)

    def rhs(self, values: Array, w: Array, y: Array) -> Array:
        """``Σᵣ wᵣ·yᵣ·vᵣ`` (``AᵀWy``), shape (p,)."""
        terms = (values * (w * y)[:, None]).ravel()
        return np.asarray(np.bincount(self.columns.ravel(), terms, self.shape[1]), np.float64)

    def dot(self, values: Array, beta: Array) -> Array:
        """``Aβ``, shape (rows,)."""
        return np.asarray((values * beta[self.columns]).sum(axis=1), dtype=np.float64)


class _Solver:
    """Solves the penalised normal equations ``(XᵀWX + σ²P)·β = XᵀWy + σ²Pm`` of one fit.

    Columns that never meet in a row or in the penalty (a rate card's or a seller series'
    effect: one per observation) have a diagonal block D. They are eliminated first (the
    mixed-model equations with one random factor "absorbed", Henderson 1984, ch. 5): with
    ``[[A, B], [Bᵀ, D]]`` the Schur complement ``S = A - B·D⁻¹·Bᵀ`` is Cholesky-factorised
    (:func:`_cholesky`), ``β_A = S⁻¹·(r_A - B·D⁻¹·r_D)`` and ``β_D = D⁻¹·(r_D - Bᵀ·β_A)``.
    Exact algebra, so the same solution as a dense solve up to rounding, at the cost of a
    dense factorisation of the small block A only. The split follows the sparsity pattern of
    X and P, which the weights cannot change, so it is fixed for the whole fit.
    """

    __slots__ = ("_absorbed", "_cross", "_kept")

    def __init__(self, pattern: Mask) -> None:
        p = pattern.shape[0]
        absorbed: list[int] = []
        taken = np.zeros(p, dtype=bool)
        for j in range(p - 1, -1, -1):  # greedily from the last column (the nested effects)
            others = pattern[j].copy()
            others[j] = False
            if not np.any(others & taken):
                taken[j] = True
                absorbed.append(j)
        self._absorbed: Index = np.asarray(sorted(absorbed), dtype=np.intp)
        self._kept: Index = np.flatnonzero(~taken)
        self._cross = _Rows(pattern[np.ix_(self._absorbed, self._kept)])

    def solve(self, lhs: Array, rhs: Array) -> Array:
        absorbed, kept = self._absorbed, self._kept
        d = lhs[absorbed, absorbed]
        # A zero diagonal is an all-zero, unpenalised column: unidentified, coefficient zero.
        inverse_d = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0.0)
        cross = self._cross.gather(lhs[np.ix_(absorbed, kept)])  # Bᵀ on its pattern
        schur = lhs[np.ix_(kept, kept)] - self._cross.gram(cross, inverse_d)
        reduced = rhs[kept] - self._cross.rhs(cross, inverse_d, rhs[absorbed])
        beta = np.zeros(lhs.shape[0])
        beta[kept] = cholesky_solve(*cholesky(schur), reduced)
        beta[absorbed] = inverse_d * (rhs[absorbed] - self._cross.dot(cross, beta[kept]))
        return beta


def _mad_scale(residuals: Array, weights: Array, floor: float) -> float:
    """Weighted median absolute deviation / 0.6745 (consistent for normal errors), >= floor.
    A stable sort, so tied residuals are accumulated in one defined order."""
    magnitude = np.abs(residuals)
    order = np.argsort(magnitude, kind="stable")
    cum = np.cumsum(weights[order])
    median_abs = float(magnitude[order][np.searchsorted(cum, cum[-1] / 2.0)])
    return max(median_abs / 0.6745, floor)


def _penalty(prior: Prior, columns: int) -> tuple[Array, Array]:
    """``(P, P·m)``: the prior precision matrix (diagonal plus smoothing) and its target."""
    finite = np.isfinite(prior.sd)
    precision = np.zeros(columns)
    precision[finite] = 1.0 / prior.sd[finite] ** 2
    rows = _Rows(prior.difference != 0.0)
    difference = rows.gather(prior.difference)
    smooth = rows.gram(difference, np.ones(prior.difference.shape[0])) / prior.smooth_sd**2
    penalty = np.diag(precision) + smooth
    target = precision * np.where(finite, prior.mean, 0.0)
    return penalty, target


@dataclass(frozen=True, slots=True)
class _Problem:
    """One fit's data: design pattern and values, response, weights, penalty, solver."""

    design: _Rows
    values: Array
    y: Array
    weights: Array
    penalty: Array
    target: Array
    solver: _Solver

    def residuals(self, beta: Array) -> Array:
        return self.y - self.design.dot(self.values, beta)

    def objective(self, beta: Array, scale: float) -> float:
        """``F(β; σ) = Σ wᵢ·σ²·ρ_c(eᵢ/σ) + ½·σ²·βᵀPβ - σ²·tᵀβ`` (the penalty up to a constant),
        ``σ²·ρ_c(e/σ) = e²/2`` for ``|e| <= cσ``, ``cσ·|e| - (cσ)²/2`` beyond."""
        e = self.residuals(beta)
        k = HUBER_C * scale
        size = np.abs(e)
        loss = np.where(size <= k, 0.5 * e * e, k * size - 0.5 * k * k)
        quadratic = np.sum(self.penalty * np.multiply.outer(beta, beta))
        prior = 0.5 * quadratic - np.sum(self.target * beta)
        return float(np.sum(self.weights * loss) + scale * scale * prior)

    def least_squares(self, scale: float) -> Array:
        """The penalised least-squares fit (Huber's c = ∞) with the prior at scale σ."""
        scale_sq = scale * scale
        lhs = self.design.gram(self.values, self.weights) + scale_sq * self.penalty
        rhs = self.design.rhs(self.values, self.weights, self.y) + scale_sq * self.target
        return self.solver.solve(lhs, rhs)

    def huber(self, scale: float, beta: Array, iterations: int) -> tuple[Array, int, bool, float]:
        """Minimise ``F(·; σ)`` for a fixed σ from ``beta``: ``(β, iterations, converged, last
        max |Δβ|)``. Each iteration takes the reweighted least-squares (MM) step and then, from
        it, the Newton step on its inlier set, keeping the Newton point if it lowers F.

        * IRLS step: weights ``rᵢ = min(1, cσ/|eᵢ|)``, solve ``(XᵀWRX + σ²P)β' = XᵀWRy + σ²t``.
          ``rᵢ·e²/2`` majorises ``σ²ρ_c(e/σ)`` at ``eᵢ`` (ρ_c(√u) is concave), so
          ``F(β') <= F(β)``: for fixed σ and convex ρ the iteration decreases F monotonically
          and converges to its minimum (Huber 1981, Robust Statistics, §7.8; Holland & Welsch
          1977) -- but only linearly, at a rate near 1 when many residuals are beyond cσ
          (≈0.96 in the rent fit at as_of 2026-06-30).
        * Newton step: F is piecewise quadratic, and on the current inlier set
          ``I = {|eᵢ| <= cσ}`` its minimiser solves
          ``(Xᵀ W 1_I X + σ²P)·δ = Xᵀ W clip(e, ±cσ) + σ²(t - Pβ)``, exactly: once the set is
          right one step lands on the minimum (the finite Newton method for Huber regression,
          Madsen & Nielsen 1990, BIT 30:682-699).

        F never increases, so the iteration cannot cycle; it stops when no coefficient moves
        by ``_TOLERANCE`` or more. ``P·β`` is summed by ``np.sum`` (not BLAS, see above).
        """
        k = HUBER_C * scale
        scale_sq = scale * scale
        design, values, weights, solver = self.design, self.values, self.weights, self.solver
        step = math.inf
        for iteration in range(1, iterations + 1):
            e = self.residuals(beta)
            robust = np.minimum(1.0, k / np.maximum(np.abs(e), 1e-12))
            w = weights * robust
            lhs = design.gram(values, w) + scale_sq * self.penalty
            candidate = solver.solve(lhs, design.rhs(values, w, self.y) + scale_sq * self.target)
            value = self.objective(candidate, scale)
            e = self.residuals(candidate)
            inlier = np.abs(e) <= k
            curvature = design.gram(values, weights * inlier) + scale_sq * self.penalty
            gradient = design.rhs(values, weights, np.clip(e, -k, k)) + scale_sq * (
                self.target - np.sum(self.penalty * candidate, axis=1)
            )
            newton = candidate + solver.solve(curvature, gradient)
            newton_value = self.objective(newton, scale)
            if newton_value <= value:
                candidate = newton
            step = float(np.max(np.abs(candidate - beta), initial=0.0))
            beta = candidate
            if step < _TOLERANCE:
                return beta, iteration, True, step
        return beta, iterations, False, step


def _irls(
    problem: _Problem, min_scale: float, iterations: int
) -> tuple[Array, float, Array, int, bool, float]:
    """The fit of :func:`huber_fit`: ``(β, σ, robust weights, iterations, converged, last
    max |Δβ|)``; ``iterations`` caps each Huber stage."""
    beta = problem.least_squares(min_scale)
    preliminary_scale = _mad_scale(problem.residuals(beta), problem.weights, min_scale)
    beta, first, first_done, _ = problem.huber(preliminary_scale, beta, iterations)
    scale = _mad_scale(problem.residuals(beta), problem.weights, min_scale)
    beta, second, second_done, step = problem.huber(scale, beta, iterations)
    e = problem.residuals(beta)
    robust = np.asarray(
        np.minimum(1.0, HUBER_C * scale / np.maximum(np.abs(e), 1e-12)), dtype=np.float64
    )
    return beta, scale, robust, first + second, first_done and second_done, step


def _setup(x: Array, y: Array, weights: Array, prior: Prior) -> _Problem:
    """The design's pattern and values, the penalty, and the solver for its sparsity."""
    design = _Rows(x != 0.0)
    values = design.gather(x)
    penalty, target = _penalty(prior, x.shape[1])
    structure = design.gram(design.gather((x != 0.0) * 1.0), np.ones(x.shape[0])) != 0.0
    solver = _Solver(structure | (penalty != 0.0))
    return _Problem(design, values, y, weights, penalty, target, solver)


def huber_fit(
    x: Array,
    y: Array,
    weights: Array,
    prior: Prior,
    *,
    min_scale: float = 1e-6,
    iterations: int = 100,
) -> Fit:
    """Minimise ``F(β; σ) = Σ wᵢ·σ²·ρ_c(eᵢ/σ) + ½·σ²·[(β-m)ᵀ diag(1/sd²) (β-m) + |Dβ|²/s²]``
    (``eᵢ = yᵢ - xᵢβ``) for a robust scale σ fixed beforehand.

    Huber's ρ (quadratic within c·σ, linear beyond): a robust MAP estimate under Gaussian
    priors, i.e. ridge towards prior means, which is the credibility (BLUP) estimator for
    random effects (Robinson 1991).

    The scale is estimated once, from a preliminary robust fit, and then held fixed (Holland &
    Welsch 1977, Communications in Statistics A6:813-827; Huber 1981, Robust Statistics §7.8):
    with σ fixed, F is convex in β and its minimum is found by a monotone iteration
    (:meth:`_Problem.huber`). Steps, each a weighted MAD / 0.6745 floored at ``min_scale``:

    1. β₀: the penalised least-squares fit (c = ∞) with the prior at σ = ``min_scale``;
       σ₀ = MAD(y - Xβ₀).
    2. β₁: the Huber fit at σ₀ (from β₀); σ = MAD(y - Xβ₁), held fixed from here on.
    3. β: the Huber fit at σ (from β₁), the estimate.

    The former scheme re-estimated σ by MAD at every reweighting step. A weighted MAD is a
    weighted median, which jumps as residuals change order, so "σ = MAD of the Huber fit at σ"
    can have several solutions (at as_of 2025-06-01 the sale fit has three, σ ≈ 0.068, 0.080
    and 0.090) and the joint iteration landed on one by its path; it also stopped at its cap
    of 30 steps with coefficients still moving by up to 1e-3 per step. Now each stage is a
    convex minimisation, its answer unique, reached to max |Δβ| < 1e-8; the scale does not
    change in the final stage (relative change 0). ``iterations`` caps each stage as a guard
    only: the shipped data's fits take at most about 20 per stage. ``converged`` reports
    whether both stages met the tolerance.
    """
    problem = _setup(x, y, weights, prior)
    beta, scale, robust, count, converged, step = _irls(problem, min_scale, iterations)
    lhs = problem.design.gram(problem.values, weights * robust) + scale * scale * problem.penalty
    lower, live = cholesky(lhs)
    covariance = scale * scale * cholesky_solve(lower, live, np.eye(lhs.shape[0]))
    residuals = problem.residuals(beta)
    return Fit(beta, scale, robust, residuals, covariance, count, converged, step)


def huber_point_fit(
    x: Array,
    y: Array,
    weights: Array,
    prior: Prior,
    *,
    min_scale: float = 1e-6,
    iterations: int = 100,
) -> PointFit:
    """:func:`huber_fit` without the covariance: the same estimate by the same arithmetic."""
    problem = _setup(x, y, weights, prior)
    beta, scale, robust, count, converged, step = _irls(problem, min_scale, iterations)
    return PointFit(beta, scale, robust, problem.residuals(beta), count, converged, step)
