"""The input guard: paths, query strings, headers and body encodings, judged before any route.

Starlette decodes percent-escapes leniently (invalid UTF-8 becomes U+FFFD), a route sees only
the parameters it declares, and ``json.loads`` on bytes guesses UTF-16 and UTF-32. What gets
past that reaches the database, where PostgreSQL and SQLite disagree (see ``service.text``).
This pure ASGI layer refuses such input with a 422 that names the parameter, before the
idempotency layer claims a key and before any handler runs, so a refused request writes nothing.
"""

from __future__ import annotations

import codecs
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import FieldError
from service.text import text_problem
from service.web.problems import RefusedInput, problem_response

MAX_BODY_BYTES = 32 * 1024 * 1024  # the bulk import limit; no request body is larger
MAX_QUERY_BYTES = 8 * 1024

# The headers the service reads; tokens and tags, so printable ASCII only (RFC 9110 §5.5).
CHECKED_HEADERS = (
    "authorization",
    "x-api-key",
    "idempotency-key",
    "if-match",
    "x-request-id",
    "content-type",
)
_TEXT_MEDIA = ("application/json", "text/csv", "application/csv")


class InputGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = _refuse_path(scope) or _refuse_query(scope) or _refuse_headers(scope)
        if refused is not None:
            await _answer(refused, scope, receive, send)
            return
        media = _media_type(scope)
        if media is not None and _is_text(media):
            receive = _checked_body(receive, json="csv" not in media)
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except RefusedInput as exc:  # raised from the body, outside FastAPI (idempotency)
            if started:
                raise
            await _answer(exc, scope, receive, send)


async def _answer(exc: RefusedInput, scope: Scope, receive: Receive, send: Send) -> None:
    await problem_response(
        exc.status_code, str(exc.detail), kind=exc.kind, instance=scope["path"], errors=exc.errors
    )(scope, receive, send)


def _invalid(detail: str, field: str, reason: str) -> RefusedInput:
    return RefusedInput(
        422, detail, kind="validation-error", errors=[FieldError(field=field, reason=reason)]
    )


def _decoded(raw: bytes) -> tuple[str | None, str | None]:
    """Percent-decoded text of a URL part, or the reason it is not text."""
    try:
        text = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte {exc.start} after percent-decoding)"
    return text, text_problem(text)


def _refuse_path(scope: Scope) -> RefusedInput | None:
    raw = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    _, problem = _decoded(raw.split(b"?", 1)[0])
    if problem is None:
        return None
    return _invalid("The URL path is not valid text.", "path", problem)


def _refuse_query(scope: Scope) -> RefusedInput | None:
    raw: bytes = scope.get("query_string", b"")
    if len(raw) > MAX_QUERY_BYTES:
        return RefusedInput(
            414,
            f"The query string is {len(raw)} bytes; the limit is {MAX_QUERY_BYTES}.",
            kind="uri-too-long",
            errors=[FieldError(field="query", reason=f"longer than {MAX_QUERY_BYTES} bytes")],
        )
    for pair in raw.split(b"&"):
        name_raw, _, value_raw = pair.partition(b"=")
        name, name_problem = _decoded(name_raw.replace(b"+", b" "))
        shown = name if name is not None and name_problem is None else "(name)"
        for problem in (name_problem, _decoded(value_raw.replace(b"+", b" "))[1]):
            if problem is not None:
                return _invalid(
                    f"The query parameter {shown!r} is not valid text.", f"query.{shown}", problem
                )
    return None


def _refuse_headers(scope: Scope) -> RefusedInput | None:
    for name, value in scope.get("headers") or ():
        header = name.decode("latin-1").lower()
        if header not in CHECKED_HEADERS:
            continue
        bad = next((i for i, b in enumerate(value) if not (32 <= b < 127 or b == 9)), None)
        if bad is not None:
            return _invalid(
                f"The {header} header must be printable ASCII.",
                f"header.{header}",
                f"byte 0x{value[bad]:02x} at position {bad} is not printable ASCII",
            )
    return None


def _media_type(scope: Scope) -> str | None:
    """The body's media type: '' when the request has none (FastAPI then reads JSON), None when
    the method carries no body."""
    if scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return None
    headers: dict[bytes, bytes] = dict(scope.get("headers") or ())
    return headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()


def _is_text(media: str) -> bool:
    return media == "" or media in _TEXT_MEDIA or media.endswith("+json")


def _checked_body(receive: Receive, *, json: bool) -> Receive:
    """``receive``, refusing a body that is not UTF-8 (nor, for JSON, free of raw NUL bytes:
    JSON escapes them, and a body with NULs is UTF-16 or UTF-32) or that is too large."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    seen = lines = 0

    async def checked() -> Message:
        nonlocal seen, lines
        message = await receive()
        if message["type"] != "http.request":
            return message
        chunk: bytes = message.get("body", b"")
        if seen + len(chunk) > MAX_BODY_BYTES:
            raise RefusedInput(
                413,
                f"Request bodies are limited to {MAX_BODY_BYTES // 2**20} MiB; split the file.",
                kind="payload-too-large",
                errors=[FieldError(field="body", reason=f"more than {MAX_BODY_BYTES} bytes")],
            )
        final = not message.get("more_body", False)
        _check_chunk(decoder, chunk, seen, lines, json=json, final=final)
        seen += len(chunk)
        lines += chunk.count(b"\n")
        return message

    return checked


def _check_chunk(
    decoder: codecs.IncrementalDecoder,
    chunk: bytes,
    offset: int,
    lines: int,
    *,
    json: bool,
    final: bool,
) -> None:
    """Refuse this chunk of the body (``offset`` bytes and ``lines`` newlines before it)."""
    at: int | None = None
    try:
        decoder.decode(chunk, final=final)
    except UnicodeDecodeError as exc:
        at, reason = exc.start, "not UTF-8: invalid byte at offset {}"
    if at is None and json and (nul := chunk.find(b"\x00")) >= 0:
        at, reason = nul, "a raw NUL byte at offset {}; JSON is UTF-8 text (is this UTF-16?)"
    if at is None:
        return
    line = lines + chunk.count(b"\n", 0, max(at, 0)) + 1
    raise RefusedInput(
        422,
        "The request body is not UTF-8 text.",
        kind="validation-error",
        errors=[FieldError(field="body", reason=reason.format(offset + at), line=line)],
    )
