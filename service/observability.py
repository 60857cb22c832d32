"""Request ids, JSON logs and Prometheus metrics.

Every response carries ``X-Request-ID`` (the caller's, when it is a sane token, else a new
one); every log line of the request carries it too; every request is counted and timed by
route template, so ``/models/{slug}`` is one series, not one per slug.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID = contextvars.ContextVar[str | None]("request_id", default=None)
# New ids: 32 hex digits, a random half per process and a counter (no system call per request).
_ID_PREFIX = secrets.token_hex(8)
_ID_COUNTER = itertools.count(secrets.randbits(32))
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
access_log = logging.getLogger("service.access")
error_log = logging.getLogger("service.errors")


class Metrics:
    """The service's own registry (one per app, so several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gpuval_http_requests_total",
            "HTTP requests.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "gpuval_http_errors_total",
            "HTTP responses with status >= 500.",
            ["method", "route"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gpuval_http_request_duration_seconds",
            "Time to answer, by route.",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.server_errors = Counter(
            "gpuval_server_errors",
            "Unexpected exceptions, answered as problem+json 500 (type server-error).",
            ["method", "route", "exception"],
            registry=self.registry,
        )
        self.quotes = Counter(
            "gpuval_quotes_served_total",
            "Quotes and residuals answered.",
            ["kind"],
            registry=self.registry,
        )
        self.calibration_seconds = Gauge(
            "gpuval_calibration_seconds",
            "Time the last engine calibration took.",
            registry=self.registry,
        )
        self.data_version = Gauge(
            "gpuval_data_version", "Data version of the last calibration.", registry=self.registry
        )
        self.memo = Counter(
            "gpuval_answer_memo_total",
            "Memoisable reads, by outcome: answered from the memo (hit) or computed (miss).",
            ["outcome"],
            registry=self.registry,
        )


class RequestContextMiddleware:
    """Pure ASGI: the request id, the access log line and the request's metrics.

    The metric series of each (method, route, status) are looked up once and kept, and the
    access line is only built when the access logger is enabled.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._series: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope["headers"])
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        status = 500
        started = time.perf_counter()
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self._record(scope, status, elapsed)
            REQUEST_ID.reset(token)

    def _record(self, scope: Scope, status: int, elapsed: float) -> None:
        route = route_of(scope)
        method: str = scope["method"]
        series = self._series.get((method, route, status))
        if series is None:
            series = (
                self.metrics.requests.labels(method, route, str(status)),
                self.metrics.latency.labels(method, route),
                self.metrics.errors.labels(method, route) if status >= 500 else None,
            )
            if len(self._series) < 10_000:  # bounded: routes are templates, statuses few
                self._series[(method, route, status)] = series
        requests, latency, errors = series
        requests.inc()
        latency.observe(elapsed)
        if errors is not None:
            errors.inc()
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %s",
                method,
                scope["path"],
                status,
                extra={"status": status, "route": route, "duration_ms": round(elapsed * 1000, 2)},
            )


def _request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new random one."""
    incoming: bytes | None = None
    for name, value in headers:
        if name == b"x-request-id":
            incoming = value  # the last one, as a dict of the headers would keep
    if incoming is not None and _SANE_ID.match(text := incoming.decode("latin-1")):
        return text
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def route_of(scope: Scope) -> str:
    """The route template (one metric series per route, not per URL)."""
    return getattr(scope.get("route"), "path", None) or "unmatched"


def report_server_error(metrics: Metrics, scope: Scope, exc: BaseException) -> None:
    """Log an unexpected exception with its traceback and request id, and count it."""
    method, route = scope.get("method", "?"), route_of(scope)
    request_id = scope.get("state", {}).get("request_id") or REQUEST_ID.get()
    metrics.server_errors.labels(method, route, type(exc).__name__).inc()
    error_log.error(
        "unexpected %s on %s %s (request %s)",
        type(exc).__name__,
        method,
        scope.get("path", "?"),
        request_id,
        exc_info=exc,
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id of the request being served.

    Built for a line per request: the timestamp is formatted once per second, the record's
    extra fields are found by a set difference, and one encoder is reused.
    """

    RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
        "message",
        "asctime",
        # uvicorn's copy of the message with ANSI colour escapes, for terminals only
        "color_message",
    }
    _encode = json.JSONEncoder(default=str).encode

    def __init__(self) -> None:
        super().__init__()
        self._stamp: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        fields = record.__dict__
        for name in sorted(fields.keys() - self.RESERVED):
            entry[name] = fields[name]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._encode(entry)

    def _time(self, created: float) -> str:
        second, stamp = self._stamp
        if int(created) != second:
            second = int(created)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z", self.converter(second))
            self._stamp = (second, stamp)
        return stamp


def configure_logging(level: str, *, json_lines: bool) -> None:
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # our access log carries the request id (and `gpuval serve` turns uvicorn's off)
    logging.getLogger("uvicorn.access").disabled = True
