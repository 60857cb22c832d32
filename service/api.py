"""Shared pieces of the HTTP layer: the session dependency, pages, cursors and ETags."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Generic, TypeVar

import anyio
from fastapi import Depends, Header, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from service.db import unit_of_work
from service.errors import (
    FieldError,
    InvalidInput,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
)
from service.state import resources
from service.text import text_problem
from service.versions import version_tag

T = TypeVar("T")
log = logging.getLogger("service.api")


def get_session(request: Request) -> Iterator[Session]:
    """One unit of work per request: commit on success, roll back on error, before responding."""
    with unit_of_work(resources(request.app).sessions) as session:
        session.info["request_state"] = request.state
        yield session


class RetryingRoute(APIRoute):
    """Runs the whole unit of work again when the database connection drops before the commit.

    Nothing was committed then, so running again cannot apply a write twice. A connection lost
    *during* the commit is not retried (its outcome is unknown): the caller gets a 503 and
    retries with the same Idempotency-Key.
    """

    ATTEMPTS = 3
    BACKOFF_S = 0.2

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def retrying(request: Request) -> Response:
            for attempt in range(1, self.ATTEMPTS + 1):
                try:
                    return await _one_attempt(handler, request)
                except DBAPIError as exc:
                    if not exc.connection_invalidated or attempt == self.ATTEMPTS:
                        raise
                    log.warning(
                        "connection lost (attempt %d); running the unit of work again", attempt
                    )
                    await anyio.sleep(self.BACKOFF_S * attempt)
            raise AssertionError("unreachable")

        return retrying


async def _one_attempt(
    handler: Callable[[Request], Coroutine[Any, Any, Response]], request: Request
) -> Response:
    """Run the handler with its own exit stack for function-scoped dependencies.

    FastAPI opens that stack around the whole route handler, so without this a failed attempt's
    session would never see its exception: it would stay open and be *committed* (or fail to
    commit, as a 500) after the next attempt, when the request ends.
    """
    outer = request.scope.get(_FUNCTION_STACK)
    assert isinstance(outer, AsyncExitStack), f"FastAPI no longer sets {_FUNCTION_STACK}"
    try:
        async with AsyncExitStack() as stack:
            request.scope[_FUNCTION_STACK] = stack
            return await handler(request)
    finally:
        request.scope[_FUNCTION_STACK] = outer


_FUNCTION_STACK = "fastapi_function_astack"  # where FastAPI keeps scope="function" dependencies

SessionDep = Annotated[Session, Depends(get_session, scope="function")]

Limit = Annotated[int, Query(ge=1, le=1000, description="Page size, 1 to 1000.", examples=[100])]
CursorParam = Annotated[
    str | None,
    Query(max_length=512, description="Opaque cursor from the previous page's `next_cursor`."),
]
IfMatch = Annotated[
    str | None,
    Header(
        max_length=1000,
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
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(key, list) or len(key) != arity or not all(map(_issued_part, key)):
        raise _bad_cursor()
    return key


def read_cursor(cursor: str, *parts: type[int] | type[str] | type[date]) -> tuple[Any, ...]:
    """The key of a cursor whose parts are of these types (a ``date`` travels as ISO text).

    Any cursor this service did not issue, whatever is wrong with it, is one refusal.
    """
    key = decode_cursor(cursor, len(parts))
    out: list[Any] = []
    for part, kind in zip(key, parts, strict=True):
        if kind is date:
            try:
                out.append(date.fromisoformat(part) if isinstance(part, str) else None)
            except ValueError as exc:
                raise _bad_cursor() from exc
        else:
            out.append(part if isinstance(part, kind) else None)
        if out[-1] is None:
            raise _bad_cursor()
    return tuple(out)


def bad_cursor() -> InvalidInput:
    """The refusal of a cursor this service did not issue."""
    return _bad_cursor()


def _issued_part(part: object) -> bool:
    """Cursors this service issues hold short strings and row ids; anything else (a float, an
    integer beyond a 64-bit column, a nested list) was tampered with and must not reach SQL."""
    if isinstance(part, str):
        return len(part) <= 200 and text_problem(part) is None
    return isinstance(part, int) and not isinstance(part, bool) and 0 <= part < 2**63


def _bad_cursor() -> InvalidInput:
    return InvalidInput(
        "The cursor is not one this service issued.",
        errors=[FieldError(field="query.cursor", reason="malformed cursor")],
    )


def etag(revision: int | str) -> str:
    """The ``ETag`` of a row at a revision."""
    return version_tag(revision)


@dataclass(frozen=True, slots=True)
class IfMatchHeader:
    """RFC 9110 §13.1.1 and RFC 6585 §3: a change must name the version it changes.

    The ``Precondition`` services check. No ``If-Match`` is 428; one that matches neither the
    current tag nor ``*`` is 412.
    """

    value: str | None

    def check(self, current: str) -> None:
        if self.value is None:
            raise PreconditionRequired(
                f"Send If-Match with the ETag of your last read (current: {current}) to change "
                "this."
            )
        tags = {t.strip() for t in self.value.split(",")}
        if "*" in tags or current in tags:
            return
        raise PreconditionFailed(
            f"If-Match {self.value} does not match the current ETag {current}; fetch it again."
        )


def set_etag(response: Response, tag: str) -> None:
    response.headers["ETag"] = tag


# --- bulk imports -----------------------------------------------------------------------------

MAX_IMPORT_BYTES = 32 * 1024 * 1024


def import_body(columns: str) -> dict[str, Any]:
    """OpenAPI of a bulk import's body: CSV or JSON, all rows or none."""
    return {
        "requestBody": {
            "required": True,
            "description": f"A CSV file with a header line ({columns}), or a JSON array of "
            'objects (or `{"items": [...]}`). All rows are written, or none.',
            # Shapes that client generators can send: a file, and an object (not a bare array).
            "content": {
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"items": {"type": "array", "items": {"type": "object"}}},
                        "required": ["items"],
                    }
                },
            },
        }
    }


async def raw_body(request: Request) -> bytes:
    """The whole request body, refused beyond the import size limit without buffering it all.

    The body is kept on the request so that a retried unit of work can read it again.
    """
    cached: bytes | None = getattr(request, "_body", None)
    if cached is not None:
        return cached
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_IMPORT_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_IMPORT_BYTES:
            raise _too_large()
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body
    return body


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"Imports are limited to {MAX_IMPORT_BYTES // 2**20} MiB; split the file."
    )


RawBody = Annotated[bytes, Depends(raw_body)]
# Not a parameter in the OpenAPI (which ignores Content-Type there): the body's media types say it.
ContentType = Annotated[str, Header(alias="content-type", max_length=200, include_in_schema=False)]
