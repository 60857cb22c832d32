"""The hedonic cross-section: the prior level of a model from its specifications (Rosen 1974;
Triplett 2006, *Handbook on Hedonic Indexes*, OECD), fitted at one date over the filtered market
levels of the models that trade.

    level_m = β0 + β1·log(effective TFLOPS) + β2·log(memory) + β3·log(bandwidth)
              + β4·pcie + β5·consumer + Σ_transitions δ_p·behind_p + u_m,   u_m ~ N(0, τ²)

Effective TFLOPS is the dense throughput at the fastest format the part supports no newer than
the date's frontier (an A100 at BF16 speed in the FP8 era, an H100 at FP8 speed in the FP4 era).
``behind_p`` is 1 when the frontier has moved to precision ``p`` (FP8, FP4) and the part lacks
it: each transition's effect ``δ_p`` is estimated on its own, with a prior, and reported. A
positive estimate (being behind a premium) would make a what-if that adds the format lower the
price; it is then held at 0 and the unconstrained estimate is reported beside it.

Each model's row is weighted by the precision of its level, ``1/(1 + P_m/τ²)`` (P_m: the filter's
variance), and τ² (the between-model variance the specifications do not explain) is re-estimated
by moments from the fit's robust residual scale: ``τ² = σ̂² - mean(P_m)``, σ̂ the Huber fit's
MAD scale, floored at ``TAU_FLOOR²``. The plain second moment let one outlying model (a V100
renting far above what its specifications predict, residual ≈ +1.0) inflate τ to 0.56 and every
prior-only band with it (leave-one-model-out bands covered 93% instead of 80%).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from service.engine.frontier import Support, effective_tflops, frontier_at
from service.engine.robust import Prior, huber_fit
from service.engine.types import PRECISIONS, FrontierEntry, ModelSpec

__all__ = ["COLUMNS", "TAU_FLOOR", "CrossSection", "Transition", "features", "fit_cross_section"]

#: Centring of the log specifications (an H100-class unit) for numerical conditioning.
_CENTRE = {"tflops": 1000.0, "memory": 80.0, "bandwidth": 3.0}
COLUMNS = (
    "intercept",
    "log_tflops",
    "log_memory",
    "log_bandwidth",
    "pcie",
    "consumer",
    "behind_fp8",
    "behind_fp4",
)
#: Priors (mean, sd). Rent elasticities to throughput, memory and bandwidth are positive and
#: below one (a unit twice as fast rents for less than twice as much: buyers also pay for host,
#: power and software). Being behind a frontier transition is a discount of about a fifth with
#: wide uncertainty (A100 rents are about half of H100 rents for a sixth of the FP8 compute).
_PRIORS: dict[str, tuple[float, float]] = {
    "intercept": (0.0, math.inf),
    "log_tflops": (0.4, 0.2),
    "log_memory": (0.2, 0.2),
    "log_bandwidth": (0.2, 0.2),
    "pcie": (-0.15, 0.2),
    "consumer": (-0.6, 0.4),
    "behind_fp8": (-0.2, 0.3),
    "behind_fp4": (-0.2, 0.3),
}
#: Floor of τ, the log spread of a model's level around its specifications: models with the
#: same specifications list 10-20% apart (A100 PCIe vs SXM 80GB), so a prior never claims more.
TAU_FLOOR = 0.15
_TAU_START = 0.3
_ROUNDS = 3


def _form(spec: ModelSpec) -> str:
    text = spec.form_factor.lower()
    if spec.segment == "consumer" or "consumer" in text:
        return "consumer"
    return "pcie" if "pcie" in text else "sxm"


def features(
    spec: ModelSpec, support: Support, frontier: Sequence[FrontierEntry], on: date
) -> np.ndarray:
    """The design row of ``spec`` (with ``support``'s what-ifs) on ``on``."""
    precision = frontier_at(frontier, on)
    rank = PRECISIONS.index(precision)
    form = _form(spec)
    return np.array(
        [
            1.0,
            math.log(effective_tflops(support, precision) / _CENTRE["tflops"]),
            math.log(spec.memory_gb / _CENTRE["memory"]),
            math.log(spec.memory_bw_tbps / _CENTRE["bandwidth"]),
            float(form == "pcie"),
            float(form == "consumer"),
            float(rank >= 1 and not support.fp8),
            float(rank >= 2 and not support.fp4),
        ]
    )


@dataclass(frozen=True, slots=True)
class Transition:
    """One frontier transition's fitted effect on log rent (``used`` enters the prices)."""

    estimate: float
    se: float
    prior: float
    used: float
    constrained: bool


@dataclass(frozen=True, slots=True)
class CrossSection:
    """The fitted cross-section: coefficients (as used), τ, and per-transition effects."""

    beta: tuple[float, ...]
    tau: float
    transitions: dict[str, Transition]
    models: int

    def level(self, row: np.ndarray) -> float:
        """Prior log level ``x·β`` (summed exactly, independent of BLAS order)."""
        return math.fsum((row * np.asarray(self.beta)).tolist())

    def coefficient(self, name: str) -> float:
        return self.beta[COLUMNS.index(name)]


def _prior() -> Prior:
    means = np.array([m for m, _ in _PRIORS.values()])
    sds = np.array([s for _, s in _PRIORS.values()])
    return Prior(means, sds, np.zeros((0, len(COLUMNS))), 1.0)


def _fallback() -> CrossSection:
    """Prior means with an H100-like intercept of log $2.5 (no model trades yet)."""
    beta = [m for m, _ in _PRIORS.values()]
    beta[0] = math.log(2.5)
    transitions = {
        p: Transition(
            math.nan, math.inf, _PRIORS[f"behind_{p}"][0], _PRIORS[f"behind_{p}"][0], False
        )
        for p in ("fp8", "fp4")
    }
    return CrossSection(tuple(beta), _TAU_START, transitions, 0)


def fit_cross_section(
    rows: Mapping[str, tuple[np.ndarray, float, float]],
) -> CrossSection:
    """Fit on ``{slug: (features, filtered level, filter variance)}``; see the module doc."""
    if len(rows) < 3:
        return _fallback()
    slugs = sorted(rows)
    x = np.vstack([rows[s][0] for s in slugs])
    y = np.array([rows[s][1] for s in slugs])
    variance = np.array([rows[s][2] for s in slugs])
    prior = _prior()
    tau = _TAU_START
    fit = None
    for _ in range(_ROUNDS):
        w = 1.0 / (1.0 + variance / tau**2)
        fit = huber_fit(x, y, w, prior, min_scale=TAU_FLOOR)
        excess = fit.scale**2 - float(np.sum(w * variance) / np.sum(w))
        tau = max(math.sqrt(max(excess, 0.0)), TAU_FLOOR)
    assert fit is not None
    beta = fit.beta.copy()
    transitions = {}
    constrained_any = False
    for p in ("fp8", "fp4"):
        j = COLUMNS.index(f"behind_{p}")
        estimate = float(beta[j])
        se = math.sqrt(max(float(fit.covariance[j, j]), 0.0))
        constrained = estimate > 0.0
        constrained_any |= constrained
        transitions[p] = Transition(
            estimate, se, _PRIORS[f"behind_{p}"][0], min(estimate, 0.0), constrained
        )
    j_tflops = COLUMNS.index("log_tflops")
    if beta[j_tflops] < 0.0:
        beta[j_tflops] = 0.0
        constrained_any = True
    if constrained_any:
        # Refit the other coefficients with the constrained ones held (a tight prior at the bound).
        means = prior.mean.copy()
        sds = prior.sd.copy()
        for p, tr in transitions.items():
            if tr.constrained:
                j = COLUMNS.index(f"behind_{p}")
                means[j], sds[j] = 0.0, 1e-6
        if beta[j_tflops] == 0.0:
            means[j_tflops], sds[j_tflops] = 0.0, 1e-6
        held = Prior(means, sds, prior.difference, prior.smooth_sd)
        w = 1.0 / (1.0 + variance / tau**2)
        beta = huber_fit(x, y, w, held, min_scale=TAU_FLOOR).beta.copy()
    return CrossSection(tuple(float(b) for b in beta), tau, transitions, len(slugs))
