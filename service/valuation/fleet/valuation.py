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

from collections.abc import Iterable, Mapping
from datetime import date
from typing import cast

import numpy as np
import numpy.typing as npt

from service import engine
from service.engine.book import round_cents
from service.engine.by_age import ModelValues
from service.engine.schedule import Method
from service.engine.types import Premise, cents
from service.errors import FieldError, InvalidInput
from service.finance.service import BookTerms
from service.valuation.fleet.ages import EPOCH, ages_in_months, closed_month, months_of
from service.valuation.fleet.fx import Rate
from service.valuation.fleet.lines import Fair, FairTable, Ints, Lines, Regime
from service.valuation.fleet.register import (
    Register,
    changes_of,
    closing_on_schedule,
    closing_values,
    method_codes,
)
from service.valuation.fleet.repository import AssetBatch, gc_paused
from service.valuation.fleet.totals import Totals
from service.valuation.service import Context

__all__ = ["FleetValuation"]


def _round_cents(amount: npt.NDArray[np.float64]) -> Ints:
    """Each amount to the cent, half up on its shortest decimal, as :func:`cents` rounds."""
    out = round_cents(np.maximum(amount, 0.0))
    for i in np.flatnonzero(amount < 0).tolist():
        out[i] = int(cents(float(amount[i])) * 100)
    return out


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
        start = np.array([d.toordinal() for d in batch.in_service_on], dtype=np.int64) - EPOCH
        days = np.maximum(self.as_of.toordinal() - EPOCH - start, 0)
        key = self._key_of(batch.model, days.tolist())
        out = [self.currency] * n if self.currency else batch.currency
        per_gpu = self._per_gpu_cents(key, out)
        fair_value = per_gpu * np.array(batch.gpu_count, dtype=np.int64)
        rows, book_native = self._book(batch, start)
        book = self._convert(book_native, batch.currency, out)
        cost = self._convert(
            round_cents(np.array(batch.cost, dtype=np.float64)), batch.currency, out
        )
        first = months_of(start)
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

    def totals(self, register: Register) -> Totals:
        """The totals of the whole register, as :meth:`value` of every asset summed by
        :meth:`Totals.add` gives them (the same cents, asset by asset), computed on whole
        columns: one key per distinct (model, days in service), the register's book values
        of the closed month, the conversions and sums vectorised per currency."""
        with gc_paused():  # thousands of engine objects per model, none in a cycle
            return self._totals(register)

    def _totals(self, register: Register) -> Totals:
        totals = Totals()
        n = len(register)
        if n == 0:
            return totals
        held = np.flatnonzero(np.bincount(register.model, minlength=len(register.models)))
        # the models some asset holds (the register's names only grow), in fleet_models() order
        self.prepare(sorted(register.models[i] for i in held.tolist()))
        days = np.maximum(self.as_of.toordinal() - EPOCH - register.start, 0)
        pair = register.model * (1 << 32) + days
        distinct, inverse = np.unique(pair, return_inverse=True)
        models = register.models
        pairs = [(models[p >> 32], p & 0xFFFFFFFF) for p in distinct.tolist()]
        key = self._key_of([m for m, _ in pairs], [d for _, d in pairs])[inverse.ravel()]
        native = register.currency
        names = register.currencies
        if self.currency:
            out, out_names = np.zeros(n, dtype=np.int64), [self.currency]
        else:
            out, out_names = native, names
        per_gpu = np.empty(n, dtype=np.int64)
        for c, name in enumerate(out_names):
            mask = out == c
            if not mask.any():  # a currency the register once held (its assets since deleted)
                continue
            table = self.table.per_gpu.get(name)
            if table is None or len(table) <= int(key.max()):
                with self.table.lock:
                    table = self._per_gpu_table(name)
            per_gpu[mask] = table[key[mask]]
        fair = per_gpu * register.gpu_count
        book = self._convert_columns(register.book(self.closed).cents, native, names, out_names)
        cost = self._convert_columns(round_cents(register.cost), native, names, out_names)
        totals.add_columns(
            out,
            out_names,
            {
                "gpu_count": register.gpu_count,
                "acquisition_cost": cost,
                "book_value": book,
                "fair_value": fair,
                "difference": fair - book,
                "impaired": (book > fair).astype(np.int64),
            },
        )
        return totals

    def _convert_columns(
        self, amount: Ints, source: Ints, names: list[str], targets: list[str]
    ) -> Ints:
        """:meth:`_convert` for whole columns: cents in each entry's currency ``names[source]``
        to cents in the requested currency (``targets``, one name), through US dollars, the
        same operations per entry."""
        if not self.currency:
            return amount
        target = self.rates[targets[0]].usd_per_unit
        usd = np.array(  # NaN for a currency the register names but no asset is in
            [r.usd_per_unit if (r := self.rates.get(name)) else np.nan for name in names],
            dtype=np.float64,
        )
        moved = np.flatnonzero(np.array([name != targets[0] for name in names])[source])
        if moved.size == 0:
            return amount
        out = amount.copy()
        per = np.full(moved.size, target)
        out[moved] = round_cents(amount[moved] / 100.0 * usd[source[moved]] / per)
        return out

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
        values = closing_values(
            start=start,
            cost=np.array(batch.cost, dtype=np.float64),
            salvage=np.array(batch.salvage, dtype=np.float64),
            life=np.array(batch.life_months, dtype=np.int64),
            method=method_codes(batch.method),
            changes=[(c.index, c) for c in batch.changes],
            closed=self.closed,
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
            changes_of(batch.changes, i),
        )
        self.schedules += 1
        return closing_on_schedule(terms, self.closed)

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
