"""The valuation of a batch of assets on ``as_of``: fair value beside book value, in cents.

Columns in, columns out: a batch of assets (:class:`~.repository.AssetBatch`) becomes
:class:`Lines`, NumPy arrays of integer cents. Fair values come from one engine state per model
(:class:`service.engine.by_age.ModelValues`) evaluated once per distinct age in days: each
(model, days in service) is a *key*, valued once for the request and kept in a table that the
lines index into (its per-GPU value in cents is kept once per key and currency); book values
come from :func:`service.engine.book.closing_book_values` for the whole batch at once (the
schedule itself only for terms the vectorised path leaves to it). Money is counted in integer
cents, which is what the previous per-asset ``Decimal`` arithmetic gave to the cent: each
amount is rounded once, half up on its shortest decimal, and sums of cents are exact.
"""

from __future__ import annotations

import calendar
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal, cast

import numpy as np
import numpy.typing as npt

from service import engine
from service.engine.book import METHOD_CODES, closing_book_values, round_cents
from service.engine.by_age import ModelValues
from service.engine.schedule import Change, Method
from service.engine.types import Premise, cents
from service.errors import FieldError, InvalidInput
from service.finance.service import BookTerms
from service.valuation.fleet.fx import Rate
from service.valuation.fleet.repository import AssetBatch
from service.valuation.service import Context, months_in_service

__all__ = [
    "AssetLine",
    "Fair",
    "FairTable",
    "FairTables",
    "FleetValuation",
    "Lines",
    "closed_month",
]

Regime = Literal["frontier", "behind"]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_CODES: dict[str, int] = {str(name): code for name, code in METHOD_CODES.items()}
MAX_AGE_MONTHS = 600.0
_EPOCH = date(1970, 1, 1).toordinal()


def closed_month(as_of: date) -> date:
    """First day of the last month closed on ``as_of``: its own month on its last day."""
    if as_of.day == calendar.monthrange(as_of.year, as_of.month)[1]:
        return as_of.replace(day=1)
    if as_of.month == 1:
        return date(as_of.year - 1, 12, 1)
    return date(as_of.year, as_of.month - 1, 1)


def _age_months(as_of: date, days: int) -> float:
    """The age of a unit in service ``days`` days before ``as_of``, as ``/residual`` counts it.

    On one ``as_of`` the days in service determine the in-service date (and 0 days covers every
    unit not yet in service), so grouping assets by days groups them by age.
    """
    start = date.fromordinal(as_of.toordinal() - days)
    return min(months_in_service(start, as_of), MAX_AGE_MONTHS)


def ages_in_months(as_of: date, days: Ints) -> npt.NDArray[np.float64]:
    """:func:`_age_months` of each of ``days`` at once, float for float: the same whole months
    (calendar months with the day clamped to the month's end, each counted from the in-service
    date) plus the same fraction, ``elapsed days / days between anniversaries``, in the same
    IEEE operations."""
    end = as_of.toordinal() - _EPOCH
    start = end - np.asarray(days, dtype=np.int64)
    first = _months(start)  # year × 12 + month − 1 of the in-service date
    day = start - _first_days(first) + 1
    whole = (as_of.year * 12 + as_of.month - 1) - first

    def later(months: Ints) -> Ints:  # the in-service date ``months`` calendar months on
        target = first + months
        begin = _first_days(target)
        date_: Ints = begin + np.minimum(day, _first_days(target + 1) - begin) - 1
        return date_

    whole = np.where(later(whole) > end, whole - 1, whole)
    anniversary, following = later(whole), later(whole + 1)
    with np.errstate(all="ignore"):  # units not in service yet: 0 below
        age = whole + (end - anniversary) / (following - anniversary)
    out: npt.NDArray[np.float64] = np.where(start >= end, 0.0, np.minimum(age, MAX_AGE_MONTHS))
    return out


def _decimal(cents_: int) -> Decimal:
    return Decimal(cents_).scaleb(-2)


def month_text(index: int) -> str:
    """``YYYY-MM`` of a month counted as ``year × 12 + month − 1``."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _round_cents(amount: npt.NDArray[np.float64]) -> Ints:
    """Each amount to the cent, half up on its shortest decimal, as :func:`cents` rounds."""
    out = round_cents(np.maximum(amount, 0.0))
    for i in np.flatnonzero(amount < 0).tolist():
        out[i] = int(cents(float(amount[i])) * 100)
    return out


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


class FleetValuation:
    """One request's valuation of a fleet: the calibration, the rates and the memos.

    ``engine_calls`` counts model states built (one per model) and ``ages`` the ages valued
    from them, by this valuation (a shared ``table`` may know some already); ``schedules`` the
    book schedules the vectorised path left to the exact one. ``facts`` lists what the engine
    said per key (model, days in service), in the order the keys were first met.
    """

    def __init__(
        self,
        ctx: Context,
        *,
        as_of: date,
        premise: Premise,
        currency: str | None,
        assumptions: engine.Assumptions,
        rates: Mapping[str, Rate],
        table: FairTable | None = None,
    ) -> None:
        self.ctx = ctx
        self.as_of = as_of
        self.premise = premise
        self.currency = currency
        self.assumptions = assumptions
        self.rates = dict(rates)
        self.closed = closed_month(as_of)
        self.engine_calls = 0
        self.ages = 0
        self.schedules = 0
        self.table = table or FairTable()
        self.facts = self.table.facts

    def prepare(self, models: Iterable[str]) -> None:
        """Build each model's engine state now, so that a model the engine cannot value on
        ``as_of`` is refused before an answer starts (a 422, not a broken stream)."""
        with self.table.lock:
            for model in models:
                self._model(model)

    def value(self, batch: AssetBatch) -> Lines:
        n = len(batch)
        start = np.array([d.toordinal() for d in batch.in_service_on], dtype=np.int64) - _EPOCH
        days = np.maximum(self.as_of.toordinal() - _EPOCH - start, 0)
        key = self._key_of(batch.model, days.tolist())
        out = [self.currency] * n if self.currency else batch.currency
        per_gpu = self._per_gpu_cents(key, out)
        fair_value = per_gpu * np.array(batch.gpu_count, dtype=np.int64)
        rows, book_native = self._book(batch, start)
        book = self._convert(book_native, batch.currency, out)
        cost = self._convert(
            round_cents(np.array(batch.cost, dtype=np.float64)), batch.currency, out
        )
        first = _months(start)
        return Lines(
            assets=batch,
            start=start,
            currency=out,
            key=key,
            facts=self.facts,
            month=np.where(rows < 0, -1, first + rows),
            acquisition_cost=cost,
            book_value=book,
            fair_value_per_gpu=per_gpu,
            fair_value=fair_value,
            difference=fair_value - book,
            impaired=book > fair_value,
        )

    # --- fair value ---------------------------------------------------------------------------

    def _model(self, model: str) -> ModelValues:
        """The model's engine state (the table's lock held)."""
        hit = self.table.models.get(model)
        if hit is None:
            try:
                hit = ModelValues(
                    self.ctx.calibration,
                    self.ctx.calibration.models[model],
                    as_of=self.as_of,
                    premise=self.premise,
                    assumptions=self.assumptions,
                )
            except engine.EngineInputError as exc:
                raise InvalidInput(
                    f"Cannot value assets of {model} on {self.as_of.isoformat()}: {exc.reason}",
                    errors=[FieldError(field=exc.field, reason=exc.reason)],
                ) from exc
            self.table.models[model] = hit
            self.engine_calls += 1
        return hit

    def _key_of(self, models: list[str], days: list[int]) -> Ints:
        """Each asset's key; one engine evaluation per new (model, days), all the new ages of
        a model in one call."""
        keys = self.table.keys
        pairs = list(zip(models, days, strict=True))
        if not keys.keys() >= set(pairs):
            with self.table.lock:
                self._add_keys(pairs)
        return np.array([keys[pair] for pair in pairs], dtype=np.int64)

    def _add_keys(self, pairs: list[tuple[str, int]]) -> None:
        """Value the keys not in the table yet (the table's lock held)."""
        keys = self.table.keys
        missing: dict[str, set[int]] = {}
        for pair in set(pairs).difference(keys):
            missing.setdefault(pair[0], set()).add(pair[1])
        for model, wanted in sorted(missing.items()):
            ordered = sorted(wanted)
            ages = ages_in_months(self.as_of, np.array(ordered, dtype=np.int64)).tolist()
            values = self._model(model).at(ages)
            regime = cast(Regime, values.regime)
            for d, age, value, life in zip(
                ordered, ages, values.value_per_gpu, values.remaining_life_months, strict=True
            ):
                self.facts.append(
                    Fair(value, regime, values.frontier_precision, life, round(age, 2))
                )
                keys[model, d] = len(self.facts) - 1  # published once its fact is there
            self.ages += len(ordered)

    def _per_gpu_cents(self, key: Ints, out: list[str]) -> Ints:
        """Per asset, the per-GPU value of its key in its currency, in cents."""
        if not len(out):
            return np.zeros(0, dtype=np.int64)
        currencies = set(out)
        tables: dict[str, Ints] = {}
        for currency in currencies:
            table = self.table.per_gpu.get(currency)
            if table is None or len(table) <= int(key.max()):
                with self.table.lock:
                    table = self._per_gpu_table(currency)
            tables[currency] = table
        if len(currencies) == 1:
            return tables[out[0]][key]
        per_gpu = np.empty(len(out), dtype=np.int64)
        codes = np.array(out)
        for currency in currencies:
            mask = codes == currency
            per_gpu[mask] = tables[currency][key[mask]]
        return per_gpu

    def _per_gpu_table(self, currency: str) -> Ints:
        """Every key's per-GPU value in ``currency``, in cents (the table's lock held)."""
        table = self.table.per_gpu.get(currency, np.zeros(0, dtype=np.int64))
        if len(table) < len(self.facts):
            usd = np.array(
                [f.value_per_gpu_usd for f in self.facts[len(table) :]], dtype=np.float64
            )
            fresh = _round_cents(usd / self.rates[currency].usd_per_unit)
            self.table.per_gpu[currency] = table = np.concatenate([table, fresh])
        return table

    # --- book value ---------------------------------------------------------------------------

    def _book(self, batch: AssetBatch, start: Ints) -> tuple[Ints, Ints]:
        """(schedule row reported or -1, closing book value in cents) per asset."""
        changes = batch.changes
        months = _months(start)
        year, month = months // 12, months % 12 + 1
        day = start - _first_days(months) + 1
        values = closing_book_values(
            cost=np.array(batch.cost, dtype=np.float64),
            salvage=np.array(batch.salvage, dtype=np.float64),
            life_months=np.array(batch.life_months, dtype=np.int64),
            method=np.array([_CODES.get(m, -1) for m in batch.method], dtype=np.int64),
            year=year,
            month=month,
            day=day,
            closed_year=self.closed.year,
            closed_month=self.closed.month,
            change_asset=[c.index for c in changes],
            change_year=[int(c.effective_month[:4]) for c in changes],
            change_month=[int(c.effective_month[5:7]) for c in changes],
            change_life=[c.new_life_months for c in changes],
            change_salvage=[c.new_salvage for c in changes],
        )
        rows, book = values.row, values.book_cents
        for i in np.flatnonzero(~values.exact).tolist():
            rows[i], book[i] = self._schedule(batch, i)
        return rows, book

    def _schedule(self, batch: AssetBatch, i: int) -> tuple[int, int]:
        """The exact schedule, for terms the vectorised path does not take (it explains)."""
        terms = BookTerms(
            batch.cost[i],
            batch.salvage[i],
            batch.life_months[i],
            batch.in_service_on[i],
            cast(Method, batch.method[i]),
            tuple(
                Change(
                    date.fromisoformat(f"{c.effective_month}-01"), c.new_life_months, c.new_salvage
                )
                for c in batch.changes
                if c.index == i
            ),
        )
        rows = terms.schedule()
        self.schedules += 1
        first = rows[0].month
        index = (self.closed.year - first.year) * 12 + self.closed.month - first.month
        if index < 0:
            return -1, int(cents(terms.cost) * 100)
        row = min(index, len(rows) - 1)
        return row, int(rows[row].book_value * 100)

    def _convert(self, amount: Ints, source: list[str], target: list[str]) -> Ints:
        """Cents in ``source`` currency to cents in ``target``, through US dollars."""
        if source is target:
            return amount
        moved = np.flatnonzero([s != t for s, t in zip(source, target, strict=True)])
        if moved.size == 0:
            return amount
        usd = np.array([self.rates[source[i]].usd_per_unit for i in moved.tolist()])
        per = np.array([self.rates[target[i]].usd_per_unit for i in moved.tolist()])
        out = amount.copy()
        out[moved] = round_cents(amount[moved] / 100.0 * usd / per)
        return out


def _months(days: Ints) -> Ints:
    """Days since 1970-01-01 → their month, counted as ``year × 12 + month − 1``."""
    months: Ints = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months + 1970 * 12


def _first_days(months: Ints) -> Ints:
    """Months counted as ``year × 12 + month − 1`` → their first day, in days since 1970."""
    first: Ints = (
        (months - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    )
    return first
