"""What the list endpoints share: one keyset page out of the rows a repository fetched, and the
check of a range given as two query parameters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from service.api import Page, encode_cursor
from service.errors import FieldError, InvalidInput

R = TypeVar("R")
T = TypeVar("T")


def page_of(
    rows: Sequence[R],
    total: int,
    *,
    limit: int,
    read: Callable[[R], T],
    key: Callable[[T], list[Any]],
) -> Page[T]:
    """The page of ``rows``, fetched with one row beyond ``limit`` so that a next page shows:
    the first ``limit`` rows as answers (``read``), and the next page's cursor from the last
    answer's sort ``key`` when there is more."""
    items = [read(row) for row in rows[:limit]]
    next_cursor = encode_cursor(key(items[-1])) if len(rows) > limit else None
    return Page[T](items=items, next_cursor=next_cursor, total=total)


def check_range(low: Any, high: Any, low_name: str, high_name: str) -> None:
    """Refuse query parameters ``low_name`` after ``high_name`` (either may be absent)."""
    if low is not None and high is not None and low > high:
        raise InvalidInput(
            f"`{low_name}` is after `{high_name}`.",
            errors=[FieldError(field=f"query.{low_name}", reason=f"after `{high_name}`")],
        )
