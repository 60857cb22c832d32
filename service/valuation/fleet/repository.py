"""The SQL of the fleet valuation: assets with their changes of estimate, read in batches.

One statement (assets outer-joined to their changes, in id order) read through a server-side
cursor (``yield_per``: psycopg's named cursor on PostgreSQL, the sqlite3 cursor stepping on
SQLite), so the whole fleet is read from one snapshot and never held in memory at once. Each
batch is handed over as columns, the shape the vectorised valuation wants.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from service.finance.orm import Asset, BookChange
from service.finance.repository import AssetFilter

__all__ = [
    "STREAM_BATCH",
    "AssetBatch",
    "ChangeRow",
    "asset_batches",
    "count_assets",
    "fleet_currencies",
    "fleet_models",
]

#: Assets per batch: large enough for NumPy to pay, small enough to keep memory flat.
STREAM_BATCH = 5000

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


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """A stored change of estimate of the batch's asset at ``index``."""

    index: int
    effective_month: str  # YYYY-MM
    new_life_months: int | None
    new_salvage: float | None


@dataclass(slots=True)
class AssetBatch:
    """Assets in id order, one list per column (and their changes)."""

    id: list[int] = field(default_factory=list)
    tag: list[str] = field(default_factory=list)
    model: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    gpu_count: list[int] = field(default_factory=list)
    in_service_on: list[date] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    currency: list[str] = field(default_factory=list)
    salvage: list[float] = field(default_factory=list)
    method: list[str] = field(default_factory=list)
    life_months: list[int] = field(default_factory=list)
    changes: list[ChangeRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.id)


def asset_batches(
    session: Session,
    flt: AssetFilter,
    *,
    after: int | None = None,
    limit: int | None = None,
    size: int = STREAM_BATCH,
) -> Iterator[AssetBatch]:
    """Assets matching ``flt`` (after id ``after``, at most ``limit``) in batches of about
    ``size``; an asset's changes always come in the same batch as the asset."""
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
    result = session.execute(stmt, execution_options={"yield_per": size})
    pending: list[Row[*tuple[Any, ...]]] = []
    for part in result.partitions():
        rows = pending + list(part)
        cut = len(rows)
        while cut > 0 and rows[cut - 1][0] == rows[-1][0]:
            cut -= 1  # the last asset may have more changes in the next part
        if cut:
            yield _batch(rows[:cut])
        pending = rows[cut:]
    if pending:
        yield _batch(pending)


def _batch(rows: Sequence[Row[*tuple[Any, ...]]]) -> AssetBatch:
    out = AssetBatch()
    previous = None
    for row in rows:
        ident = row[0]
        if ident != previous:
            previous = ident
            out.id.append(ident)
            out.tag.append(row[1])
            out.model.append(row[2])
            out.status.append(row[3])
            out.gpu_count.append(row[4])
            out.in_service_on.append(row[5])
            out.cost.append(row[6])
            out.currency.append(row[7])
            out.salvage.append(row[8])
            out.method.append(row[9])
            out.life_months.append(row[10])
        if row[11] is not None:
            out.changes.append(ChangeRow(len(out.id) - 1, row[11], row[12], row[13]))
    return out


def count_assets(session: Session, flt: AssetFilter) -> int:
    return session.scalar(select(func.count()).select_from(Asset).where(*flt.clauses())) or 0


def fleet_currencies(session: Session, flt: AssetFilter) -> set[str]:
    return set(session.scalars(select(Asset.currency).where(*flt.clauses()).distinct()))


def fleet_models(session: Session, flt: AssetFilter) -> list[str]:
    return sorted(session.scalars(select(Asset.model_slug).where(*flt.clauses()).distinct()))
