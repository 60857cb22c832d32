"""Memoised answers: a read whose inputs have been answered before is served from memory.

An answer is keyed by its inputs digest: the data version (``service.freshness``), the UTC date
(answers without ``as_of`` are for today), the path and the query with its parameters in a
canonical order. A hit sends the stored status line, headers and body (so it is byte-identical
to the answer it copies) straight from the event loop: no routing, no threadpool, no database.

Only anonymous ``GET``s of the listed paths are memoised, and only while reads need no key: a
request with a credential goes through authentication every time. Only 200 answers are stored.
The memo is bounded in entries and in bytes, and drops the least recently used first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.observability import Metrics
from service.state import resources

MEMOISED_PATHS = frozenset({"/quote", "/residual", "/models"})
QUOTE_KINDS = {"/quote": "quote", "/residual": "residual"}  # counted as quotes when served
_CREDENTIALS = frozenset({b"authorization", b"x-api-key"})

Key = tuple[int, int, str, tuple[bytes, ...]]


@dataclass(frozen=True, slots=True)
class Answer:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any  # the route that answered, for the metrics of a hit

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 64


class AnswerMemo:
    """A least-recently-used map from inputs digest to answer, bounded twice."""

    def __init__(self, *, entries: int = 4096, total_bytes: int = 64 * 2**20) -> None:
        self.max_entries = entries
        self.max_bytes = total_bytes
        self.max_answer_bytes = total_bytes // 64
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: Key) -> Answer | None:
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def put(self, key: Key, answer: Answer) -> None:
        if answer.size > self.max_answer_bytes:
            return
        old = self._answers.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        self._answers[key] = answer
        self._bytes += answer.size
        while len(self._answers) > self.max_entries or self._bytes > self.max_bytes:
            _, dropped = self._answers.popitem(last=False)
            self._bytes -= dropped.size


def canonical_query(raw: bytes) -> tuple[bytes, ...]:
    """The query's parameters sorted by name; repeated names keep their order (the last wins)."""
    return tuple(sorted((p for p in raw.split(b"&") if p), key=lambda p: p.partition(b"=")[0]))


def _utc_day() -> int:
    return datetime.now(UTC).toordinal()


class AnswerMemoMiddleware:
    """Pure ASGI; sits inside the input guard, so a hit has passed the same checks."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled
        self.memo = AnswerMemo()
        self._hits = metrics.memo.labels("hit")
        self._misses = metrics.memo.labels("miss")
        self._quotes = {path: metrics.quotes.labels(k) for path, k in QUOTE_KINDS.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._key(scope) if self.enabled else None
        if key is None:
            await self.app(scope, receive, send)
            return
        answer = self.memo.get(key)
        if answer is not None:
            self._hits.inc()
            scope["route"] = answer.route
            counter = self._quotes.get(scope["path"])
            if counter is not None:
                counter.inc()
            await send(
                {"type": "http.response.start", "status": 200, "headers": list(answer.headers)}
            )
            await send({"type": "http.response.body", "body": answer.body})
            return
        self._misses.inc()
        await self._answer_and_keep(key, scope, receive, send)

    def _key(self, scope: Scope) -> Key | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        path: str = scope["path"]
        if path not in MEMOISED_PATHS:
            return None
        for name, _ in scope["headers"]:
            if name in _CREDENTIALS:
                return None
        tracker = resources(scope["app"]).versions
        version = tracker.current() if tracker is not None else None
        if version is None:
            return None
        return (version, _utc_day(), path, canonical_query(scope.get("query_string", b"")))

    async def _answer_and_keep(self, key: Key, scope: Scope, receive: Receive, send: Send) -> None:
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def keeping(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body" and status == 200:
                chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    body = b"".join(chunks)
                    self.memo.put(key, Answer(headers, body, scope.get("route")))
            await send(message)

        await self.app(scope, receive, keeping)
