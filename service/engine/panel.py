"""The lease panel: provider (seller) effects and pooled term effects, estimated from models that
sellers list in common, so that each price can be restated at the *market* level (the median
seller, on-demand) before a model's level is filtered.

Model (log USD per GPU-hour, row i of model m in month k, seller s, term T, regime g):

    y_i = a[m, k] + p[s] + t[T, g] + e_i

``a[m, k]`` is a model x month effect, so a seller effect is identified only by sellers that
quote the same model in the same month: a month in which only expensive sellers report does not
move a model's level. It is solved by robust backfitting (each block set to the weighted median of
the partial residuals, Hastie & Tibshirani 1990, with medians for robustness), seller effects
shrunk towards 0 by a pseudo-count of rows (credibility). Seller effects are then centred on the
weighted median seller of recent on-demand rows, which defines the market level.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from service.engine.robust import Array, Index

K = TypeVar("K", bound=Hashable)

__all__ = [
    "SEGMENTS",
    "Panel",
    "PanelRow",
    "fit_panel",
    "group_median",
    "segment_of",
    "seller_of",
]

#: Segments a caller may ask for, and which sellers belong to them.
SEGMENTS = ("hyperscaler", "neocloud", "marketplace")
_HYPERSCALERS = frozenset({"aws", "google", "azure", "oracle"})
_MARKETPLACES = frozenset({"vast.ai", "tensordock", "market", "china", "pricegpu.pages.dev"})
#: Backfitting sweeps; the medians settle in a handful (changes < 1e-4 after ~8 on the data).
_SWEEPS = 12
#: Pseudo-count of rows pulling a seller's effect towards the market (credibility shrinkage).
_SELLER_PSEUDO_ROWS = 3.0
#: Pseudo-count pulling a pooled term effect towards 0 (the on-demand level).
_TERM_PSEUDO_ROWS = 2.0


def seller_of(provider: str, *, community: bool, component: bool) -> str:
    """A seller: provider key plus the listing flags that change its price level (a community
    cloud or a GPU-only component price lists below the same provider's secure cloud)."""
    tags = [provider]
    if community:
        tags.append("community")
    if component:
        tags.append("component")
    return "+".join(tags)


def segment_of(seller: str) -> str:
    """Hyperscaler, marketplace (community clouds, brokers, market surveys) or neocloud."""
    provider = seller.split("+")[0]
    if provider in _HYPERSCALERS:
        return "hyperscaler"
    if provider in _MARKETPLACES or "community" in seller.split("+")[1:]:
        return "marketplace"
    return "neocloud"


@dataclass(frozen=True, slots=True)
class PanelRow:
    """One lease price for the panel: model, month index, seller, term, regime, log price."""

    model: str
    month: int
    seller: str
    term: str
    behind: bool
    log_price: float
    weight: float


@dataclass(frozen=True, slots=True)
class Panel:
    """Fitted seller and term effects (log), with row counts, and segment effects (the weighted
    median seller effect of each segment)."""

    sellers: dict[str, float]
    seller_rows: dict[str, int]
    terms: dict[tuple[str, bool], float]
    segments: dict[str, float]
    #: Per term, the median seller effect among the sellers that quote it (recent rows): the
    #: market for a term is made by those who sell it (a six-month contract's market is the
    #: sellers of six-month contracts, not the median on-demand seller).
    term_sellers: dict[str, float] = field(default_factory=dict)

    def seller(self, name: str) -> float:
        return self.sellers.get(name, 0.0)

    def term(self, term: str, behind: bool) -> float:
        """Pooled term effect for the regime, else the other regime's, else 0 (on-demand)."""
        if (term, behind) in self.terms:
            return self.terms[(term, behind)]
        return self.terms.get((term, not behind), 0.0)

    def market_price(self, row: PanelRow) -> float:
        """The row restated at the market level (median seller, on-demand), in logs."""
        return row.log_price - self.seller(row.seller) - self.term(row.term, row.behind)


def group_median(groups: Index, values: Array, weights: Array, n_groups: int) -> Array:
    """Weighted median of ``values`` within each group (NaN for an empty group).

    The lower weighted median: the smallest value whose cumulative weight reaches half of its
    group's total. Sorted once by (group, value); ties broken by position (deterministic).
    """
    out = np.full(n_groups, np.nan)
    if len(values) == 0:
        return out
    order = np.lexsort((np.arange(len(values)), values, groups))
    g, v, w = groups[order], values[order], weights[order]
    totals = np.bincount(g, weights=w, minlength=n_groups)
    starts = np.searchsorted(g, np.arange(n_groups), side="left")
    cum = np.cumsum(w)
    before = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
    before = np.where(starts > 0, before, 0.0)
    within = cum - before[g]
    reached = within >= 0.5 * totals[g] - 1e-12
    # first index per group where the half weight is reached
    candidates = np.where(reached, np.arange(len(v)), len(v))
    first = np.full(n_groups, len(v), dtype=np.intp)
    np.minimum.at(first, g, candidates)
    present = totals > 0
    out[present] = v[first[present]]
    return out


def _index(keys: Sequence[K]) -> tuple[Index, list[K]]:
    labels: dict[K, int] = {}
    codes = np.fromiter((labels.setdefault(k, len(labels)) for k in keys), dtype=np.intp)
    return codes, list(labels)


def fit_panel(rows: Sequence[PanelRow], *, recent_month: int) -> Panel:
    """Backfit model x month, seller and term effects; centre sellers on the market median.

    ``recent_month``: rows from the last 12 months before it define the median seller.
    """
    if not rows:
        return Panel({}, {}, {}, dict.fromkeys(SEGMENTS, 0.0))
    y = np.array([r.log_price for r in rows])
    w = np.array([r.weight for r in rows])
    cell, _ = _index([(r.model, r.month) for r in rows])
    seller, sellers = _index([r.seller for r in rows])
    term_keys = [(r.term, r.behind) for r in rows]
    term, terms = _index(term_keys)
    on_demand = np.array([t == "on_demand" for t, _ in terms])
    n_cell, n_seller, n_term = int(cell.max()) + 1, len(sellers), len(terms)
    p = np.zeros(n_seller)
    t = np.zeros(n_term)
    a = np.zeros(n_cell)
    seller_w = np.bincount(seller, weights=w, minlength=n_seller)
    term_w = np.bincount(term, weights=w, minlength=n_term)
    for _ in range(_SWEEPS):
        a = group_median(cell, y - p[seller] - t[term], w, n_cell)
        raw = group_median(seller, y - a[cell] - t[term], w, n_seller)
        p = raw * seller_w / (seller_w + _SELLER_PSEUDO_ROWS)
        raw_t = group_median(term, y - a[cell] - p[seller], w, n_term)
        t = np.where(on_demand, 0.0, raw_t * term_w / (term_w + _TERM_PSEUDO_ROWS))
    months = np.array([r.month for r in rows])
    recent = (months > recent_month - 12) & np.array([r.term == "on_demand" for r in rows])
    if not recent.any():
        recent = np.ones(len(rows), dtype=bool)
    centre = float(
        group_median(np.zeros(int(recent.sum()), dtype=np.intp), p[seller][recent], w[recent], 1)[0]
    )
    p = p - centre
    counts = np.bincount(seller, minlength=n_seller)
    segment_codes = np.array([SEGMENTS.index(segment_of(str(s))) for s in sellers])
    row_segments = segment_codes[seller]
    seg = group_median(row_segments[recent], p[seller][recent], w[recent], len(SEGMENTS))
    seg_all = group_median(row_segments, p[seller], w, len(SEGMENTS))
    segments = {
        name: float(seg[i])
        if math.isfinite(seg[i])
        else (float(seg_all[i]) if math.isfinite(seg_all[i]) else 0.0)
        for i, name in enumerate(SEGMENTS)
    }
    row_terms = np.array([r.term for r in rows])
    term_sellers = {}
    for name in sorted(set(row_terms.tolist()) - {"on_demand"}):
        mine = (row_terms == name) & (months > recent_month - 12)
        if not mine.any():
            mine = row_terms == name
        zero = np.zeros(int(mine.sum()), dtype=np.intp)
        term_sellers[str(name)] = float(group_median(zero, p[seller][mine], w[mine], 1)[0])
    return Panel(
        term_sellers=term_sellers,
        sellers={str(s): float(p[i]) for i, s in enumerate(sellers)},
        seller_rows={str(s): int(counts[i]) for i, s in enumerate(sellers)},
        terms={k: float(t[i]) for i, k in enumerate(terms) if k[0] != "on_demand"},
        segments=segments,
    )
