"""SQL helpers every repository shares."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")

#: Values per ``IN (...)`` list: far below SQLite's and PostgreSQL's parameter limits.
IN_CHUNK = 500


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def present(session: Session, column: InstrumentedAttribute[Any], values: Iterable[T]) -> set[T]:
    """Which of ``values`` the column holds, asked ``IN_CHUNK`` values at a time."""
    found: set[T] = set()
    for part in chunks(sorted(set(values)), IN_CHUNK):  # type: ignore[type-var]
        found.update(
            v for v in session.scalars(select(column).where(column.in_(part))) if v is not None
        )
    return found


def one_of(column: str, values: Iterable[str]) -> str:
    """A check constraint's SQL: ``column`` holds one of ``values`` (a vocabulary's words).

    >>> one_of("kind", ("lease", "sale"))
    "kind IN ('lease', 'sale')"
    """
    words = list(values)
    assert all(w.replace("_", "").isalnum() for w in words), words  # words, never SQL
    return f"{column} IN ({', '.join(repr(w) for w in words)})"


def escape_like(text: str) -> str:
    """``text`` as a literal inside a ``LIKE`` pattern (with ``escape="\\\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
