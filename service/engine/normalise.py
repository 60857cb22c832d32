"""Point-in-time selection and normalisation of observations to USD, with evidence weights."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from service.engine.fx import FxTable, month_key
from service.engine.types import Observation

__all__ = [
    "HYPERSCALERS",
    "Normalised",
    "normalise",
    "provider_key",
    "select",
    "visible",
    "years_since_epoch",
]

#: Providers whose list prices sit 3-5x above marketplaces (service/data/README.md).
HYPERSCALERS = frozenset({"aws", "google", "azure", "oracle"})
_EPOCH = date(2020, 1, 1)
_ALIASES = (("amazon", "aws"), ("aws", "aws"), ("google", "google"), ("microsoft", "azure"))


def years_since_epoch(on: date) -> float:
    """Calendar time in years since 2020-01-01 (the regression's time axis)."""
    return (on - _EPOCH).days / 365.25


def provider_key(provider: str) -> str:
    """A stable provider id: 'AWS EC2 p5.48xlarge' -> 'aws', 'RunPod Secure Cloud' -> 'runpod'."""
    text = provider.strip().lower()
    if "keepa" in text:
        return "amazon-listing"
    for prefix, key in _ALIASES:
        if text.startswith(prefix):
            return key
    words = re.findall(r"[a-z0-9.]+", text)
    return words[0] if words else "unknown"


def visible(observation: Observation, as_of: date, known_at: datetime | None) -> bool:
    """Observed on or before ``as_of`` and, with ``known_at``, recorded by then.

    An observation without ``recorded_at`` counts as recorded at the start of its date.
    """
    if observation.observed_on > as_of:
        return False
    if known_at is None:
        return True
    recorded = observation.recorded_at or _midnight(observation.observed_on)
    return _utc(recorded) <= _utc(known_at)


def _midnight(on: date) -> datetime:
    return datetime(on.year, on.month, on.day)


def _utc(moment: datetime) -> datetime:
    """Naive UTC; a naive input is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


@dataclass(frozen=True, slots=True)
class Normalised:
    """An observation in USD with the flags the models use and its evidence weight."""

    source: Observation
    t: float
    log_price: float
    provider: str
    hyperscaler: bool
    community: bool
    component: bool
    commentary: bool
    listing: bool
    system: bool
    fx_extrapolated: bool
    weight: float


def _flags(observation: Observation, provider: str) -> dict[str, bool]:
    """The observation's flags; ``provider`` is its :func:`provider_key`."""
    notes = observation.notes.lower()
    return {
        "hyperscaler": provider in HYPERSCALERS,
        "community": "community_cloud" in notes or provider == "vast.ai",
        "component": "gpu_component" in notes,
        "commentary": "market_commentary" in notes or "commentary" in observation.provider.lower(),
        "listing": "listing" in notes or provider == "amazon-listing",
        "system": "includes host/system" in notes,
    }


def _cell(observation: Observation, provider: str, flags: dict[str, bool]) -> tuple[object, ...]:
    quarter = (observation.observed_on.year, (observation.observed_on.month - 1) // 3)
    return (
        observation.model_slug,
        observation.kind,
        observation.term,
        provider,
        tuple(sorted(flags.items())),
        quarter,
    )


def normalise(observations: Iterable[Observation], fx: FxTable) -> tuple[Normalised, ...]:
    """USD prices, flags and weights. Weight ``1/√n`` per row of a provider x model x term x
    quarter cell: repeated snapshots of one rate card are correlated evidence
    (service/data/README.md), so n of them count as √n independent ones.
    """
    rows = list(observations)
    providers = [provider_key(o.provider) for o in rows]
    flags = [_flags(o, p) for o, p in zip(rows, providers, strict=True)]
    cells = [_cell(o, p, f) for o, p, f in zip(rows, providers, flags, strict=True)]
    counts = Counter(cells)
    result = []
    for obs, provider, flag, cell in zip(rows, providers, flags, cells, strict=True):
        rate, _, extrapolated = fx.rate(obs.currency, month_key(obs.observed_on))
        result.append(
            Normalised(
                source=obs,
                t=years_since_epoch(obs.observed_on),
                log_price=math.log(obs.price * rate),
                provider=provider,
                fx_extrapolated=extrapolated,
                weight=1.0 / math.sqrt(counts[cell]),
                **flag,
            )
        )
    return tuple(result)


def select(
    observations: Sequence[Observation], as_of: date, known_at: datetime | None
) -> list[Observation]:
    """The observations visible at (``as_of``, ``known_at``), in a canonical order."""
    chosen = [o for o in observations if visible(o, as_of, known_at)]
    return sorted(chosen, key=_sort_key)


def _sort_key(o: Observation) -> tuple[object, ...]:
    return (o.observed_on, o.model_slug, o.kind, o.term, o.provider, o.price, o.currency, o.notes)
