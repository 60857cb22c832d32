"""Shared pieces of the HTTP layer: the session dependency, pages, cursors and ETags."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from service.db import unit_of_work
from service.errors import FieldError, InvalidInput, PreconditionFailed

T = TypeVar("T")


def get_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: commit on success, roll back on error, before responding."""
    with unit_of_work(request.app.state.sessions) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size, 1 to 1000.", examples=[100])]
CursorParam = Annotated[
    str | None,
    Query(max_length=512, description="Opaque cursor from the previous page's `next_cursor`."),
]
IfMatch = Annotated[
    str | None,
    Header(
        max_length=200,
        description="ETag from a previous read; the write is refused with 412 if it is stale.",
    ),
]


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, the cursor of the next page (null at the end), the total."""

    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page.")
    total: int = Field(ge=0, description="Number of items matching the filters, on all pages.")


def encode_cursor(key: list[Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(key, list) or len(key) != arity:
        raise _bad_cursor()
    return key


def _bad_cursor() -> InvalidInput:
    return InvalidInput(
        "The cursor is not one this service issued.",
        errors=[FieldError(field="query.cursor", reason="malformed cursor")],
    )


def etag(revision: int | str) -> str:
    return f'"{revision}"'


def check_if_match(if_match: str | None, current: str) -> None:
    """RFC 9110 §13.1.1: proceed only if a listed entity tag matches the current one (or ``*``)."""
    if if_match is None:
        return
    tags = {t.strip() for t in if_match.split(",")}
    if "*" in tags or current in tags:
        return
    raise PreconditionFailed(
        f"If-Match {if_match} does not match the current ETag {current}; fetch it again."
    )


def set_etag(response: Response, tag: str) -> None:
    response.headers["ETag"] = tag
