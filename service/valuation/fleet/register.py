"""The register as columns, kept between questions: what the fleet's totals need of each asset.

The totals of a first JSON page are those of the whole fleet, and most of what they need does
not depend on the question: each asset's model, in-service date, GPU count, currency, book
terms and, for a closed month, its closing book value. :class:`Register` holds these for the
assets matching a filter as NumPy columns in id order, read in one statement of those columns
only (:func:`.repository.register_rows`); :class:`Registers` keeps one per filter in the
process and reads it again when the data version moves. The book values of a closed month are
computed once per register (:meth:`Register.book`), and after a write an asset whose book
terms (cost, salvage, life, method, in-service date, changes of estimate) read back unchanged
keeps the book values computed before: only the assets the write touched are stepped again.
Nothing is trusted across a write but values recomputable from the terms just read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy.orm import Session

from service.engine.book import METHOD_CODES, BookValues, closing_book_values
from service.engine.schedule import Change, Method
from service.engine.types import cents
from service.finance.repository import AssetFilter
from service.finance.service import BookTerms
from service.valuation.fleet.ages import EPOCH, first_days, months_of
from service.valuation.fleet.repository import (
    REGISTER_BUCKET,
    ChangeRow,
    gc_paused,
    register_changes,
    register_parts,
    register_signature,
)

__all__ = ["Book", "Register", "Registers", "closing_values", "method_codes"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

_CODES: dict[str, int] = {str(name): code for name, code in METHOD_CODES.items()}
_DTYPES = [np.int64] * 5 + [np.float64] * 2 + [np.int64] * 2
#: Closed months whose book values a register keeps (a page asks today's, month-ends nearby).
BOOK_MONTHS = 4


def _codes(values: Sequence[Any], table: dict[Any, int]) -> Ints:
    """Each value's index among the distinct values (``table``, extended with the new ones in
    order of first appearance)."""
    for v in dict.fromkeys(values):
        table.setdefault(v, len(table))
    return np.fromiter(map(table.__getitem__, values), np.int64, len(values))


def _days(dates: Sequence[Any]) -> Ints:
    """In-service dates (``date``, or the ISO text SQLite returns) in days since 1970-01-01."""
    if dates and isinstance(dates[0], str):
        days: Ints = np.array(dates, dtype="datetime64[D]").astype(np.int64)
        return days
    return np.fromiter((d.toordinal() for d in dates), np.int64, len(dates)) - EPOCH


@dataclass(frozen=True, slots=True)
class Book:
    """Per asset of a register, at the close of one month: the schedule row reported (-1
    before the first month closes) and the closing book value in cents, in its currency."""

    row: Ints
    cents: Ints


@dataclass(slots=True)
class Register:
    """The assets matching a filter, in id order, one array per column; ``models``,
    ``currencies`` and ``methods`` are the distinct names the codes index."""

    data_version: int
    signature: dict[int, tuple[Any, ...]]  # per bucket of ids, see register_signature
    id: Ints
    start: Ints  # in-service date, days since 1970-01-01
    model: Ints
    models: list[str]
    gpu_count: Ints
    currency: Ints
    currencies: list[str]
    cost: Floats
    salvage: Floats
    life: Ints
    method: Ints
    methods: list[str]
    changes: list[ChangeRow]
    books: OrderedDict[date, Book] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self.id)

    def census(self) -> dict[str, int]:
        """The number of assets per currency."""
        counts = np.bincount(self.currency, minlength=len(self.currencies)).tolist()
        return {name: n for name, n in zip(self.currencies, counts, strict=True) if n}

    @classmethod
    def read(cls, session: Session, flt: AssetFilter, data_version: int) -> Register:
        """Every asset matching ``flt``."""
        with gc_paused():
            signature = register_signature(session, flt)
            register = cls._of(register_parts(session, flt), [], data_version, signature)
            # Changes after the assets: a change written in between comes with the asset's row
            # from before it (a change adds to the terms the row holds); the write moved the
            # data version, so the next request reads that asset again.
            register.changes = _change_rows(register.id, register_changes(session, flt))
            return register

    def refresh(self, session: Session, flt: AssetFilter, data_version: int) -> Register:
        """This register at ``data_version``: the buckets of ids whose signature moved are
        read again (all of them when most did), the others kept, and the book values of
        assets whose terms read back the same carried over (:meth:`carry_books`)."""
        with gc_paused():
            signature = register_signature(session, flt)
            moved = {
                b
                for b in signature.keys() | self.signature.keys()
                if signature.get(b) != self.signature.get(b)
            }
            everything = 2 * len(moved) > len(signature)
            parts = register_parts(session, flt, None if everything else sorted(moved))
            fresh = Register._of(parts, [], data_version, signature)
            changes = register_changes(session, flt)  # after the assets, as in read()
            if everything:
                fresh.changes = _change_rows(fresh.id, changes)
            else:
                fresh = self._merged(fresh, moved, changes)
            with self.lock:
                fresh.carry_books(self)
            return fresh

    @classmethod
    def _of(
        cls,
        parts: Iterable[list[Sequence[Any]]],
        changes: list[tuple[Any, ...]],
        data_version: int,
        signature: dict[int, tuple[Any, ...]],
    ) -> Register:
        """Columns part by part into arrays (the rows of one part alive at a time)."""
        tables: list[dict[Any, int]] = [{}, {}, {}]  # models, currencies, methods
        arrays: list[list[Any]] = [[] for _ in range(9)]
        for columns in parts:
            n = len(columns[0])
            converted = (
                np.fromiter(columns[0], np.int64, n),
                _codes(columns[1], tables[0]),
                np.fromiter(columns[2], np.int64, n),
                _days(columns[3]),
                _codes(columns[4], tables[1]),
                np.array(columns[5], dtype=np.float64),
                np.array(columns[6], dtype=np.float64),
                _codes(columns[7], tables[2]),
                np.fromiter(columns[8], np.int64, n),
            )
            for out, array in zip(arrays, converted, strict=True):
                out.append(array)
        whole: list[Any] = [
            np.concatenate(a) if a else np.zeros(0, dtype)
            for a, dtype in zip(arrays, _DTYPES, strict=True)
        ]
        ids, model, gpus, start, currency, cost, salvage, method, life = whole
        return cls(
            data_version=data_version,
            signature=signature,
            id=ids,
            start=start,
            model=model,
            models=list(tables[0]),
            gpu_count=gpus,
            currency=currency,
            currencies=list(tables[1]),
            cost=cost,
            salvage=salvage,
            life=life,
            method=method,
            methods=list(tables[2]),
            changes=_change_rows(ids, changes),
        )

    def _merged(self, read: Register, moved: set[int], changes: list[tuple[Any, ...]]) -> Register:
        """This register's assets outside the ``moved`` buckets with those ``read`` in them."""
        keep = ~np.isin(self.id // REGISTER_BUCKET, sorted(moved))
        ids = np.concatenate([self.id[keep], read.id])
        order = np.argsort(ids, kind="stable")

        def merged(name: str) -> Any:
            return np.concatenate([getattr(self, name)[keep], getattr(read, name)])[order]

        def recoded(codes: str, names: str) -> tuple[Ints, list[str]]:
            mine, theirs = getattr(self, names), getattr(read, names)
            out = mine + [n for n in theirs if n not in mine]
            where = np.array([out.index(n) for n in theirs], dtype=np.int64)
            column = np.concatenate(
                [getattr(self, codes)[keep], where[getattr(read, codes)] if len(where) else []]
            ).astype(np.int64)
            return column[order], out

        model, models = recoded("model", "models")
        currency, currencies = recoded("currency", "currencies")
        method, methods = recoded("method", "methods")
        ids = ids[order]
        return Register(
            data_version=read.data_version,
            signature=read.signature,
            id=ids,
            start=merged("start"),
            model=model,
            models=models,
            gpu_count=merged("gpu_count"),
            currency=currency,
            currencies=currencies,
            cost=merged("cost"),
            salvage=merged("salvage"),
            life=merged("life"),
            method=method,
            methods=methods,
            changes=_change_rows(ids, changes),
        )

    # --- book values ---------------------------------------------------------------------------

    def book(self, closed: date) -> Book:
        """Closing book values at the end of ``closed`` (a month's first day), computed once."""
        with self.lock:
            hit = self.books.get(closed)
            if hit is None:
                hit = self.books[closed] = self._book(closed, np.arange(len(self)))
                while len(self.books) > BOOK_MONTHS:
                    self.books.popitem(last=False)
            self.books.move_to_end(closed)
            return hit

    def _book(self, closed: date, index: Ints) -> Book:
        """Book values of the assets at ``index``: :func:`closing_book_values` for all at once,
        the exact schedule for terms it leaves to it (the schedule explains a refusal)."""
        at = np.full(len(self), -1, dtype=np.int64)  # asset → its position in ``index``
        at[index] = np.arange(len(index))
        codes = method_codes(self.methods)
        values = closing_values(
            start=self.start[index],
            cost=self.cost[index],
            salvage=self.salvage[index],
            life=self.life[index],
            method=codes[self.method[index]] if len(codes) else np.zeros(0, np.int64),
            changes=[(int(at[c.index]), c) for c in self.changes if at[c.index] >= 0],
            closed=closed,
        )
        row, book = values.row, values.book_cents
        for k in np.flatnonzero(~values.exact).tolist():
            row[k], book[k] = self._schedule(int(index[k]), closed)
        return Book(row=row, cents=book)

    def _schedule(self, i: int, closed: date) -> tuple[int, int]:
        """The exact schedule of asset ``i`` (as :meth:`.FleetValuation.value` asks it)."""
        terms = BookTerms(
            float(self.cost[i]),
            float(self.salvage[i]),
            int(self.life[i]),
            date.fromordinal(int(self.start[i]) + EPOCH),
            cast(Method, self.methods[int(self.method[i])]),
            changes_of(self.changes, i),
        )
        return closing_on_schedule(terms, closed)

    def carry_books(self, old: Register) -> None:
        """Take over ``old``'s book values for the assets whose book terms are the same in
        both (matched by id), computing the others: after a write, only what it touched."""
        if not old.books or not len(self) or not len(old):
            return
        pos = np.minimum(np.searchsorted(old.id, self.id), len(old) - 1)
        same = old.id[pos] == self.id
        for name in ("start", "cost", "salvage", "life"):
            same &= getattr(old, name)[pos] == getattr(self, name)
        old_methods = np.array(old.methods, dtype=object)
        new_methods = np.array(self.methods, dtype=object)
        same &= old_methods[old.method[pos]] == new_methods[self.method]
        mine, theirs = _change_terms(self.changes), _change_terms(old.changes)
        changed = set(mine) | set(np.flatnonzero(np.isin(pos, list(theirs))).tolist())
        for i in changed:  # assets with changes of estimate, now or before
            same[i] &= mine.get(i) == theirs.get(int(pos[i]))
        fresh = np.flatnonzero(~same)
        for closed, book in old.books.items():
            row, value = book.row[pos], book.cents[pos]
            if fresh.size:
                computed = self._book(closed, fresh)
                row[fresh], value[fresh] = computed.row, computed.cents
            self.books[closed] = Book(row=row, cents=value)


def method_codes(methods: Sequence[str]) -> Ints:
    """Each book method's code in :data:`METHOD_CODES` (-1 for a name the engine does not
    know: the schedule explains the refusal)."""
    return np.array([_CODES.get(m, -1) for m in methods], dtype=np.int64)


def closing_values(
    *,
    start: Ints,
    cost: Floats,
    salvage: Floats,
    life: Ints,
    method: Ints,
    changes: Sequence[tuple[int, Any]],
    closed: date,
) -> BookValues:
    """:func:`closing_book_values` at the end of ``closed`` of assets in service from
    ``start`` (days since the epoch), ``method`` as :func:`method_codes` gives it, with their
    changes of estimate as (the asset's position, a row with ``effective_month``,
    ``new_life_months`` and ``new_salvage``): the register's and a batch's one call."""
    months = months_of(start)
    return closing_book_values(
        cost=cost,
        salvage=salvage,
        life_months=life,
        method=method,
        year=months // 12,
        month=months % 12 + 1,
        day=start - first_days(months) + 1,
        closed_year=closed.year,
        closed_month=closed.month,
        change_asset=[at for at, _ in changes],
        change_year=[int(c.effective_month[:4]) for _, c in changes],
        change_month=[int(c.effective_month[5:7]) for _, c in changes],
        change_life=[c.new_life_months for _, c in changes],
        change_salvage=[c.new_salvage for _, c in changes],
    )


def changes_of(changes: Iterable[Any], i: int) -> tuple[Change, ...]:
    """Asset ``i``'s changes of estimate, from rows with ``index``, ``effective_month``,
    ``new_life_months`` and ``new_salvage``."""
    return tuple(
        Change(date.fromisoformat(f"{c.effective_month}-01"), c.new_life_months, c.new_salvage)
        for c in changes
        if c.index == i
    )


def closing_on_schedule(terms: BookTerms, closed: date) -> tuple[int, int]:
    """(row, book value in cents) at the closed month, from the exact schedule: for terms the
    vectorised closing values leave to it; before the first month, row -1 at cost."""
    rows = terms.schedule()
    first = rows[0].month
    row = (closed.year - first.year) * 12 + closed.month - first.month
    if row < 0:
        return -1, int(cents(terms.cost) * 100)
    row = min(row, len(rows) - 1)
    return row, int(rows[row].book_value * 100)


def _change_rows(ids: Ints, changes: list[tuple[Any, ...]]) -> list[ChangeRow]:
    """Changes of estimate (asset id, month, life, salvage) with their asset's position; a
    change of an asset not read (inserted after the assets were) is left out."""
    if not changes or not len(ids):
        return []
    asset = np.array([c[0] for c in changes], dtype=np.int64)
    positions = np.minimum(np.searchsorted(ids, asset), len(ids) - 1)
    found = (ids[positions] == asset).tolist()
    return [
        ChangeRow(position, month, life, salvage)
        for position, ok, (_, month, life, salvage) in zip(
            positions.tolist(), found, changes, strict=True
        )
        if ok
    ]


def _change_terms(changes: list[ChangeRow]) -> dict[int, list[tuple[Any, ...]]]:
    out: dict[int, list[tuple[Any, ...]]] = {}
    for c in changes:
        out.setdefault(c.index, []).append((c.effective_month, c.new_life_months, c.new_salvage))
    return out


class Registers:
    """The :class:`Register` of the last ``capacity`` filters asked, each read again once the
    data version moves (keeping the book values of the assets a write did not touch)."""

    def __init__(self, capacity: int = 4) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._registers: OrderedDict[AssetFilter, Register] = OrderedDict()
        self._reading: dict[AssetFilter, threading.Lock] = {}

    def get(self, session: Session, flt: AssetFilter, data_version: int) -> Register:
        with self._lock:
            hit = self._registers.get(flt)
            if hit is not None and hit.data_version == data_version:
                self._registers.move_to_end(flt)
                return hit
            reading = self._reading.setdefault(flt, threading.Lock())
        with reading:  # one read per filter at a time; the others wait for it
            with self._lock:
                hit = self._registers.get(flt)
            if hit is not None and hit.data_version == data_version:
                return hit
            if hit is not None and hit.data_version < data_version:
                fresh = hit.refresh(session, flt, data_version)
            else:
                fresh = Register.read(session, flt, data_version)
            with self._lock:
                current = self._registers.get(flt)
                if current is None or current.data_version <= data_version:
                    self._registers[flt] = fresh
                    self._registers.move_to_end(flt)
                while len(self._registers) > self.capacity:
                    self._registers.popitem(last=False)
            return fresh
