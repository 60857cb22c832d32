"""The fleet as CSV: a header, one row per asset, one totals row per currency, in chunks.

Rows are formatted a column at a time, not a row at a time: money columns from the arrays of
cents in one pass each, what depends only on an asset's (model, age) (its model, age, regime,
frontier precision and economic life left) once per key of the valuation, and each row is the
comma-join of its column strings. The text is what :mod:`csv`'s default writer writes (minimal
quoting, ``\\r\\n`` line ends), byte for byte; only the tag, free text, is ever quoted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from service.valuation.fleet.ages import month_text
from service.valuation.fleet.lines import Fair, Lines
from service.valuation.fleet.repository import AssetBatch
from service.valuation.fleet.totals import CurrencyTotals, Totals
from service.valuation.fleet.valuation import FleetValuation

__all__ = ["CSV_CHUNK_ROWS", "CSV_HEADER", "csv_chunks", "field", "money", "money_column"]

CSV_CHUNK_ROWS = 1000

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

_EOL = "\r\n"
_SPECIAL = frozenset(',"\r\n')
#: Below this many cents (10¹¹ units) a float64 holds ``cents / 100`` within far less than half
#: a cent, so formatting it to two decimals gives the exact amount.
_FLOAT_EXACT = 10**13

K = TypeVar("K", bound=Hashable)


def csv_chunks(
    valuation: FleetValuation,
    batches: Iterable[AssetBatch],
    *,
    chunk_rows: int | None = None,
    totals: Totals | None = None,
) -> Iterator[str]:
    """The header, one row per asset and one totals row per currency, ``chunk_rows`` rows
    (default :data:`CSV_CHUNK_ROWS`) at a time. A totals row has ``record=total``, the number of
    assets in ``count`` and the number of impaired ones in ``impaired``; an empty fleet still
    ends with a (zero) totals row. The sums are made in ``totals`` when given."""
    chunk_rows = chunk_rows or CSV_CHUNK_ROWS
    yield ",".join(CSV_HEADER) + _EOL
    formatter = _Formatter(valuation)
    totals = Totals() if totals is None else totals
    written = 0
    parts: list[str] = []
    for batch in batches:
        lines = valuation.value(batch)
        totals.add(lines)
        rows = formatter.rows(lines)
        start = 0
        while start < len(rows):
            take = min(len(rows) - start, chunk_rows - written % chunk_rows)
            parts.append(_EOL.join(rows[start : start + take]) + _EOL)
            start, written = start + take, written + take
            if written % chunk_rows == 0:
                yield "".join(parts)
                parts = []
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for entry in totals.by_currency() or [CurrencyTotals(valuation.currency or "")]:
        writer.writerow(_total_row(entry))
    parts.append(buffer.getvalue())
    yield "".join(parts)


def field(text: str) -> str:
    """One field as :mod:`csv`'s default writer writes it: quoted (inner quotes doubled) when
    it holds a comma, a quote or a line break, else as it is."""
    if _SPECIAL.isdisjoint(text):
        return text
    return '"' + text.replace('"', '""') + '"'


def money(value: int) -> str:
    """Cents as the decimal string of the amount: ``-1234.50``."""
    sign, value = ("-", -value) if value < 0 else ("", value)
    return f"{sign}{value // 100}.{value % 100:02d}"


def money_column(cents: npt.NDArray[np.int64]) -> list[str]:
    """:func:`money` of every entry, in one pass."""
    if cents.size and int(np.abs(cents).max()) >= _FLOAT_EXACT:
        return [money(v) for v in cents.tolist()]
    return list(map("{:.2f}".format, (cents / 100).tolist()))


class _Formatter:
    """Column strings of one request, memoised where values repeat."""

    def __init__(self, valuation: FleetValuation) -> None:
        self.facts = valuation.facts
        self.age: list[str] = []
        self.tail: list[tuple[str, str]] = []  # (not impaired, impaired) + regime, ...
        self.text: dict[str, str] = {}
        self.months: dict[int, str] = {}
        self.days: dict[int, str] = {}

    def rows(self, lines: Lines) -> list[str]:
        """One string per asset (without its line end)."""
        a = lines.assets
        self._extend()
        key = lines.key.tolist()
        age, tail = self.age, self.tail
        money_formats, money_values = [], []
        for cents in (
            lines.acquisition_cost,
            lines.book_value,
            lines.fair_value_per_gpu,
            lines.fair_value,
            lines.difference,
        ):
            exact = not cents.size or int(np.abs(cents).max()) < _FLOAT_EXACT
            money_formats.append("%.2f" if exact else "%s")
            money_values.append(
                (cents / 100).tolist() if exact else list(map(money, cents.tolist()))
            )
        cost, book, per_gpu, fair_value, difference = money_values
        row = "asset,1,%d,%s,%s,%s,%d,%s,%s,%s,{},%s,{},{},{},{},%s".format(*money_formats)
        columns = (
            a.id,
            a.tag if _SPECIAL.isdisjoint("".join(a.tag)) else list(map(field, a.tag)),
            self._memo(a.model, field),
            self._memo(a.status, field),
            a.gpu_count,
            self._dates(lines.start.tolist()),
            [age[k] for k in key],
            self._memo(lines.currency, field),
            cost,
            [self.month(m) for m in lines.month.tolist()],
            book,
            per_gpu,
            fair_value,
            difference,
            [tail[k][b] for k, b in zip(key, lines.impaired.tolist(), strict=True)],
        )
        return list(map(row.__mod__, zip(*columns, strict=True)))

    def _extend(self) -> None:
        for fair in self.facts[len(self.age) :]:
            self.age.append(f"{fair.age_months:.2f}")
            self.tail.append((_tail(fair, "false"), _tail(fair, "true")))

    def _memo(self, values: list[str], make: Callable[[str], str]) -> list[str]:
        text = self.text
        for value in set(values).difference(text):
            text[value] = make(value)
        return [text[v] for v in values]

    def _dates(self, days: list[int]) -> list[str]:
        """ISO dates of days since 1970-01-01 (a fleet has a few thousand distinct ones)."""
        text = self.days
        new = sorted(set(days).difference(text))
        if new:
            iso = np.datetime_as_string(np.array(new, dtype="datetime64[D]")).tolist()
            text.update(zip(new, iso, strict=True))
        return [text[d] for d in days]

    def month(self, index: int) -> str:
        hit = self.months.get(index)
        if hit is None:
            hit = self.months[index] = "" if index < 0 else month_text(index)
        return hit


def _tail(fair: Fair, impaired: str) -> str:
    life = f"{round(fair.remaining_life_months, 2):.2f}"
    return ",".join((impaired, field(fair.regime), field(fair.frontier_precision), life))


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
        money(t.acquisition_cost),
        "",
        money(t.book_value),
        "",
        money(t.fair_value),
        money(t.difference),
        t.impaired,
        "",
        "",
        "",
    )
