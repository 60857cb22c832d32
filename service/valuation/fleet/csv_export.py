"""The fleet as CSV: a header, one row per asset, one totals row per currency, in chunks."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from service.valuation.fleet.repository import AssetBatch
from service.valuation.fleet.totals import CurrencyTotals, Totals
from service.valuation.fleet.valuation import FleetValuation, Lines

__all__ = ["CSV_CHUNK_ROWS", "CSV_HEADER", "csv_chunks"]

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


def csv_chunks(
    valuation: FleetValuation,
    batches: Iterable[AssetBatch],
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
    written = 0
    for batch in batches:
        lines = valuation.value(batch)
        totals.add(lines)
        rows = _asset_rows(lines)
        start = 0
        while start < len(rows):
            take = min(len(rows) - start, chunk_rows - written % chunk_rows)
            writer.writerows(rows[start : start + take])
            start, written = start + take, written + take
            if written % chunk_rows == 0:
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


def money(value: int) -> str:
    """Cents as the decimal string of the amount: ``-1234.50``."""
    sign, value = ("-", -value) if value < 0 else ("", value)
    return f"{sign}{value // 100}.{value % 100:02d}"


def _asset_rows(lines: Lines) -> list[tuple[object, ...]]:
    a = lines.assets
    return [
        (
            "asset",
            1,
            asset_id,
            tag,
            model,
            status,
            gpus,
            in_service.isoformat(),
            f"{age:.2f}",
            currency,
            money(cost),
            month or "",
            money(book),
            money(per_gpu),
            money(fair_value),
            money(difference),
            "true" if impaired else "false",
            fair.regime,
            fair.frontier_precision,
            f"{round(fair.remaining_life_months, 2):.2f}",
        )
        for (
            asset_id,
            tag,
            model,
            status,
            gpus,
            in_service,
            age,
            currency,
            cost,
            month,
            book,
            per_gpu,
            fair_value,
            difference,
            impaired,
            fair,
        ) in zip(
            a.id,
            a.tag,
            a.model,
            a.status,
            a.gpu_count,
            a.in_service_on,
            lines.age_months,
            lines.currency,
            lines.acquisition_cost,
            lines.book_month,
            lines.book_value,
            lines.fair_value_per_gpu,
            lines.fair_value,
            lines.difference,
            lines.impaired,
            lines.fair,
            strict=True,
        )
    ]


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
