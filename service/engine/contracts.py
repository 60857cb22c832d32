"""Term structure from observed contracts: fixed-term and spot rates against the same seller's
on-demand rate on the same date (docs/method.md, term structure).

A committed rate for T years is the level rent equivalent of the expected contract-level rent
``ψ·R(τ)``, ``R(τ) = R0·e^(-λτ)`` (R0: on-demand), over the term:

    q(T) / R0 = ψ · lev(r, λ, T),    lev(r, λ, T) = [(1 - e^(-(r+λ)T))/(r+λ)] / [(1 - e^(-rT))/r]

(the levelised rent factor of the income approach). Pairs quoted by one seller on one date
identify ψ (the contract level relative to on-demand) and, with two or more terms, λ (the
decline the market prices in): that is the term structure's evidence of decline. The pairs are
pooled by regime (at or behind the frontier on the pair's date); a model's own pairs move its ψ
by credibility ``n/(n + k)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from service.engine.income import levelised_rent_factor
from service.engine.panel import group_median
from service.engine.types import FIXED_TERM_YEARS

__all__ = [
    "CONTRACT_RATE",
    "Contracts",
    "Pair",
    "RegimeTerms",
    "fit_contracts",
    "fit_spot",
    "implied_psi",
]

#: Discount rate at which the market's term structure is read (the income approach's default).
CONTRACT_RATE = 0.12
#: Pseudo-count of pairs pulling a model's own contract level towards its regime's.
_MODEL_PSEUDO_PAIRS = 5.0
#: Prior contract level relative to on-demand where a regime has no pairs at all: committed
#: capacity lists about 10-25% below on-demand on public cards (the shipped six-month and
#: multi-year cards); 0.85 is the middle of that range (an assumption).
PRIOR_LOG_PSI = math.log(0.85)
_GRID = np.round(np.arange(-0.30, 1.5001, 0.005), 3)


@dataclass(frozen=True, slots=True)
class Pair:
    """``log(q_term / q_on_demand)`` of one seller, model and date, with its regime."""

    model: str
    cluster: str  # the seller's card (model x seller): repeated snapshots are one cluster
    term: str
    behind: bool
    log_ratio: float
    weight: float


@dataclass(frozen=True, slots=True)
class RegimeTerms:
    """One regime's contract level ψ (log), the decline λ its term structure implies (with a
    cluster-based standard error, inf without two terms), and the pairs behind them."""

    log_psi: float
    decline: float
    decline_se: float
    pairs: int
    clusters: int


@dataclass(frozen=True, slots=True)
class Contracts:
    """Term structure per regime (False: at the frontier, True: behind), per-model offsets of
    log ψ, and spot factors (log) per regime and per model."""

    regimes: dict[bool, RegimeTerms]
    model_offsets: dict[str, float]
    spot: dict[bool, float]
    spot_offsets: dict[str, float]
    #: Per regime and fixed term with at least ``MIN_TERM_PAIRS`` pairs: the weighted median
    #: same-seller log ratio to on-demand (the term factor as observed).
    observed: dict[bool, dict[str, float]] = field(default_factory=dict)
    #: Per model: its pairs' median log deviation from its regime's observed factors, shrunk.
    term_offsets: dict[str, float] = field(default_factory=dict)

    def log_factor(self, model: str, behind: bool, term: str) -> tuple[float, str]:
        """Log term factor of a fixed ``term``: the regime's observed factor (else the other
        regime's), interpolated linearly in term length between observed terms and from 0 at
        T = 0 (a commitment of no length is on-demand), flat past the longest; the model's own
        offset added; never above a shorter term's (a commitment never costs more per hour
        than a shorter one of the same seller). Without any observed term, ``ψ·lev(r, λ, T)``."""
        table = self.observed.get(behind) or self.observed.get(not behind)
        if not table:
            regime = self.regimes.get(behind) or self.regimes.get(not behind)
            decline = regime.decline if regime else 0.0
            base = self.log_psi(model, behind) + math.log(
                levelised_rent_factor(CONTRACT_RATE, decline, FIXED_TERM_YEARS[term])
            )
            return min(base, 0.0), "contract_curve"
        points = sorted((FIXED_TERM_YEARS[t], v) for t, v in table.items())
        offset = self.term_offsets.get(model, 0.0)
        best = 0.0
        for t, _ in sorted(FIXED_TERM_YEARS.items(), key=lambda kv: kv[1]):
            value = min(_interpolate(points, FIXED_TERM_YEARS[t]) + offset, 0.0)
            best = min(best, value)
            if t == term:
                return best, "contracts" if term in table else "contracts_interpolated"
        raise ValueError(f"not a fixed term: {term!r}")

    def log_psi(self, model: str, behind: bool) -> float:
        regime = self.regimes.get(behind) or self.regimes.get(not behind)
        base = regime.log_psi if regime else PRIOR_LOG_PSI
        return base + self.model_offsets.get(model, 0.0)

    def log_spot(self, model: str, behind: bool) -> float | None:
        if behind in self.spot:
            base = self.spot[behind]
        elif (not behind) in self.spot:
            base = self.spot[not behind]
        else:
            return None
        return base + self.spot_offsets.get(model, 0.0)


#: Pairs a regime needs for a term before its observed factor is used.
MIN_TERM_PAIRS = 3


def _interpolate(points: Sequence[tuple[float, float]], years: float) -> float:
    """Linear in term length through (0, 0) and ``points``; flat past the last point."""
    xs = [0.0] + [p[0] for p in points]
    ys = [0.0] + [p[1] for p in points]
    if years >= xs[-1]:
        return ys[-1]
    for (x0, y0), (x1, y1) in zip(
        zip(xs, ys, strict=True), zip(xs[1:], ys[1:], strict=True), strict=True
    ):
        if x0 <= years <= x1:
            return y0 + (y1 - y0) * (years - x0) / (x1 - x0)
    return ys[-1]


def _observed(fixed: Sequence[Pair]) -> tuple[dict[bool, dict[str, float]], dict[str, float]]:
    """Per regime and term the weighted median log ratio (terms with enough pairs), and per
    model the shrunk median deviation of its pairs from those factors."""
    observed: dict[bool, dict[str, float]] = {}
    for behind in (False, True):
        table = {}
        for term in FIXED_TERM_YEARS:
            mine = [p for p in fixed if p.behind == behind and p.term == term]
            if len(mine) >= MIN_TERM_PAIRS:
                zero = np.zeros(len(mine), dtype=np.intp)
                y = np.array([p.log_ratio for p in mine])
                w = np.array([p.weight for p in mine])
                table[term] = float(group_median(zero, y, w, 1)[0])
        if table:
            observed[behind] = table
    offsets: dict[str, float] = {}
    for model in sorted({p.model for p in fixed}):
        deviations: list[tuple[float, float]] = []
        for p in fixed:
            table = observed.get(p.behind) or observed.get(not p.behind) or {}
            if p.model == model and table:
                points = sorted((FIXED_TERM_YEARS[t], v) for t, v in table.items())
                deviations.append(
                    (p.log_ratio - _interpolate(points, FIXED_TERM_YEARS[p.term]), p.weight)
                )
        if deviations:
            zero = np.zeros(len(deviations), dtype=np.intp)
            own = float(
                group_median(
                    zero,
                    np.array([d for d, _ in deviations]),
                    np.array([w for _, w in deviations]),
                    1,
                )[0]
            )
            n = sum(w for _, w in deviations)
            offsets[model] = own * n / (n + _MODEL_PSEUDO_PAIRS)
    return observed, offsets


def _log_lev(decline: float, years: np.ndarray) -> np.ndarray:
    return np.log([levelised_rent_factor(CONTRACT_RATE, decline, float(t)) for t in years])


def implied_psi(pairs: Sequence[Pair], decline: float) -> float:
    """Weighted median of ``log ratio - log lev(r, λ, T)`` over ``pairs``: the contract level
    that, at decline λ, best reproduces the observed fixed-term discounts."""
    years = np.array([FIXED_TERM_YEARS[p.term] for p in pairs])
    values = np.array([p.log_ratio for p in pairs]) - _log_lev(decline, years)
    weights = np.array([p.weight for p in pairs])
    return float(group_median(np.zeros(len(pairs), dtype=np.intp), values, weights, 1)[0])


def _regime(pairs: Sequence[Pair]) -> RegimeTerms:
    """ψ and λ by least absolute deviations over a grid of λ (ψ the weighted median at each)."""
    years = np.array([FIXED_TERM_YEARS[p.term] for p in pairs])
    y = np.array([p.log_ratio for p in pairs])
    w = np.array([p.weight for p in pairs])
    clusters = len({p.cluster for p in pairs})
    zero = np.zeros(len(pairs), dtype=np.intp)
    if len(set(years.tolist())) < 2:
        psi = float(group_median(zero, y - _log_lev(0.0, years), w, 1)[0])
        return RegimeTerms(psi, 0.0, math.inf, len(pairs), clusters)
    lev_table = {
        t: np.log([levelised_rent_factor(CONTRACT_RATE, lam, t) for lam in _GRID])
        for t in set(years.tolist())
    }
    columns = np.vstack([lev_table[t] for t in years.tolist()])  # pairs x grid
    best = (math.inf, 0.0, 0.0)
    for j, lam in enumerate(_GRID):
        resid = y - columns[:, j]
        psi = float(group_median(zero, resid, w, 1)[0])
        loss = float(np.sum(w * np.abs(resid - psi)))
        if loss < best[0] - 1e-12:
            best = (loss, float(lam), psi)
    _, lam, psi = best
    # Standard error: the spread of per-cluster implied declines over √clusters (clusters, not
    # snapshots, are independent evidence), at least 0.05 a year.
    per_cluster: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        per_cluster.setdefault(p.cluster, []).append(i)
    lams = []
    for idx in per_cluster.values():
        if len({years[i] for i in idx}) < 2:
            continue
        losses = [
            float(np.sum(w[idx] * np.abs(y[idx] - columns[idx, j] - psi)))
            for j in range(len(_GRID))
        ]
        lams.append(float(_GRID[int(np.argmin(losses))]))
    if len(lams) >= 2:
        spread = 1.4826 * float(np.median(np.abs(np.array(lams) - np.median(lams))))
        se = max(spread / math.sqrt(len(lams)), 0.05)
    else:
        se = 0.15
    return RegimeTerms(psi, lam, se, len(pairs), clusters)


def fit_contracts(pairs: Sequence[Pair], declines: dict[bool, float] | None = None) -> Contracts:
    """Fit each regime (λ from the grid, or ``declines[regime]`` when given, with ψ re-read at
    that λ), then per-model offsets of log ψ shrunk by credibility."""
    fixed = [p for p in pairs if p.term in FIXED_TERM_YEARS]
    regimes: dict[bool, RegimeTerms] = {}
    for behind in (False, True):
        mine = [p for p in fixed if p.behind == behind]
        if not mine:
            continue
        fitted = _regime(mine)
        if declines is not None and behind in declines:
            psi = implied_psi(mine, declines[behind])
            fitted = RegimeTerms(
                psi, fitted.decline, fitted.decline_se, fitted.pairs, fitted.clusters
            )
        regimes[behind] = fitted

    def used_decline(behind: bool) -> float:
        if declines is not None and behind in declines:
            return declines[behind]
        return regimes[behind].decline

    offsets: dict[str, float] = {}
    for model in sorted({p.model for p in fixed}):
        mine = [p for p in fixed if p.model == model]
        years = np.array([FIXED_TERM_YEARS[p.term] for p in mine])
        expected = np.array(
            [
                regimes[p.behind].log_psi
                + math.log(levelised_rent_factor(CONTRACT_RATE, used_decline(p.behind), float(t)))
                for p, t in zip(mine, years, strict=True)
            ]
        )
        resid = np.array([p.log_ratio for p in mine]) - expected
        weights = np.array([p.weight for p in mine])
        own = float(group_median(np.zeros(len(mine), dtype=np.intp), resid, weights, 1)[0])
        n = float(weights.sum())
        offsets[model] = own * n / (n + _MODEL_PSEUDO_PAIRS)
    spot, spot_offsets = fit_spot([p for p in pairs if p.term == "spot"])
    observed, term_offsets = _observed(fixed)
    return Contracts(regimes, offsets, spot, spot_offsets, observed, term_offsets)


def fit_spot(pairs: Sequence[Pair]) -> tuple[dict[bool, float], dict[str, float]]:
    """Spot against on-demand: weighted median log ratio per regime, per-model credibility."""
    spot: dict[bool, float] = {}
    for behind in (False, True):
        mine = [p for p in pairs if p.behind == behind]
        if mine:
            zero = np.zeros(len(mine), dtype=np.intp)
            y = np.array([p.log_ratio for p in mine])
            w = np.array([p.weight for p in mine])
            spot[behind] = float(group_median(zero, y, w, 1)[0])
    offsets: dict[str, float] = {}
    for model in sorted({p.model for p in pairs}):
        mine = [p for p in pairs if p.model == model]
        base = spot.get(mine[0].behind, 0.0)
        zero = np.zeros(len(mine), dtype=np.intp)
        own = float(
            group_median(
                zero, np.array([p.log_ratio for p in mine]), np.array([p.weight for p in mine]), 1
            )[0]
        )
        n = sum(p.weight for p in mine)
        offsets[model] = (own - base) * n / (n + _MODEL_PSEUDO_PAIRS)
    return spot, offsets
