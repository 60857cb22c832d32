"""Issuing, verifying and revoking API keys.

A key is ``gv_<prefix>_<secret>``. Only the prefix (to find the row) and
``HMAC-SHA256(server secret, key)`` are stored, so a copy of the database lets nobody call us.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth.orm import ApiKey
from service.config import Settings
from service.db import utcnow
from service.errors import Conflict, FieldError, InvalidInput, NotFound

SCOPES = ("read", "write", "admin")
Scope = Literal["read", "write", "admin"]
# A wider scope grants the narrower ones: admin ⊇ write ⊇ read.
IMPLIED = {"read": {"read"}, "write": {"read", "write"}, "admin": {"read", "write", "admin"}}
KEY_PREFIX = "gv_"


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: int
    name: str
    scopes: frozenset[str]

    def can(self, scope: str) -> bool:
        return any(scope in IMPLIED[s] for s in self.scopes if s in IMPLIED)


def server_secret(settings: Settings) -> bytes:
    """The configured secret, or one created once beside the service (never in the repo)."""
    if settings.api_key_secret is not None:
        return settings.api_key_secret.get_secret_value().encode()
    path = Path(settings.secret_file)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def digest(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def parse_scopes(text: str | Iterable[str]) -> str:
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    unknown = sorted(set(items) - set(SCOPES))
    if unknown or not items:
        raise InvalidInput(
            f"Scopes must be a non-empty subset of {', '.join(SCOPES)}.",
            errors=[
                FieldError(field="scopes", reason=f"unknown: {', '.join(unknown) or '(none)'}")
            ],
        )
    return ",".join(s for s in SCOPES if s in items)


def create_key(session: Session, secret: bytes, *, name: str, scopes: str) -> tuple[ApiKey, str]:
    """A new key; the plaintext is returned once and never stored."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        name=name, prefix=prefix, key_hash=digest(secret, key), scopes=parse_scopes(scopes)
    )
    session.add(row)
    session.flush()
    return row, key


def verify(session: Session, secret: bytes, key: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None for anything else (same time either way)."""
    parts = key.split("_")
    prefix = parts[1] if len(parts) >= 3 and key.startswith(KEY_PREFIX) else ""
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix)) if prefix else None
    expected = row.key_hash if row is not None else digest(secret, "no such key")
    if not hmac.compare_digest(expected, digest(secret, key)) or row is None:
        return None
    if row.revoked_at is not None:
        return None
    return Principal(key_id=row.id, name=row.name, scopes=row.scope_set)


def list_keys(session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.id)).all()


def revoke(session: Session, ident: str | int) -> ApiKey:
    """Revoke by id or prefix; revoking twice is refused so the first revocation time stands."""
    text = str(ident)
    if isinstance(ident, int):
        row = session.get(ApiKey, ident)
    else:
        # A prefix is hex and may be all digits (``06456260``), so it is looked up first;
        # a string is read as an id only when no prefix matches.
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == text))
        if row is None and text.isdigit() and len(text) <= 9:
            row = session.get(ApiKey, int(text))
    if row is None:
        raise NotFound(f"No API key {text!r}.")
    if row.revoked_at is not None:
        raise Conflict(f"API key {text!r} was already revoked at {row.revoked_at.isoformat()}.")
    row.revoked_at = utcnow()
    session.flush()
    return row
