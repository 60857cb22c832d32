"""Same inputs, same answer: calibration, quotes and residuals do not depend on the number of
BLAS threads or on the machine (finance users reconcile figures across machines and over time).

The engine runs in subprocesses (BLAS reads these settings when NumPy loads it, so they cannot
change in-process): with one BLAS/OpenMP thread, with two, and with one thread on another CPU
kernel set (``OPENBLAS_CORETYPE``: what another machine would run; ignored by other BLAS
builds). Every number of the answers at three evidence dates is compared.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from service.engine.robust import Prior, huber_fit, huber_point_fit

ROOT = Path(__file__).resolve().parents[2]
#: Relative tolerance of the comparison (the implementation aims at bit-identical output).
TOLERANCE = 1e-12

SCRIPT = """
import json, sys
from datetime import date
from service.engine import QUOTE_TERMS, calibrate, quote, residual
from service.reference import FRONTIER, fx, models, observations

specs, obs, rates = models(), observations(), fx()
out = {}
for as_of in (date(2024, 6, 1), date(2025, 6, 1), date(2026, 6, 30)):
    cal = calibrate(specs, obs, rates, FRONTIER, as_of=as_of)
    sales = cal.sales
    answer = {
        "fingerprint": cal.fingerprint,
        "cross_beta": list(cal.cross_section.beta),
        "cross_tau": cal.cross_section.tau,
        "levels": {k: [v.log_level, v.variance] for k, v in cal.levels.items()},
        "sale_beta": sales.beta.tolist() if sales else None,
        "sale_scale": sales.scale if sales else None,
        "capacity": cal.capacity.own,
        "declines": [cal.declines.frontier, cal.declines.behind],
        "trend": [[e.value, e.se] for e in cal.declines.inputs.trend.values()],
    }
    for spec in (s for s in specs if s.release_date <= as_of):
        r = residual(cal, spec, as_of=as_of)
        a = r.approaches
        answer["residual:" + spec.slug] = [
            r.value_per_gpu, r.low, r.high, a.income, a.market, a.cost, a.market_weight,
            r.inputs_digest,
        ]
        for term in QUOTE_TERMS:
            q = quote(cal, spec, term=term, as_of=as_of)
            answer["quote:" + spec.slug + ":" + term] = [q.rate_per_gpu_hour, q.low, q.high]
    out[as_of.isoformat()] = answer
json.dump(out, sys.stdout)
"""


#: (threads, OpenBLAS core type or None for the machine's own).
SETTINGS = ((1, None), (2, None), (1, "Prescott"))


def _run(setting: tuple[int, str | None]) -> dict[str, Any]:
    threads, core = setting
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    env.pop("OPENBLAS_CORETYPE", None)
    if core is not None:
        env["OPENBLAS_CORETYPE"] = core
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _leaves(value: object, path: str = "") -> dict[str, object]:
    """Flatten nested dicts and lists into ``{path: scalar}``."""
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in _leaves(item, f"{path}/{key}").items()
        }
    if isinstance(value, list):
        return {
            k: v for i, item in enumerate(value) for k, v in _leaves(item, f"{path}[{i}]").items()
        }
    return {path: value}


def _differs(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return not math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=0.0)
    return a != b


def test_answers_do_not_depend_on_blas_threads_or_kernels() -> None:
    with ThreadPoolExecutor(max_workers=len(SETTINGS)) as pool:
        reference, *others = (_leaves(r) for r in pool.map(_run, SETTINGS))
    assert sum(isinstance(v, float) for v in reference.values()) > 1000
    for setting, other in zip(SETTINGS[1:], others, strict=True):
        assert other.keys() == reference.keys()
        differing = {k: (reference[k], other[k]) for k in other if _differs(reference[k], other[k])}
        assert not differing, (
            f"threads, core={setting}: {len(differing)} values differ from one thread, e.g. "
            f"{sorted(differing.items())[:5]}"
        )


def _nested_problem(seed: int) -> tuple[Any, Any, Any, Prior]:
    """A design like the rent model's: a flat intercept and slope, group effects, and nested
    subgroup effects (one per row, as rate cards), with Gaussian priors on the effects."""
    rng = np.random.default_rng(seed)
    rows, groups, subgroups = 300, 6, 40
    sub = rng.integers(0, subgroups, rows)
    x = np.zeros((rows, 2 + groups + subgroups))
    x[:, 0] = 1.0
    x[:, 1] = rng.normal(size=rows)
    x[np.arange(rows), 2 + sub % groups] = 1.0
    x[np.arange(rows), 2 + groups + sub] = 1.0
    y = x @ rng.normal(scale=0.3, size=x.shape[1]) + rng.normal(scale=0.05, size=rows)
    sd = np.r_[np.inf, np.inf, np.full(groups, 0.3), np.full(subgroups, 0.2)]
    prior = Prior(np.zeros(x.shape[1]), sd, np.zeros((0, x.shape[1])), 1.0)
    return x, y, rng.uniform(0.5, 1.5, rows), prior


def test_the_solver_agrees_with_a_dense_lapack_solve() -> None:
    """With a scale floor far above the residuals, Huber weights are all one and σ is the
    floor from the second step on: the fit is the penalised least-squares solution."""
    x, y, w, prior = _nested_problem(7)
    scale = 10.0
    fit = huber_point_fit(x, y, w, prior, min_scale=scale)
    precision = np.where(np.isfinite(prior.sd), 1.0 / prior.sd**2, 0.0)
    lhs = (x.T * w) @ x + scale**2 * np.diag(precision)
    expected = np.linalg.solve(lhs, (x.T * w) @ y)
    assert np.allclose(fit.beta, expected, rtol=1e-10, atol=1e-12)


def test_an_unidentified_column_gets_zero_coefficient_and_variance() -> None:
    """An all-zero, unpenalised column: the minimum-norm solution, as a pseudo-inverse gives."""
    x, y, w, prior = _nested_problem(11)
    wide = np.insert(x, 1, 0.0, axis=1)
    prior_wide = Prior(
        np.insert(prior.mean, 1, 0.0), np.insert(prior.sd, 1, np.inf), np.zeros((0, 49)), 1.0
    )
    fit, reference = huber_fit(wide, y, w, prior_wide), huber_fit(x, y, w, prior)
    assert fit.beta[1] == 0.0
    assert not fit.covariance[1].any() and not fit.covariance[:, 1].any()
    assert np.allclose(np.delete(fit.beta, 1), reference.beta, rtol=1e-12, atol=1e-14)
    narrow = np.delete(np.delete(fit.covariance, 1, axis=0), 1, axis=1)
    assert np.allclose(narrow, reference.covariance, rtol=1e-9, atol=1e-15)
