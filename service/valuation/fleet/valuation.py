"""The valuation of a batch of assets on ``as_of``: fair value beside book value, in cents.

Columns in, columns out: a batch of assets (:class:`~.repository.AssetBatch`) becomes
:class:`Lines`. Fair values come from one engine state per model
(:class:`service.engine.by_age.ModelValues`) evaluated once per distinct age in days, memoised
for the request; book values from :func:`service.engine.book.closing_book_values` for the whole
batch at once (the schedule itself only for terms the vectorised path leaves to it). Money is
counted in integer cents, which is what the previous per-asset ``Decimal`` arithmetic gave
to the cent: each amount is rounded once, half up on its shortest decimal, and sums of cents
are exact.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal, cast

import numpy as np

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

__all__ = ["AssetLine", "FleetValuation", "Lines", "closed_month"]

Regime = Literal["frontier", "behind"]

_CODES: dict[str, int] = {str(name): code for name, code in METHOD_CODES.items()}
MAX_AGE_MONTHS = 600.0


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


def _decimal(cents_: int) -> Decimal:
    return Decimal(cents_).scaleb(-2)


# --- lines ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fair:
    """What the engine says about one (model, age in days) on ``as_of``; USD per GPU."""

    value_per_gpu_usd: float
    regime: Regime
    frontier_precision: str
    remaining_life_months: float


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
    """A batch valued: one entry per asset in every column; money in integer cents."""

    assets: AssetBatch
    currency: list[str]
    age_months: list[float]
    acquisition_cost: list[int]
    book_month: list[str | None]
    book_value: list[int]
    fair_value_per_gpu: list[int]
    fair_value: list[int]
    difference: list[int]
    impaired: list[bool]
    fair: list[Fair]

    def __len__(self) -> int:
        return len(self.currency)

    def item(self, i: int) -> AssetLine:
        a, fair = self.assets, self.fair[i]
        return AssetLine(
            asset_id=a.id[i],
            tag=a.tag[i],
            model=a.model[i],
            status=a.status[i],
            gpu_count=a.gpu_count[i],
            in_service_on=a.in_service_on[i],
            age_months=self.age_months[i],
            currency=self.currency[i],
            acquisition_cost=_decimal(self.acquisition_cost[i]),
            book_month=self.book_month[i],
            book_value=_decimal(self.book_value[i]),
            fair_value_per_gpu=_decimal(self.fair_value_per_gpu[i]),
            fair_value=_decimal(self.fair_value[i]),
            difference=_decimal(self.difference[i]),
            impaired=self.impaired[i],
            regime=fair.regime,
            frontier_precision=fair.frontier_precision,
            remaining_life_months=round(fair.remaining_life_months, 2),
        )


class FleetValuation:
    """One request's valuation of a fleet: the calibration, the rates and the memos.

    ``engine_calls`` counts model states built (one per model) and ``ages`` the ages valued
    from them; ``schedules`` the book schedules the vectorised path left to the exact one.
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
        self._models: dict[str, ModelValues] = {}
        self._fair: dict[tuple[str, int], Fair] = {}
        self._per_gpu: dict[tuple[str, int, str], int] = {}
        self._age: dict[int, float] = {}
        self._months: dict[int, str] = {}

    def prepare(self, models: Iterable[str]) -> None:
        """Build each model's engine state now, so that a model the engine cannot value on
        ``as_of`` is refused before an answer starts (a 422, not a broken stream)."""
        for model in models:
            self._model(model)

    def value(self, batch: AssetBatch) -> Lines:
        n = len(batch)
        ordinal = self.as_of.toordinal()
        days = [max(ordinal - d.toordinal(), 0) for d in batch.in_service_on]
        keys = list(zip(batch.model, days, strict=True))
        self._value_fair(keys)
        out = [self.currency] * n if self.currency else batch.currency
        fair = [self._fair[k] for k in keys]
        per_gpu = np.array(
            [self._per_gpu_cents(m, d, o) for (m, d), o in zip(keys, out, strict=True)],
            dtype=np.int64,
        )
        fair_value = per_gpu * np.array(batch.gpu_count, dtype=np.int64)
        rows, book_native = self._book(batch)
        book = self._convert(book_native, batch.currency, out)
        cost = self._convert(
            round_cents(np.array(batch.cost, dtype=np.float64)), batch.currency, out
        )
        first = [d.year * 12 + d.month - 1 for d in batch.in_service_on]
        return Lines(
            assets=batch,
            currency=out,
            age_months=[self._age_of(d) for d in days],
            acquisition_cost=cost.tolist(),
            book_month=[
                None if r < 0 else self._month(f + r)
                for f, r in zip(first, rows.tolist(), strict=True)
            ],
            book_value=book.tolist(),
            fair_value_per_gpu=per_gpu.tolist(),
            fair_value=fair_value.tolist(),
            difference=(fair_value - book).tolist(),
            impaired=(book > fair_value).tolist(),
            fair=fair if n else [],
        )

    # --- fair value ---------------------------------------------------------------------------

    def _model(self, model: str) -> ModelValues:
        hit = self._models.get(model)
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
            self._models[model] = hit
            self.engine_calls += 1
        return hit

    def _value_fair(self, keys: Sequence[tuple[str, int]]) -> None:
        """One engine evaluation per new (model, days), all ages of a model in one call."""
        missing: dict[str, set[int]] = {}
        for key in keys:
            if key not in self._fair:
                missing.setdefault(key[0], set()).add(key[1])
        for model, wanted in missing.items():
            days = sorted(wanted)
            values = self._model(model).at([_age_months(self.as_of, d) for d in days])
            regime = cast(Regime, values.regime)
            for d, value, life in zip(
                days, values.value_per_gpu, values.remaining_life_months, strict=True
            ):
                self._fair[model, d] = Fair(value, regime, values.frontier_precision, life)
            self.ages += len(days)

    def _per_gpu_cents(self, model: str, days: int, out: str) -> int:
        key = (model, days, out)
        hit = self._per_gpu.get(key)
        if hit is None:
            usd = self._fair[model, days].value_per_gpu_usd
            hit = self._per_gpu[key] = int(cents(usd / self.rates[out].usd_per_unit) * 100)
        return hit

    def _age_of(self, days: int) -> float:
        hit = self._age.get(days)
        if hit is None:
            hit = self._age[days] = round(_age_months(self.as_of, days), 2)
        return hit

    # --- book value ---------------------------------------------------------------------------

    def _book(self, batch: AssetBatch) -> tuple[np.ndarray, np.ndarray]:
        """(schedule row reported or -1, closing book value in cents) per asset."""
        changes = batch.changes
        values = closing_book_values(
            cost=np.array(batch.cost, dtype=np.float64),
            salvage=np.array(batch.salvage, dtype=np.float64),
            life_months=np.array(batch.life_months, dtype=np.int64),
            method=np.array([_CODES.get(m, -1) for m in batch.method], dtype=np.int64),
            year=np.array([d.year for d in batch.in_service_on], dtype=np.int64),
            month=np.array([d.month for d in batch.in_service_on], dtype=np.int64),
            day=np.array([d.day for d in batch.in_service_on], dtype=np.int64),
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

    def _month(self, index: int) -> str:
        hit = self._months.get(index)
        if hit is None:
            hit = self._months[index] = f"{index // 12:04d}-{index % 12 + 1:02d}"
        return hit

    def _convert(self, amount: np.ndarray, source: list[str], target: list[str]) -> np.ndarray:
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
