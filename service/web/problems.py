"""The edge's one mapping of errors to RFC 9457 ``application/problem+json``.

Domain errors (``service.errors``) name a kind; here each kind gets its HTTP status (and, for
``unauthorized``, its challenge header). Framework, validation and database errors are mapped
too, and ``LastResortMiddleware`` turns anything else into a 500 problem.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.db import CommitOutcomeUnknown
from service.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    PreconditionRequired,
    ServiceError,
    Unauthorized,
)
from service.observability import Metrics, report_server_error
from service.state import resources

log = logging.getLogger("service.errors")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:gpuval:problem:"

STATUS: dict[type[ServiceError], int] = {
    ServiceError: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    PayloadTooLarge: 413,
    InvalidInput: 422,
    PreconditionRequired: 428,
}
"""The HTTP status of each domain error; a subclass answers as its nearest listed ancestor."""

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="gpuval"'}


def status_of(exc: ServiceError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    raise AssertionError("unreachable: ServiceError is listed")


def headers_of(exc: ServiceError) -> dict[str, str]:
    return dict(CHALLENGE) if isinstance(exc, Unauthorized) else {}


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(examples=[f"{PROBLEM_BASE}not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No GPU model with slug 'nvidia-x999'."])
    instance: str | None = Field(default=None, examples=["/models/nvidia-x999"])
    errors: list[FieldError] | None = None


class RefusedInput(StarletteHTTPException):
    """Input refused by the ASGI input guard, possibly from inside the receive channel.

    It is an HTTPException because FastAPI re-raises those when reading a body (any other
    exception there becomes a bare 400), so the caller gets this status, detail and ``errors``.
    """

    def __init__(
        self, status: int, detail: str, *, kind: str, errors: Sequence[FieldError]
    ) -> None:
        super().__init__(status, detail)
        self.kind = kind
        self.errors = list(errors)


def _printable(text: str) -> str:
    """Lone surrogates cannot be encoded as UTF-8: echoing one (an unknown JSON key, say) in a
    problem would fail the answer itself. They are shown as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def problem_response(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    instance: str | None = None,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (kind or _kind_for(status)),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": _printable(detail),
    }
    if instance:
        body["instance"] = _printable(instance)
    if errors:
        body["errors"] = [
            {k: _printable(v) if isinstance(v, str) else v for k, v in entry.items()}
            for entry in (e.model_dump(exclude_none=True) for e in errors)
        ]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def server_error_response(instance: str | None = None) -> JSONResponse:
    """The answer to an exception nobody expected: logged and counted by the caller."""
    return problem_response(
        500,
        "An unexpected error occurred; it has been logged with the request id.",
        kind="server-error",
        instance=instance,
    )


def _kind_for(status: int) -> str:
    return HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")


_EXAMPLES: dict[int, tuple[str, str, list[dict[str, str]] | None]] = {
    400: ("bad-request", "The cursor is not one this service issued.", None),
    401: ("unauthorized", "This operation needs an API key with the `write` scope.", None),
    403: ("forbidden", "The key 'fleet-reader' lacks the `write` scope.", None),
    404: ("not-found", "No GPU model with slug 'nvidia-x999'.", None),
    409: ("conflict", "A GPU model with slug 'nvidia-h100-sxm5-80gb' already exists; PUT it to "
          "replace.", None),
    412: ("precondition-failed", 'If-Match "7" does not match the current ETag "9"; fetch it '
          "again.", None),
    413: ("payload-too-large", "Imports are limited to 32 MiB; split the file.", None),
    422: ("validation-error", "The request has invalid fields; see `errors`.",
          [{"field": "query.term", "reason": "Input should be 'on_demand', 'spot', '1m', '3m', "
            "'6m', '1y', '2y' or '3y'"}]),
    428: ("precondition-required", 'Send If-Match with the ETag of your last read (current: '
          '"9") to change this.', None),
    503: ("database-unavailable", "The database is unreachable; retry shortly.", None),
}  # fmt: skip
"""An example answer per status for the OpenAPI (each with its own type, title and detail, so
Swagger UI does not show a 404 under every error code)."""


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries declaring problem+json for the given statuses, each with
    an example of that status."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        kind, detail, errors = _EXAMPLES.get(status, (_kind_for(status), "", None))
        example = {
            "type": PROBLEM_BASE + kind,
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail or HTTPStatus(status).description,
            "errors": errors,
        }
        out[status] = {
            "description": HTTPStatus(status).phrase,
            "content": {
                PROBLEM_JSON: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": example,
                }
            },
        }
    return out


_BRANCH_TAG = re.compile(r"^[A-Z]\w*$|[\[\]()]")
"""A location step naming a union member (``QuoteBatch``, ``function-after[_one_subject(), …]``)
rather than a field: field names are snake_case, so neither capitals nor brackets occur."""


def _branch_at(loc: Sequence[Any]) -> int | None:
    for i, step in enumerate(loc):
        if isinstance(step, str) and _BRANCH_TAG.search(step):
            return i
    return None


def _shape_miss(err: Any, at: int) -> bool:
    """An error saying the input does not have this union member's shape at all: a required
    top-level field missing, or a top-level field it does not know."""
    return len(err["loc"]) == at + 2 and err.get("type") in ("missing", "extra_forbidden")


def _one_branch(errors: Sequence[Any]) -> list[Any]:
    """Errors of a union body name every member that failed. Keep those of the member the input
    was meant for: one whose shape it has, else the one with the fewest errors."""
    branches: dict[tuple[Any, ...], list[Any]] = {}
    plain: list[Any] = []
    for err in errors:
        at = _branch_at(err.get("loc", ()))
        if at is None:
            plain.append(err)
        else:
            branches.setdefault(tuple(err["loc"][: at + 1]), []).append(err)
    if not branches:
        return list(errors)
    chosen = min(
        branches.values(),
        key=lambda errs: (
            sum(_shape_miss(e, _branch_at(e["loc"]) or 0) for e in errs),
            len(errs),
        ),
    )
    return plain + chosen


def field_path(loc: Sequence[Any]) -> str:
    """``query.x``, ``header.x``, ``path.slug``, ``body.items.3.spec.memory_gb``: the input's own
    names and indices joined by dots, never a union member's or validator's name."""
    return ".".join(str(step) for step in loc if _branch_at([step]) is None) or "body"


_PLACES = frozenset({"query", "header", "path", "body", "cookie"})


def qualified(request: Request, errors: Sequence[FieldError]) -> list[FieldError]:
    """Domain errors name a field as the domain knows it (``currency``, ``items.3.model``); the
    caller is told where it was sent: ``query.currency`` for a query parameter (or any field of
    a read), else ``body.…``. A bulk import's rows keep their own convention (``line`` plus the
    column), as do fields already placed."""
    if request.url.path.endswith("/import"):
        return list(errors)
    read = request.method in ("GET", "HEAD", "DELETE")
    out = []
    for err in errors:
        head = err.field.split(".", 1)[0]
        if head in _PLACES or head == "row":
            out.append(err)
            continue
        place = "query" if read or head in request.query_params else "body"
        out.append(err.model_copy(update={"field": f"{place}.{err.field}"}))
    return out


def validation_errors(exc: RequestValidationError) -> list[FieldError]:
    return [
        FieldError(field=field_path(err.get("loc", ())), reason=str(err.get("msg", "invalid")))
        for err in _one_branch(exc.errors())
    ]


class LastResortMiddleware:
    """Answers an exception that escaped every handler with a problem+json 500, and keeps the
    connection: Starlette's ServerErrorMiddleware answers too but then re-raises, and uvicorn
    closes a keep-alive connection whose application raised, failing the client's next request.

    It sits inside RequestContextMiddleware (so the request id is known and the 500 counted) and
    outside IdempotencyMiddleware (which releases the key when the exception passes through it).
    An exception after the answer has started cannot be answered: it is logged and re-raised, so
    that the truncated answer ends with the connection rather than looking complete.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            report_server_error(self.metrics, scope, exc)
            if started:
                raise
            await server_error_response(scope.get("path"))(scope, receive, send)


def install(app: FastAPI) -> None:
    """Map every error to problem+json, once."""

    async def on_service_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        return problem_response(
            status_of(exc),
            exc.detail,
            kind=exc.kind,
            instance=request.url.path,
            errors=qualified(request, exc.errors),
            headers=headers_of(exc),
        )

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return problem_response(
                400,
                "The request body is not valid JSON.",
                kind="malformed-json",
                instance=request.url.path,
                errors=validation_errors(exc),
            )
        return problem_response(
            422,
            "The request has invalid fields; see `errors`.",
            kind="validation-error",
            instance=request.url.path,
            errors=validation_errors(exc),
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        return problem_response(
            exc.status_code,
            detail,
            kind=getattr(exc, "kind", None),
            instance=request.url.path,
            errors=getattr(exc, "errors", ()),
            headers=headers,
        )

    async def on_stale(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            412,
            "The resource was changed by someone else meanwhile; fetch it again and retry.",
            instance=request.url.path,
        )

    async def on_db_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return problem_response(
            503,
            "The database is unreachable; retry shortly.",
            kind="database-unavailable",
            instance=request.url.path,
            headers={"Retry-After": "2"},
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        report_server_error(resources(request.app).metrics, request.scope, exc)
        return server_error_response(request.url.path)

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(StaleDataError, on_stale)
    app.add_exception_handler(OperationalError, on_db_down)
    app.add_exception_handler(PoolTimeoutError, on_db_down)

    async def on_commit_unknown(request: Request, exc: Exception) -> JSONResponse:
        log.warning("connection lost during commit: %s", exc)
        return problem_response(
            503,
            "The database connection dropped while committing; the change may or may not have "
            "been applied. Read the resource (or the audit log) before writing again.",
            kind="commit-outcome-unknown",
            instance=request.url.path,
            headers={"Retry-After": "2"},
        )

    app.add_exception_handler(DBAPIError, _on_dbapi(on_db_down, on_unexpected))
    app.add_exception_handler(CommitOutcomeUnknown, on_commit_unknown)
    app.add_exception_handler(Exception, on_unexpected)


def allowed_methods(request: Request) -> str:
    """Every documented method of the requested path, for ``Allow`` on a 405 (RFC 9110 §15.5.6).

    Each method is its own route, so the route that refuses knows only its own method; the
    OpenAPI paths know them all. A fixed path (``/models/import``) is its own resource and is
    not merged with the templated sibling (``/models/{slug}``) that also matches it.
    """
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    path = request.url.path
    if path in paths:
        matching = [paths[path]]
    else:
        matching = [ops for tpl, ops in paths.items() if compile_path(tpl)[0].fullmatch(path)]
    methods = {m.upper() for ops in matching for m in ops if m in _HTTP_METHODS}
    return ", ".join(sorted(methods))


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _on_dbapi(on_db_down: Any, on_unexpected: Any) -> Any:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DBAPIError)
        if exc.connection_invalidated:
            return await on_db_down(request, exc)  # type: ignore[no-any-return]
        return await on_unexpected(request, exc)  # type: ignore[no-any-return]

    return handler
