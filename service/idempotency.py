"""``Idempotency-Key`` on POST, as in Stripe's API and the IETF httpapi draft.

The first response to a key is stored and replayed for the same key and request (marked
``Idempotent-Replayed: true``); the same key with a different request is 422; a retry while the
first is still running is 409. Keys are scoped to the caller's credential and expire after 24 h.
A claim row is inserted before the request runs, so concurrent copies cannot both run: the
primary key decides. A response of 5xx (or 401/403) releases the key so the retry can proceed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import JSON, Integer, LargeBinary, String, delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.db import Base, UTCDateTime, utcnow
from service.state import resources
from service.web.problems import problem_response

HEADER = "idempotency-key"
TTL = timedelta(hours=24)
LOCK = timedelta(minutes=5)
REPLAYED_HEADERS = ("content-type", "location", "etag")
RELEASE_STATUSES = frozenset({401, 403})
FINISH_ATTEMPTS = 3
log = logging.getLogger("service.idempotency")


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    namespace: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)


@dataclass(frozen=True, slots=True)
class Claimed:
    pass


@dataclass(frozen=True, slots=True)
class Replay:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    status: int
    detail: str


def namespace_of(scope: Scope) -> str:
    """Keys belong to the credential that sent them (anonymous callers share one namespace)."""
    headers = dict(scope.get("headers") or [])
    credential = headers.get(b"authorization") or headers.get(b"x-api-key") or b""
    return hashlib.sha256(credential).hexdigest()[:32] if credential else "anonymous"


def fingerprint_of(scope: Scope, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b"")):
        h.update(part + b"\0")
    h.update(body)
    return h.hexdigest()


def claim(
    sessions: sessionmaker[Session], namespace: str, key: str, fingerprint: str
) -> Claimed | Replay | Refused:
    now = utcnow()
    with sessions() as session:
        session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.namespace == namespace,
                IdempotencyRecord.key == key,
                IdempotencyRecord.expires_at <= now,
            )
        )
        session.add(
            IdempotencyRecord(
                namespace=namespace,
                key=key,
                fingerprint=fingerprint,
                status="in_progress",
                locked_until=now + LOCK,
                expires_at=now + TTL,
            )
        )
        try:
            session.commit()
            return Claimed()
        except IntegrityError:
            session.rollback()
        row = session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.namespace == namespace, IdempotencyRecord.key == key
            )
        )
        if row is None:  # expired and removed meanwhile: the caller may simply retry
            return Refused(409, "The Idempotency-Key is being recycled; retry.")
        if row.fingerprint != fingerprint:
            return Refused(422, "This Idempotency-Key was used with a different request.")
        if row.status == "done":
            return Replay(
                row.response_status or 200,
                dict(row.response_headers or {}),
                row.response_body or b"",
            )
        if row.locked_until > now:
            return Refused(
                409, "A request with this Idempotency-Key is still being processed; retry."
            )
        taken = session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.namespace == namespace,
                IdempotencyRecord.key == key,
                IdempotencyRecord.locked_until == row.locked_until,
            )
            .values(locked_until=now + LOCK)
        )
        session.commit()
        if getattr(taken, "rowcount", 0) == 1:
            return Claimed()
        return Refused(409, "A request with this Idempotency-Key is still being processed; retry.")


def finish(
    sessions: sessionmaker[Session],
    namespace: str,
    key: str,
    status: int,
    headers: dict[str, str],
    body: bytes,
) -> None:
    with sessions() as session:
        where = (IdempotencyRecord.namespace == namespace, IdempotencyRecord.key == key)
        if status >= 500 or status in RELEASE_STATUSES:
            session.execute(delete(IdempotencyRecord).where(*where))
        else:
            session.execute(
                update(IdempotencyRecord)
                .where(*where)
                .values(
                    status="done",
                    response_status=status,
                    response_headers=headers,
                    response_body=body,
                )
            )
        session.commit()


class IdempotencyMiddleware:
    """Pure ASGI middleware; the request body is buffered once and handed on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        raw_key = dict(scope.get("headers") or []).get(HEADER.encode())
        if raw_key is None:
            await self.app(scope, receive, send)
            return
        key = raw_key.decode("latin-1").strip()
        if not key or len(key) > 255 or not key.isprintable():
            await problem_response(
                400,
                "Idempotency-Key must be 1 to 255 printable characters.",
                kind="bad-idempotency-key",
            )(scope, receive, send)
            return
        body, more = await _read_body(receive)
        if more is not None:
            await more(scope, receive, send)
            return
        sessions = resources(scope["app"]).sessions
        namespace = namespace_of(scope)
        try:
            outcome = await anyio.to_thread.run_sync(
                claim, sessions, namespace, key, fingerprint_of(scope, body)
            )
        except SQLAlchemyError as exc:
            if not _database_unavailable(exc):
                raise
            log.warning("idempotency claim failed, database unavailable: %s", exc)
            await problem_response(
                503,
                "The database is unreachable; retry shortly with the same Idempotency-Key.",
                kind="database-unavailable",
                headers={"Retry-After": "2"},
            )(scope, receive, send)
            return
        if isinstance(outcome, Refused):
            headers = {"Retry-After": "1"} if outcome.status == 409 else None
            await problem_response(
                outcome.status, outcome.detail, kind="idempotency", headers=headers
            )(scope, receive, send)
            return
        if isinstance(outcome, Replay):
            await _replay(outcome, send)
            return
        await self._run(scope, body, send, sessions, namespace, key)

    async def _run(
        self, scope: Scope, body: bytes, send: Send, sessions: Any, namespace: str, key: str
    ) -> None:
        captured: dict[str, Any] = {"status": 500, "headers": {}, "body": bytearray()}
        delivered = False

        async def receive_once() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = {
                    k.decode("latin-1"): v.decode("latin-1")
                    for k, v in message.get("headers", [])
                    if k.decode("latin-1").lower() in REPLAYED_HEADERS
                }
            elif message["type"] == "http.response.body":
                captured["body"].extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive_once, capture)
        finally:
            await _finish(
                sessions,
                namespace,
                key,
                captured["status"],
                captured["headers"],
                bytes(captured["body"]),
            )


async def _finish(sessions: Any, namespace: str, key: str, *result: Any) -> None:
    """Store the answer, retrying on a dropped connection: the answer is already on its way, so
    a failure here can only be logged, and the claim then stays locked until ``LOCK`` lapses."""
    for attempt in range(1, FINISH_ATTEMPTS + 1):
        try:
            await anyio.to_thread.run_sync(finish, sessions, namespace, key, *result)
            return
        except SQLAlchemyError as exc:
            if not _database_unavailable(exc) or attempt == FINISH_ATTEMPTS:
                log.error("could not record the answer for Idempotency-Key %r: %s", key, exc)
                return
            await anyio.sleep(0.2 * attempt)


def _database_unavailable(exc: SQLAlchemyError) -> bool:
    return isinstance(exc, OperationalError | PoolTimeoutError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


async def _read_body(receive: Receive) -> tuple[bytes, Any]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", _disconnected
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


async def _disconnected(scope: Scope, receive: Receive, send: Send) -> None:
    return None


async def _replay(replay: Replay, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in replay.headers.items()]
    headers.append((b"idempotent-replayed", b"true"))
    headers.append((b"content-length", str(len(replay.body)).encode()))
    await send({"type": "http.response.start", "status": replay.status, "headers": headers})
    await send({"type": "http.response.body", "body": replay.body})


__all__ = ["IdempotencyMiddleware", "IdempotencyRecord"]
