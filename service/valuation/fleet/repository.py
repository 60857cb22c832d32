"""The SQL of the fleet valuation: assets with their changes of estimate, read in batches.

One statement (assets outer-joined to their changes, in id order), so the whole fleet is read
from one snapshot and never held in memory at once. The statement is built and compiled by
SQLAlchemy but its rows are fetched from the driver's own cursor as plain tuples, many at a
time, with no ORM or ``Row`` object per row: a named (server-side) cursor on PostgreSQL, the
sqlite3 cursor stepping on SQLite. Each batch is handed over as columns, the shape the
vectorised valuation wants.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from service.finance.orm import Asset, BookChange
from service.finance.repository import AssetFilter

__all__ = [
    "STREAM_BATCH",
    "AssetBatch",
    "ChangeRow",
    "asset_batches",
    "count_assets",
    "fleet_census",
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
_CHANGE = 11  # index of the first change column
_cursor_names = itertools.count(1)


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
    pending: list[tuple[Any, ...]] = []
    for part in _fetch(session.connection(), stmt, size):
        rows = pending + part if pending else part
        cut = len(rows)
        last = rows[-1][0]
        while cut > 0 and rows[cut - 1][0] == last:
            cut -= 1  # the last asset may have more changes in the next part
        if cut:
            yield _batch(rows[:cut])
        pending = rows[cut:]
    if pending:
        yield _batch(pending)


def _fetch(
    connection: Connection, stmt: ClauseElement, size: int
) -> Iterator[list[tuple[Any, ...]]]:
    """The statement's rows as the driver returns them, ``size`` at a time."""
    sql, params = _driver_sql(connection, stmt)
    raw: Any = connection.connection.driver_connection
    postgres = connection.dialect.name == "postgresql"
    if postgres:  # a named cursor lives on the server; binary rows load faster than text
        cursor = raw.cursor(name=f"fleet_{next(_cursor_names)}", binary=True)
    else:
        cursor = raw.cursor()
    try:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(size):
            yield rows
    finally:
        cursor.close()


def _driver_sql(connection: Connection, stmt: ClauseElement) -> tuple[str, Any]:
    """The statement as the driver takes it: SQL text and parameters, each parameter through
    its type's bind processor (a date becomes the text SQLite stores, for instance)."""
    dialect = connection.dialect
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    assert isinstance(compiled, SQLCompiler)
    values = dict(compiled.construct_params() or {})
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None and name in values:
            values[name] = process(values[name])
    if compiled.positiontup is not None:
        return compiled.string, tuple(values[name] for name in compiled.positiontup)
    return compiled.string, values


def _batch(rows: Sequence[tuple[Any, ...]]) -> AssetBatch:
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    month = columns[_CHANGE]
    changes: list[ChangeRow] = []
    if month.count(None) != len(month):
        ident = columns[0]
        first = [True, *(a != b for a, b in zip(ident[1:], ident, strict=False))]
        index = list(itertools.accumulate(first))  # 1-based position of each row's asset
        changes = [
            ChangeRow(index[i] - 1, month[i], columns[_CHANGE + 1][i], columns[_CHANGE + 2][i])
            for i, m in enumerate(month)
            if m is not None
        ]
        if not all(first):
            columns = [list(itertools.compress(c, first)) for c in columns[:_CHANGE]]
    dates: Sequence[Any] = columns[5]
    if dates and isinstance(dates[0], str):  # SQLite returns the stored ISO text
        dates = list(map(date.fromisoformat, dates))
    return AssetBatch(
        id=list(columns[0]),
        tag=list(columns[1]),
        model=list(columns[2]),
        status=list(columns[3]),
        gpu_count=list(columns[4]),
        in_service_on=list(dates),
        cost=list(columns[6]),
        currency=list(columns[7]),
        salvage=list(columns[8]),
        method=list(columns[9]),
        life_months=list(columns[10]),
        changes=changes,
    )


def count_assets(session: Session, flt: AssetFilter) -> int:
    return session.scalar(select(func.count()).select_from(Asset).where(*flt.clauses())) or 0


def fleet_census(session: Session, flt: AssetFilter) -> dict[str, int]:
    """The number of assets matching ``flt`` per currency (one scan)."""
    stmt = select(Asset.currency, func.count()).where(*flt.clauses()).group_by(Asset.currency)
    return {currency: count for currency, count in session.execute(stmt)}


def fleet_currencies(session: Session, flt: AssetFilter) -> set[str]:
    return set(session.scalars(select(Asset.currency).where(*flt.clauses()).distinct()))


def fleet_models(session: Session, flt: AssetFilter) -> list[str]:
    return sorted(session.scalars(select(Asset.model_slug).where(*flt.clauses()).distinct()))
