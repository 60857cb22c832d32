"""The SQL of the fleet valuation: assets with their changes of estimate, read in batches.

One statement (assets outer-joined to their changes, in id order), so the whole fleet is read
from one snapshot and never held in memory at once. The statement is built and compiled by
SQLAlchemy but its rows are fetched from the driver's own cursor as plain tuples, many at a
time, with no ORM or ``Row`` object per row: a named (server-side) cursor on PostgreSQL, the
sqlite3 cursor stepping on SQLite. Each batch is handed over as columns, the shape the
vectorised valuation wants.
"""

from __future__ import annotations

import gc
import itertools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from service.finance.orm import Asset, BookChange
from service.finance.repository import AssetFilter

__all__ = [
    "REGISTER_BUCKET",
    "REGISTER_PART",
    "STREAM_BATCH",
    "AssetBatch",
    "ChangeRow",
    "asset_batches",
    "count_assets",
    "fleet_census",
    "fleet_currencies",
    "fleet_models",
    "gc_paused",
    "register_changes",
    "register_parts",
    "register_signature",
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
    connection: Connection, stmt: ClauseElement, size: int, *, few: bool = False
) -> Iterator[list[tuple[Any, ...]]]:
    """The statement's rows as the driver returns them, ``size`` at a time (``few``: a
    result small enough to take in one round trip, without a server-side cursor)."""
    sql, params = _driver_sql(connection, stmt)
    raw: Any = connection.connection.driver_connection
    postgres = connection.dialect.name == "postgresql"
    if postgres and few:
        cursor = raw.cursor(binary=True)
    elif postgres:  # a named cursor lives on the server; binary rows load faster than text
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


_REGISTER = (
    Asset.id,
    Asset.model_slug,
    Asset.gpu_count,
    Asset.in_service_on,
    Asset.currency,
    Asset.acquisition_cost,
    Asset.salvage,
    Asset.book_method,
    Asset.life_months,
)


class _GcPause:
    """Pauses of the cyclic garbage collector, counted across threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pauses = 0
        self.resume = False


_GC = _GcPause()


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while the block runs (it resumes when the last
    block running leaves, if it ran before the first). Reading the register makes about a
    million short-lived tuples and values, none in a cycle; the collections they trigger walk
    the whole heap, which made reading the rows take about twice as long."""
    with _GC.lock:
        if _GC.pauses == 0:
            _GC.resume = gc.isenabled()
            gc.disable()
        _GC.pauses += 1
    try:
        yield
    finally:
        with _GC.lock:
            _GC.pauses -= 1
            if _GC.pauses == 0 and _GC.resume:
                gc.enable()


#: Assets are checked for writes in buckets of ids: ``id // REGISTER_BUCKET``.
REGISTER_BUCKET = 4096


def register_signature(session: Session, flt: AssetFilter) -> dict[int, tuple[Any, ...]]:
    """Per bucket of ids (``id // REGISTER_BUCKET``) of the assets matching ``flt``: their
    count, sum of ids, sum of revisions and latest update. Every write of an asset through
    the service moves its revision (the mapper's version counter, as ETags rely on) and its
    update time (a change of estimate touches the asset), so a bucket that reads the same as
    before holds the same rows; an insertion or deletion moves the count or the ids, one that
    reuses a deleted id the latest update. One scan, a few rows out."""
    bucket = (Asset.id // REGISTER_BUCKET).label("bucket")
    stmt = (
        select(
            bucket,
            func.count(),
            func.sum(Asset.id),
            func.sum(Asset.revision),
            func.max(Asset.updated_at),
        )
        .where(*flt.clauses())
        .group_by(bucket)
    )
    return {int(row[0]): tuple(row[1:]) for row in session.execute(stmt)}


#: Rows of the register fetched and turned into columns at a time (memory: a part's tuples).
REGISTER_PART = 20_000


def register_parts(
    session: Session, flt: AssetFilter, buckets: Sequence[int] | None = None
) -> Iterator[list[Sequence[Any]]]:
    """The columns the fleet's totals need of every asset matching ``flt`` (only those in
    ``buckets`` of ids when given), in id order (id, model, GPU count, in-service date,
    currency, cost, salvage, method, life), :data:`REGISTER_PART` rows at a time: one
    statement, fetched from the driver's cursor."""
    connection = session.connection()
    clauses = flt.clauses()
    if buckets is not None:  # id ranges, so the primary key's index finds them
        clauses.append(
            or_(
                false(),
                *(
                    and_(Asset.id >= b * REGISTER_BUCKET, Asset.id < (b + 1) * REGISTER_BUCKET)
                    for b in sorted(buckets)
                ),
            )
        )
    stmt = select(*_REGISTER).where(*clauses).order_by(Asset.id)
    for rows in _fetch(connection, stmt, REGISTER_PART, few=buckets is not None):
        yield list(zip(*rows, strict=True))


def register_changes(session: Session, flt: AssetFilter) -> list[tuple[Any, ...]]:
    """The changes of estimate of every asset matching ``flt`` as (asset id, month, new
    life, new salvage), in asset and month order."""
    changes = (
        select(
            BookChange.asset_id,
            BookChange.effective_month,
            BookChange.new_life_months,
            BookChange.new_salvage,
        )
        .join(Asset, Asset.id == BookChange.asset_id)
        .where(*flt.clauses())
        .order_by(BookChange.asset_id, BookChange.effective_month)
    )
    rows = _fetch(session.connection(), changes, REGISTER_PART, few=True)
    return [tuple(row) for part in rows for row in part]


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
