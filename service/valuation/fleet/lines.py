"""A batch of assets valued, as columns (:class:`Lines`) or one asset at a time
(:class:`AssetLine`), and the engine's answers per (model, days in service) they index into
(:class:`FairTable`, kept per question by :class:`FairTables`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt

from service.engine.by_age import ModelValues
from service.valuation.fleet.ages import month_text
from service.valuation.fleet.repository import AssetBatch

__all__ = ["AssetLine", "Fair", "FairTable", "FairTables", "Lines", "Regime"]

Regime = Literal["frontier", "behind"]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


def _decimal(cents_: int) -> Decimal:
    return Decimal(cents_).scaleb(-2)


# --- lines ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fair:
    """What the engine says about one (model, age in days) on ``as_of``; USD per GPU, and the
    age in months the answer shows (rounded to two decimals)."""

    value_per_gpu_usd: float
    regime: Regime
    frontier_precision: str
    remaining_life_months: float
    age_months: float


@dataclass(frozen=True, slots=True)
class AssetLine:
    """One asset valued on ``as_of``; money in ``currency``, to the cent."""

    asset_id: int
    tag: str
    model: str
    status: str
    gpu_count: int
    in_service_on: date
    age_months: float
    currency: str
    acquisition_cost: Decimal
    book_month: str | None
    book_value: Decimal
    fair_value_per_gpu: Decimal
    fair_value: Decimal
    difference: Decimal
    impaired: bool
    regime: Regime
    frontier_precision: str
    remaining_life_months: float


@dataclass(frozen=True, slots=True)
class Lines:
    """A batch valued: one entry per asset in every column; money in integer cents.

    ``key`` indexes each asset's (model, days in service) in ``facts``, the valuation's table
    (shared by every batch of a request); ``month`` is the book month reported, counted as
    ``year × 12 + month − 1``, or -1 before the first month closes; ``start`` the in-service
    dates in days since 1970-01-01.
    """

    assets: AssetBatch
    start: Ints
    currency: list[str]
    key: Ints
    facts: list[Fair]
    month: Ints
    acquisition_cost: Ints
    book_value: Ints
    fair_value_per_gpu: Ints
    fair_value: Ints
    difference: Ints
    impaired: Bools

    def __len__(self) -> int:
        return len(self.currency)

    @property
    def fair(self) -> list[Fair]:
        facts = self.facts
        return [facts[k] for k in self.key.tolist()]

    @property
    def age_months(self) -> list[float]:
        return [fair.age_months for fair in self.fair]

    @property
    def book_month(self) -> list[str | None]:
        return [None if m < 0 else month_text(m) for m in self.month.tolist()]

    def item(self, i: int) -> AssetLine:
        a, fair = self.assets, self.facts[int(self.key[i])]
        month = int(self.month[i])
        return AssetLine(
            asset_id=a.id[i],
            tag=a.tag[i],
            model=a.model[i],
            status=a.status[i],
            gpu_count=a.gpu_count[i],
            in_service_on=a.in_service_on[i],
            age_months=fair.age_months,
            currency=self.currency[i],
            acquisition_cost=_decimal(int(self.acquisition_cost[i])),
            book_month=None if month < 0 else month_text(month),
            book_value=_decimal(int(self.book_value[i])),
            fair_value_per_gpu=_decimal(int(self.fair_value_per_gpu[i])),
            fair_value=_decimal(int(self.fair_value[i])),
            difference=_decimal(int(self.difference[i])),
            impaired=bool(self.impaired[i]),
            regime=fair.regime,
            frontier_precision=fair.frontier_precision,
            remaining_life_months=round(fair.remaining_life_months, 2),
        )


class FairTable:
    """What the engine says on one question (calibration, ``as_of``, premise, assumptions) per
    key (model, days in service): each model's engine state, the facts of each key in the
    order the keys were first met, and each key's per-GPU value in cents per currency.

    It only grows, under its lock, so valuations of the same question may share it, one
    after the other or at once: a key valued for one request is not valued again for the next.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.models: dict[str, ModelValues] = {}
        self.keys: dict[tuple[str, int], int] = {}
        self.facts: list[Fair] = []
        self.per_gpu: dict[str, Ints] = {}


class FairTables:
    """The :class:`FairTable` of the last ``capacity`` questions asked (a bounded LRU): a
    table holds one entry per distinct (model, age in days) of a fleet, a few MB for 100,000
    assets, so only a few are kept."""

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._tables: OrderedDict[Hashable, FairTable] = OrderedDict()

    def get(self, key: Hashable) -> FairTable:
        with self._lock:
            table = self._tables.get(key)
            if table is None:
                table = self._tables[key] = FairTable()
                while len(self._tables) > self.capacity:
                    self._tables.popitem(last=False)
            self._tables.move_to_end(key)
            return table
