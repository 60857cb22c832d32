"""The hedonic rent model (DESIGN.md 4.3-4.4): log rent per GPU-hour on specifications,
frontier status, term, provider type and a smooth market index, with provider, model and
rate-card random effects (the model effect is the credibility adjustment towards a model's
own prices; card effects explain which list a price came from, and are zero in a quote).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from service.engine.frontier import Support, effective_tflops, frontier_at, is_behind
from service.engine.normalise import Normalised, years_since_epoch
from service.engine.robust import Array, PointFit, Prior, huber_point_fit
from service.engine.types import TERMS, FrontierEntry, ModelSpec, Term

__all__ = ["Features", "Hedonic", "RentModel", "features_of", "fit_rent_model"]

#: Knot spacing of the market index (years) and its smoothness prior: the quarter-on-quarter
#: change of the index's growth has a standard deviation of 5% (a random-walk-on-slope prior).
_KNOT_STEP = 0.25
_SMOOTH_SD = 0.05
#: Recency half-life (years) of observation weights: recent prices carry the level.
RECENCY_HALF_LIFE = 1.5
#: Centring of the log specifications (an H100-class unit) for numerical conditioning.
_CENTRE = {"tflops": 1000.0, "memory": 80.0, "bandwidth": 3.0}
#: Priors (mean, sd) of the specification effects. Rent elasticities to throughput, memory and
#: bandwidth are positive and below one (a unit twice as fast rents for less than twice as much
#: since buyers also pay for host, power and software); the market shows an FP8 level gap of
#: roughly half the rent for a sixth of the compute (data/README.md).
_SPEC_PRIORS: dict[str, tuple[float, float]] = {
    "log_tflops": (0.5, 0.3),
    "log_memory": (0.2, 0.2),
    "log_bandwidth": (0.2, 0.2),
    "behind": (-0.2, 0.3),
    "pcie": (0.0, 0.3),
    "consumer": (-0.5, 0.5),
}
_FLAG_NAMES = ("hyperscaler", "community", "component", "commentary")
_FLAG_SD = 1.0
_TERM_SD = 1.0
_PROVIDER_SD = 0.3
_MODEL_SD = 0.3
#: A rate card's own level around its provider and model (list prices are sticky per card).
_CARD_SD = 0.2
#: Floor of the residual scale: list prices move in steps of a few per cent, and a smaller
#: scale would let repeated snapshots switch the random-effect priors off.
_MIN_SCALE = 0.03


@dataclass(frozen=True, slots=True)
class Features:
    """What the rent of one GPU-hour depends on, at one date."""

    t: float
    log_tflops: float
    log_memory: float
    log_bandwidth: float
    behind: bool
    form: str  # "sxm" | "pcie" | "consumer"
    term: Term
    flags: tuple[bool, bool, bool, bool]  # hyperscaler, community, component, commentary
    provider: str | None
    model: str | None
    card: str | None = None  # the rate card (model x provider x term x flags), if observed


def form_of(spec: ModelSpec) -> str:
    """Form-factor class: consumer cards, PCIe cards, or socketed modules (SXM/OAM/superchip)."""
    text = spec.form_factor.lower()
    if spec.segment == "consumer" or "consumer" in text:
        return "consumer"
    return "pcie" if "pcie" in text else "sxm"


def features_of(
    spec: ModelSpec,
    support: Support,
    frontier: Sequence[FrontierEntry],
    on: date,
    term: Term,
    *,
    flags: tuple[bool, bool, bool, bool] = (False, False, False, False),
    provider: str | None = None,
    model: str | None = None,
) -> Features:
    """Features of ``spec`` on ``on``, with throughput at that date's frontier precision."""
    precision = frontier_at(frontier, on)
    return Features(
        t=years_since_epoch(on),
        log_tflops=math.log(effective_tflops(support, precision) / _CENTRE["tflops"]),
        log_memory=math.log(spec.memory_gb / _CENTRE["memory"]),
        log_bandwidth=math.log(spec.memory_bw_tbps / _CENTRE["bandwidth"]),
        behind=is_behind(support, precision),
        form=form_of(spec),
        term=term,
        flags=flags,
        provider=provider,
        model=model,
    )


@dataclass(frozen=True, slots=True)
class Hedonic:
    """Column layout of the design matrix: index knots, then named effects, providers, models."""

    knots: tuple[float, ...]
    providers: tuple[str, ...]
    models: tuple[str, ...]
    cards: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Column names: ``index:<knot>``, the specification effects, ``term:<term>``, the
        flags, then ``provider:``, ``model:`` and ``card:`` effects (cached per layout)."""
        return _columns(self).names

    def index_weights(self, t: float) -> Array:
        """Linear-interpolation (hat function) weights of the index at t, flat outside."""
        knots = _columns(self).knots
        t = min(max(t, knots[0]), knots[-1])
        return np.maximum(0.0, 1.0 - np.abs(t - knots) / _KNOT_STEP)

    def row(self, f: Features) -> Array:
        """One design-matrix row (the row of :meth:`matrix` for a single observation)."""
        columns = _columns(self)
        out = np.zeros(len(columns.names))
        out[: len(self.knots)] = self.index_weights(f.t)
        at = len(self.knots)
        out[at : at + 4] = (f.log_tflops, f.log_memory, f.log_bandwidth, float(f.behind))
        out[at + 4 : at + 6] = (float(f.form == "pcie"), float(f.form == "consumer"))
        out[columns.flags : columns.flags + len(_FLAG_NAMES)] = [float(x) for x in f.flags]
        for position in columns.one_hot(f):
            out[position] = 1.0
        return out

    def matrix(self, features: Sequence[Features]) -> Array:
        """The design matrix: one :meth:`row` per element of ``features``, equal entry for
        entry, built a block of columns at a time."""
        columns = _columns(self)
        n_knots = len(self.knots)
        out = np.zeros((len(features), len(columns.names)))
        if not features:
            return out
        t = np.array([f.t for f in features], dtype=np.float64)
        t = np.clip(t, columns.knots[0], columns.knots[-1])
        out[:, :n_knots] = np.maximum(0.0, 1.0 - np.abs(t[:, None] - columns.knots) / _KNOT_STEP)
        out[:, n_knots : n_knots + 6] = [
            (
                f.log_tflops,
                f.log_memory,
                f.log_bandwidth,
                float(f.behind),
                float(f.form == "pcie"),
                float(f.form == "consumer"),
            )
            for f in features
        ]
        out[:, columns.flags : columns.flags + len(_FLAG_NAMES)] = [
            [float(x) for x in f.flags] for f in features
        ]
        for i, f in enumerate(features):
            for position in columns.one_hot(f):
                out[i, position] = 1.0
        return out

    def prior(self) -> Prior:
        """Flat index with a second-difference smoothness penalty; Gaussian priors elsewhere."""
        n_knots = len(self.knots)
        n_terms = len(TERMS) - 1
        means = [0.0] * n_knots + [m for m, _ in _SPEC_PRIORS.values()]
        sds = [math.inf] * n_knots + [s for _, s in _SPEC_PRIORS.values()]
        n_effects = len(self.providers) + len(self.models) + len(self.cards)
        means += [0.0] * (n_terms + len(_FLAG_NAMES) + n_effects)
        sds += [_TERM_SD] * n_terms + [_FLAG_SD] * len(_FLAG_NAMES)
        sds += [_PROVIDER_SD] * len(self.providers) + [_MODEL_SD] * len(self.models)
        sds += [_CARD_SD] * len(self.cards)
        difference = np.zeros((max(n_knots - 2, 0), len(means)))
        for i in range(n_knots - 2):
            difference[i, i : i + 3] = (1.0, -2.0, 1.0)
        return Prior(np.asarray(means), np.asarray(sds), difference, _SMOOTH_SD)


@dataclass(frozen=True, slots=True)
class _Columns:
    """Derived, immutable facts of a :class:`Hedonic` layout, computed once per layout."""

    names: tuple[str, ...]
    knots: Array
    flags: int  # position of the first flag column
    terms: dict[str, int]
    providers: dict[str, int]
    models: dict[str, int]
    cards: dict[str, int]

    def one_hot(self, f: Features) -> list[int]:
        """Positions of the 1.0 entries of ``f``'s term, provider, model and card columns."""
        found = (
            self.terms.get(f.term),
            self.providers.get(f.provider) if f.provider is not None else None,
            self.models.get(f.model) if f.model is not None else None,
            self.cards.get(f.card) if f.card is not None else None,
        )
        return [position for position in found if position is not None]


@lru_cache(maxsize=64)
def _columns(layout: Hedonic) -> _Columns:
    terms = tuple(t for t in TERMS if t != "on_demand")
    names = (
        *(f"index:{k:.2f}" for k in layout.knots),
        *_SPEC_PRIORS,
        *(f"term:{t}" for t in terms),
        *_FLAG_NAMES,
        *(f"provider:{p}" for p in layout.providers),
        *(f"model:{m}" for m in layout.models),
        *(f"card:{c}" for c in layout.cards),
    )
    first_term = len(layout.knots) + len(_SPEC_PRIORS)
    flags = first_term + len(terms)
    providers = flags + len(_FLAG_NAMES)
    models = providers + len(layout.providers)
    cards = models + len(layout.models)
    knots = np.asarray(layout.knots)
    knots.flags.writeable = False
    return _Columns(
        names,
        knots,
        flags,
        {t: first_term + i for i, t in enumerate(terms)},
        {p: providers + i for i, p in enumerate(layout.providers)},
        {m: models + i for i, m in enumerate(layout.models)},
        {c: cards + i for i, c in enumerate(layout.cards)},
    )


@dataclass(frozen=True, slots=True)
class RentModel:
    """A fitted hedonic model: layout, coefficients, robust scale, residual quantiles, and per
    model its credibility ``Z = n/(n + σ²/τ²)`` (n: the model's effective observation weight)."""

    layout: Hedonic
    beta: Array
    scale: float
    residual_quantiles: tuple[float, float]  # of log(price / reference rate), the band
    credibility: dict[str, float]
    counts: dict[str, int]

    def coefficient(self, name: str) -> float:
        return float(self.beta[self.layout.names.index(name)])

    def log_rent(self, f: Features) -> float:
        """Predicted log USD per GPU-hour: ``x·β``, summed exactly (``math.fsum``) so that it
        does not depend on a BLAS kernel's order of addition."""
        row = self.layout.row(f)
        nonzero = np.flatnonzero(row)
        return math.fsum((row[nonzero] * self.beta[nonzero]).tolist())


def _knots(start: float, end: float) -> tuple[float, ...]:
    first = math.floor(start / _KNOT_STEP) * _KNOT_STEP
    count = max(math.ceil((end - first) / _KNOT_STEP) + 1, 3)
    return tuple(first + i * _KNOT_STEP for i in range(count))


def fit_rent_model(
    rows: Sequence[tuple[Normalised, Features]], as_of: date, band: float = 0.8
) -> RentModel:
    """Fit by penalised Huber IRLS; weights = snapshot weight x recency ``2^(-age/half-life)``,
    rescaled to the Kish effective sample size so that standard errors are honest."""
    t_end = years_since_epoch(as_of)
    layout = Hedonic(
        _knots(min(f.t for _, f in rows), max(f.t for _, f in rows)),
        tuple(sorted({f.provider for _, f in rows if f.provider})),
        tuple(sorted({f.model for _, f in rows if f.model})),
        tuple(sorted({f.card for _, f in rows if f.card})),
    )
    x = layout.matrix([f for _, f in rows])
    y = np.array([n.log_price for n, _ in rows])
    w = np.array([n.weight * 0.5 ** ((t_end - f.t) / RECENCY_HALF_LIFE) for n, f in rows])
    w *= w.sum() / (w * w).sum()
    fit = huber_point_fit(x, y, w, layout.prior(), min_scale=_MIN_SCALE)
    return RentModel(
        layout,
        fit.beta,
        fit.scale,
        _quantiles(_dispersion(layout, x, fit), w, band),
        _credibility(layout, rows, fit, w),
        _counts(rows),
    )


def _dispersion(layout: Hedonic, x: Array, fit: PointFit) -> Array:
    """Log distance of each price from the reference rate of its model, term and date: the
    residual plus its provider and rate-card effects (the market's spread a band shows)."""
    mask = np.array([n.startswith(("provider:", "card:")) for n in layout.names])
    return np.asarray(fit.residuals + (x[:, mask] * fit.beta[mask]).sum(axis=1))


def _quantiles(values: Array, weights: Array, band: float) -> tuple[float, float]:
    """Weighted (1-band)/2 and (1+band)/2 quantiles."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order]) / weights.sum()
    lo_at = int(np.searchsorted(cum, (1 - band) / 2))
    hi_at = min(int(np.searchsorted(cum, (1 + band) / 2)), len(cum) - 1)
    return float(values[order][lo_at]), float(values[order][hi_at])


def _credibility(
    layout: Hedonic, rows: Sequence[tuple[Normalised, Features]], fit: PointFit, w: Array
) -> dict[str, float]:
    k = (fit.scale / _MODEL_SD) ** 2
    total: dict[str, float] = {}
    for (_, f), weight, robust in zip(rows, w, fit.robust_weights, strict=True):
        if f.model:
            total[f.model] = total.get(f.model, 0.0) + float(weight * robust)
    return {m: total.get(m, 0.0) / (total.get(m, 0.0) + k) for m in layout.models}


def _counts(rows: Sequence[tuple[Normalised, Features]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, f in rows:
        if f.model:
            counts[f.model] = counts.get(f.model, 0) + 1
    return counts
