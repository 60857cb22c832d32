"""Fleet valuation: every asset's fair value beside its book value on a date.

For each asset of the register, on ``as_of``:

- **Fair value** = the engine's residual value per GPU of the asset's model at the asset's age
  (days since ``in_service_on`` / 30.4375, as ``/residual?in_service_on=`` counts it; 0 before
  the in-service date) on the requested premise, × ``gpu_count``. The per-GPU value is rounded
  to the cent first, so ``fair_value = fair_value_per_gpu × gpu_count`` exactly.
- **Book value** = the closing book value of the last month *closed* on ``as_of`` in the
  asset's monthly schedule (:mod:`service.engine.schedule`, prospective changes applied): the
  month of ``as_of`` when ``as_of`` is its last day, else the month before. Ledgers post
  depreciation monthly and the engine has no intra-month schedule, so a mid-month date shows
  the previous month-end, not a pro-rata amount. Before the first month closes the book value
  is the acquisition cost; after the last month it is the final salvage.
- **Difference** = fair − book; **impaired** = book value above the recoverable amount, for
  which the fair value on the requested premise stands in (IAS 36 / ASC 360 compare the higher
  of fair value less costs of disposal and value in use; the engine's premise value is the
  service's estimate of the former).

Amounts are in the asset's currency unless a ``currency`` is requested. The engine answers in
USD; every amount is converted at the FX table's rate for the month of ``as_of`` (the closing
rate, IAS 21.39, so book and fair value of one asset use the same rate and the flag does not
depend on the currency asked for); the rates used are reported.

Deterministic: nothing here reads a clock. The same ``as_of`` and ``known_at`` give the same
answer as long as the register and the reference data (models, FX, frontier, assumptions) are
unchanged; ``known_at`` filters observations only.

Cost: one calibration per request (the cached one); one engine call per distinct
(model, age in days) pair, memoised for the request; one book schedule per asset (recent book
terms memoised: units bought together share them). Assets are read by one streaming statement
and CSV is written in chunks, so memory does not grow with the fleet.
"""

from __future__ import annotations

import calendar
import csv
import io
import itertools
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, cast

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from service import engine
from service.engine.fx import month_key
from service.engine.schedule import METHODS, Change, Method
from service.engine.types import Premise
from service.errors import FieldError, InvalidInput
from service.finance.orm import Asset, BookChange
from service.finance.repository import AssetFilter
from service.finance.service import BookTerms
from service.valuation.service import Context

__all__ = [
    "CSV_CHUNK_ROWS",
    "CSV_HEADER",
    "AssetLine",
    "AssetRecord",
    "FleetValuation",
    "Rate",
    "Totals",
    "asset_records",
    "closed_month",
    "count_assets",
    "csv_chunks",
    "fleet_currencies",
    "rates_for",
]

Regime = Literal["frontier", "behind"]

DAYS_PER_MONTH = 30.4375
MAX_AGE_MONTHS = 600.0
CSV_CHUNK_ROWS = 1000
# Units bought together share their book terms and sit next to each other in id order; a small
# LRU catches them without growing with the fleet (engine answers are few: models × ages).
BOOK_MEMO = 4096
STREAM_BATCH = 1000
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(amount: float | Decimal) -> Decimal:
    """Half up to the cent, on the shortest decimal that round-trips (as people read it)."""
    exact = amount if isinstance(amount, Decimal) else Decimal(repr(amount))
    return exact.quantize(CENT, rounding=ROUND_HALF_UP)


def closed_month(as_of: date) -> date:
    """First day of the last month closed on ``as_of``: its own month on its last day."""
    if as_of.day == calendar.monthrange(as_of.year, as_of.month)[1]:
        return as_of.replace(day=1)
    if as_of.month == 1:
        return date(as_of.year - 1, 12, 1)
    return date(as_of.year, as_of.month - 1, 1)


# --- reads: the SQL of the fleet valuation ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssetRecord:
    """What the valuation of one asset needs from the register."""

    id: int
    tag: str
    model: str
    status: str
    gpu_count: int
    in_service_on: date
    cost: float
    currency: str
    salvage: float
    method: Method
    life_months: int
    changes: tuple[Change, ...] = ()

    def terms(self) -> BookTerms:
        return BookTerms(
            self.cost, self.salvage, self.life_months, self.in_service_on, self.method, self.changes
        )


_COLUMNS = (
    Asset.id,
    Asset.tag,
    Asset.model_slug,
    Asset.status,
    Asset.gpu_count,
    Asset.in_service_on,
    Asset.acquisition_cost,
    Asset.currency,
    Asset.salvage,
    Asset.book_method,
    Asset.life_months,
    BookChange.effective_month,
    BookChange.new_life_months,
    BookChange.new_salvage,
)


def asset_records(
    session: Session, flt: AssetFilter, *, after: int | None = None, limit: int | None = None
) -> Iterator[AssetRecord]:
    """Assets in id order with their changes of estimate, streamed in batches.

    One statement (assets outer-joined to their changes), so the whole fleet is read from one
    snapshot on both backends and never held in memory at once.
    """
    clauses = flt.clauses()
    if after is not None:
        clauses.append(Asset.id > after)
    stmt = select(*_COLUMNS).outerjoin(BookChange, BookChange.asset_id == Asset.id)
    if limit is None:
        stmt = stmt.where(*clauses)
    else:
        page = select(Asset.id).where(*clauses).order_by(Asset.id).limit(limit)
        stmt = stmt.where(Asset.id.in_(page.scalar_subquery()))
    stmt = stmt.order_by(Asset.id, BookChange.effective_month)
    rows = session.execute(stmt, execution_options={"yield_per": STREAM_BATCH})
    for _, group in itertools.groupby(rows, key=lambda row: row[0]):
        yield _record(list(group))


def _record(rows: Sequence[Row[*tuple[Any, ...]]]) -> AssetRecord:
    first = rows[0]
    method = first.book_method
    if method not in METHODS:  # the table's CHECK constraint makes this unreachable
        raise ValueError(f"asset {first.id} has an unknown book method {method!r}")
    changes = tuple(
        Change(date.fromisoformat(f"{r.effective_month}-01"), r.new_life_months, r.new_salvage)
        for r in rows
        if r.effective_month is not None
    )
    return AssetRecord(
        first.id,
        first.tag,
        first.model_slug,
        first.status,
        first.gpu_count,
        first.in_service_on,
        first.acquisition_cost,
        first.currency,
        first.salvage,
        cast(Method, method),
        first.life_months,
        changes,
    )


def count_assets(session: Session, flt: AssetFilter) -> int:
    return session.scalar(select(func.count()).select_from(Asset).where(*flt.clauses())) or 0


def fleet_currencies(session: Session, flt: AssetFilter) -> set[str]:
    return set(session.scalars(select(Asset.currency).where(*flt.clauses()).distinct()))


# --- FX -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rate:
    """US dollars per unit of ``currency`` for ``month_used`` (``extrapolated`` when the FX
    table lacks the month of ``as_of`` and the nearest earlier month stands in)."""

    currency: str
    usd_per_unit: float
    month_used: str
    extrapolated: bool


def rates_for(
    ctx: Context, currencies: Iterable[str], *, as_of: date, requested: str | None
) -> dict[str, Rate]:
    """The rate of the month of ``as_of`` for each currency; an unknown one is a 422."""
    month = month_key(as_of)
    wanted = sorted({*currencies, *([requested] if requested else [])})
    out: dict[str, Rate] = {}
    for currency in wanted:
        try:
            usd, used, extrapolated = ctx.calibration.fx.rate(currency, month)
        except ValueError as exc:
            known = ", ".join(sorted(ctx.calibration.fx.currencies))
            field_name = "query.currency" if currency == requested else "asset.currency"
            raise InvalidInput(
                f"No FX rates for {currency}; known: {known}.",
                errors=[FieldError(field=field_name, reason=f"unsupported; known: {known}")],
            ) from exc
        out[currency] = Rate(currency, usd, used, extrapolated)
    return out


# --- the valuation of one asset -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fair:
    """What the engine says about one (model, age) on ``as_of``; value in USD per GPU."""

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


class FleetValuation:
    """One request's valuation of a fleet: the calibration, the rates and the memos.

    ``engine_calls`` and ``schedules`` count the work done, for benchmarks and tests.
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
        self.schedules = 0
        self._fair: dict[tuple[str, int], Fair] = {}
        self._book: OrderedDict[BookTerms, tuple[str | None, Decimal]] = OrderedDict()

    def line(self, asset: AssetRecord) -> AssetLine:
        out = self.currency or asset.currency
        days = max((self.as_of - asset.in_service_on).days, 0)
        fair = self._fair_of(asset.model, days)
        per_gpu = cents(fair.value_per_gpu_usd / self.rates[out].usd_per_unit)
        fair_value = per_gpu * asset.gpu_count
        book_month, book_native = self._book_of(asset)
        book = self._convert(book_native, asset.currency, out)
        return AssetLine(
            asset_id=asset.id,
            tag=asset.tag,
            model=asset.model,
            status=asset.status,
            gpu_count=asset.gpu_count,
            in_service_on=asset.in_service_on,
            age_months=round(_age_months(days), 2),
            currency=out,
            acquisition_cost=self._convert(cents(asset.cost), asset.currency, out),
            book_month=book_month,
            book_value=book,
            fair_value_per_gpu=per_gpu,
            fair_value=fair_value,
            difference=fair_value - book,
            impaired=book > fair_value,
            regime=fair.regime,
            frontier_precision=fair.frontier_precision,
            remaining_life_months=round(fair.remaining_life_months, 2),
        )

    def _fair_of(self, model: str, days: int) -> Fair:
        key = (model, days)
        hit = self._fair.get(key)
        if hit is None:
            try:
                r = engine.residual(
                    self.ctx.calibration,
                    self.ctx.calibration.models[model],
                    as_of=self.as_of,
                    age_months=_age_months(days),
                    premise=self.premise,
                    assumptions=self.assumptions,
                )
            except engine.EngineInputError as exc:
                raise InvalidInput(
                    f"Cannot value assets of {model} on {self.as_of.isoformat()}: {exc.reason}",
                    errors=[FieldError(field=exc.field, reason=exc.reason)],
                ) from exc
            self.engine_calls += 1
            regime: Regime = "behind" if r.regime == "behind" else "frontier"
            hit = self._fair[key] = Fair(
                r.value_per_gpu, regime, r.frontier_precision, r.remaining_life_months
            )
        return hit

    def _book_of(self, asset: AssetRecord) -> tuple[str | None, Decimal]:
        terms = asset.terms()
        hit = self._book.get(terms)
        if hit is None:
            hit = self._book[terms] = self._closing_book(terms)
            if len(self._book) > BOOK_MEMO:
                self._book.popitem(last=False)
        return hit

    def _closing_book(self, terms: BookTerms) -> tuple[str | None, Decimal]:
        rows = terms.schedule()  # once per distinct terms; rows are consecutive months
        self.schedules += 1
        first = rows[0].month
        index = (self.closed.year - first.year) * 12 + self.closed.month - first.month
        if index < 0:
            return None, cents(terms.cost)
        row = rows[min(index, len(rows) - 1)]
        return f"{row.month:%Y-%m}", row.book_value

    def _convert(self, amount: Decimal, source: str, target: str) -> Decimal:
        if source == target:
            return amount
        usd = float(amount) * self.rates[source].usd_per_unit
        return cents(usd / self.rates[target].usd_per_unit)


def _age_months(days: int) -> float:
    return min(days / DAYS_PER_MONTH, MAX_AGE_MONTHS)


# --- totals -------------------------------------------------------------------------------------


@dataclass(slots=True)
class CurrencyTotals:
    currency: str
    count: int = 0
    gpu_count: int = 0
    acquisition_cost: Decimal = ZERO
    book_value: Decimal = ZERO
    fair_value: Decimal = ZERO
    difference: Decimal = ZERO
    impaired: int = 0

    def add(self, line: AssetLine) -> None:
        self.count += 1
        self.gpu_count += line.gpu_count
        self.acquisition_cost += line.acquisition_cost
        self.book_value += line.book_value
        self.fair_value += line.fair_value
        self.difference += line.difference
        self.impaired += line.impaired


@dataclass(slots=True)
class Totals:
    """Sums of the lines, one per currency (one only when a currency was requested)."""

    by: dict[str, CurrencyTotals] = field(default_factory=dict)

    def add(self, line: AssetLine) -> None:
        entry = self.by.get(line.currency)
        if entry is None:
            entry = self.by[line.currency] = CurrencyTotals(line.currency)
        entry.add(line)

    @property
    def count(self) -> int:
        return sum(t.count for t in self.by.values())

    @property
    def impaired(self) -> int:
        return sum(t.impaired for t in self.by.values())

    def by_currency(self) -> list[CurrencyTotals]:
        return [self.by[c] for c in sorted(self.by)]


# --- CSV ----------------------------------------------------------------------------------------

CSV_HEADER = (
    "record",
    "count",
    "asset_id",
    "tag",
    "model",
    "status",
    "gpu_count",
    "in_service_on",
    "age_months",
    "currency",
    "acquisition_cost",
    "book_month",
    "book_value",
    "fair_value_per_gpu",
    "fair_value",
    "difference",
    "impaired",
    "regime",
    "frontier_precision",
    "remaining_life_months",
)


def csv_chunks(
    valuation: FleetValuation,
    records: Iterable[AssetRecord],
    *,
    chunk_rows: int | None = None,
) -> Iterator[str]:
    """The header, one row per asset and one totals row per currency, ``chunk_rows`` rows
    (default :data:`CSV_CHUNK_ROWS`) at a time. A totals row has ``record=total``, the number of
    assets in ``count`` and the number of impaired ones in ``impaired``; an empty fleet still
    ends with a (zero) totals row."""
    chunk_rows = chunk_rows or CSV_CHUNK_ROWS
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    yield _drain(buffer)
    totals = Totals()
    for n, record in enumerate(records, start=1):
        line = valuation.line(record)
        totals.add(line)
        writer.writerow(_asset_row(line))
        if n % chunk_rows == 0:
            yield _drain(buffer)
    by_currency = totals.by_currency() or [CurrencyTotals(valuation.currency or "")]
    for entry in by_currency:
        writer.writerow(_total_row(entry))
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _asset_row(line: AssetLine) -> tuple[object, ...]:
    return (
        "asset",
        1,
        line.asset_id,
        line.tag,
        line.model,
        line.status,
        line.gpu_count,
        line.in_service_on.isoformat(),
        f"{line.age_months:.2f}",
        line.currency,
        line.acquisition_cost,
        line.book_month or "",
        line.book_value,
        line.fair_value_per_gpu,
        line.fair_value,
        line.difference,
        "true" if line.impaired else "false",
        line.regime,
        line.frontier_precision,
        f"{line.remaining_life_months:.2f}",
    )


def _total_row(t: CurrencyTotals) -> tuple[object, ...]:
    return (
        "total",
        t.count,
        "",
        "",
        "",
        "",
        t.gpu_count,
        "",
        "",
        t.currency,
        t.acquisition_cost,
        "",
        t.book_value,
        "",
        t.fair_value,
        t.difference,
        t.impaired,
        "",
        "",
        "",
    )
