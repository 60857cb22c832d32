"""The robust fits converge: on the shipped data at three evidence dates, and on a small data
set with known coefficients and gross outliers (which the Huber fit resists and least squares
does not).

Convergence is checked twice: by what the fit reports (flag, last coefficient change, count)
and independently, by a dense Newton step on the penalised Huber objective from the returned
coefficients at the returned (fixed) scale, which must be below the tolerance: the returned
coefficients are its minimum, not a point on the way there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pytest

import service.engine.decline as decline
import service.engine.prior as prior
import service.engine.robust as robust
import service.engine.sales as sales
from service.engine import calibrate
from service.engine.robust import HUBER_C, Prior, huber_fit, huber_point_fit
from service.reference import FRONTIER, fx, models, observations

TOLERANCE = 1e-8
#: The cap on iterations per Huber stage (the default of ``huber_fit``): a guard only.
CAP = 100
DATES = (date(2024, 6, 1), date(2025, 6, 1), date(2026, 6, 30))
#: The rows of the synthetic data set moved up by 2 to 4 (log units): gross outliers.
OUTLIERS = np.array([50, 53, 55, 57, 59])

Array = np.ndarray[Any, np.dtype[np.float64]]


def _newton_step(x: Array, y: Array, w: Array, prior: Prior, beta: Array, scale: float) -> Array:
    """The Newton step ``H⁻¹·(-∇F)`` of the penalised Huber objective at ``beta`` (dense
    NumPy/LAPACK, independent of the engine's solver): zero at the minimum."""
    finite = np.isfinite(prior.sd)
    precision = np.where(finite, 1.0 / np.where(finite, prior.sd, 1.0) ** 2, 0.0)
    d = prior.difference
    penalty = np.diag(precision) + d.T @ d / prior.smooth_sd**2
    target = precision * np.where(finite, prior.mean, 0.0)
    k = HUBER_C * scale
    e = y - x @ beta
    gradient = x.T @ (w * np.clip(e, -k, k)) + scale**2 * (target - penalty @ beta)
    hessian = (x.T * (w * (np.abs(e) <= k))) @ x + scale**2 * penalty
    return np.asarray(np.linalg.solve(hessian, gradient), dtype=np.float64)


Captured = list[tuple[str, tuple[Any, ...], Any]]


def _recording(name: str, fit: Callable[..., Any], log: Captured) -> Callable[..., Any]:
    def recorded(*args: Any, **kwargs: Any) -> Any:
        result = fit(*args, **kwargs)
        log.append((name, args, result))
        return result

    return recorded


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_cross_section_sale_and_trend_fits_converge_on_the_shipped_data(
    as_of: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    log: Captured = []
    monkeypatch.setattr(prior, "huber_fit", _recording("cross", huber_fit, log))
    monkeypatch.setattr(sales, "huber_fit", _recording("sale", huber_fit, log))
    monkeypatch.setattr(decline, "huber_fit", _recording("trend", huber_fit, log))
    calibrate(models(), observations(), fx(), FRONTIER, as_of=as_of)
    assert {name for name, _, _ in log} == {"cross", "sale", "trend"}
    for name, (x, y, w, prior_), fit in log:
        assert fit.converged, (name, fit.iterations, fit.last_step)
        assert fit.last_step < TOLERANCE, name
        assert 0 < fit.iterations < CAP, name  # both stages together, well within one's cap
        step = _newton_step(x, y, w, prior_, fit.beta, fit.scale)
        assert np.max(np.abs(step)) < TOLERANCE, (name, float(np.max(np.abs(step))))
        floor = {"cross": prior.TAU_FLOOR, "sale": 0.03, "trend": 0.0}[name]
        assert fit.scale >= floor  # the cross-section and sale floors hold


def _line_with_outliers(noise: float) -> tuple[Array, Array, Array, Array, Prior]:
    """60 points on ``y = 1 + 0.5·x₁ - 0.3·x₂`` (x₂ a 0/1 flag) plus noise, 5 of them moved
    up by 2 to 4 (gross outliers, at the high-x end where they pull a least-squares slope)."""
    rng = np.random.default_rng(20260630)
    n = 60
    x = np.column_stack([np.ones(n), np.linspace(-2.0, 2.0, n), (np.arange(n) % 3 == 0) * 1.0])
    truth = np.array([1.0, 0.5, -0.3])
    y = x @ truth + noise * rng.standard_normal(n)
    y[OUTLIERS] += np.array([2.0, 3.0, 4.0, 2.5, 3.5])
    weights = rng.uniform(0.5, 1.5, n)
    flat = Prior(np.zeros(3), np.full(3, math.inf), np.zeros((0, 3)), 1.0)
    return x, y, weights, truth, flat


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_known_coefficients_are_recovered_despite_gross_outliers(noise: float) -> None:
    """The Huber fit converges (a Newton step at its answer is below the tolerance) and stays
    within 0.05 of the truth, its outliers down-weighted; least squares is pulled away by
    more than five times as much (0.3 in the slope). A Huber fit with σ > 0 is not exactly
    unbiased under one-sided outliers: each still pulls with force c·σ."""
    x, y, w, truth, prior = _line_with_outliers(noise)
    fit = huber_point_fit(x, y, w, prior)
    assert fit.converged and fit.last_step < TOLERANCE and fit.iterations < CAP
    step = _newton_step(x, y, w, prior, fit.beta, fit.scale)
    assert np.max(np.abs(step)) < TOLERANCE
    huber_error = float(np.max(np.abs(fit.beta - truth)))
    least_squares = np.linalg.lstsq(x * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
    assert huber_error < 0.05
    assert float(np.max(np.abs(least_squares - truth))) > 5 * huber_error
    assert np.all(fit.robust_weights[OUTLIERS] < 0.15)
    assert fit.scale < 0.2  # the robust scale reflects the inliers, not the outliers (2 to 4)


def test_the_iteration_cap_is_reported_when_reached() -> None:
    """A cap of one iteration per stage stops short of the tolerance and says so."""
    x, y, w, _, prior = _line_with_outliers(noise=0.05)
    fit = huber_point_fit(x, y, w, prior, iterations=1)
    assert not fit.converged and fit.iterations == 2


def test_the_objective_is_at_its_minimum() -> None:
    """No coordinate perturbation of the answer lowers the penalised objective."""
    x, y, w, _, prior = _line_with_outliers(noise=0.05)
    fit = huber_point_fit(x, y, w, prior)
    problem = robust._setup(x, y, w, prior)
    best = problem.objective(fit.beta, fit.scale)
    for j in range(x.shape[1]):
        for delta in (-1e-4, 1e-4):
            moved = fit.beta.copy()
            moved[j] += delta
            assert problem.objective(moved, fit.scale) > best
