"""The errors of ``service.client``: one class per kind of answer, built from problem+json."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

__all__ = [
    "AuthError",
    "GpuvalError",
    "InvalidRequestError",
    "NotFoundError",
    "UnavailableError",
    "raise_for",
    "retry_after",
]


class GpuvalError(Exception):
    """An error answer from gpuval; problem+json fields when the body was a problem."""

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        type: str | None = None,
        title: str | None = None,
        instance: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if status else detail)
        self.detail, self.status, self.type, self.title = detail, status, type, title
        self.instance = instance
        self.errors = errors or []

    @property
    def fields(self) -> list[str]:
        """Dotted paths of the failing fields, e.g. ``query.gpus``."""
        return [str(e.get("field")) for e in self.errors]


class NotFoundError(GpuvalError):
    """404: unknown model (or path)."""


class InvalidRequestError(GpuvalError):
    """400 or 422: the request was refused; see ``errors``."""


class AuthError(GpuvalError):
    """401 or 403: missing, unknown or under-scoped API key."""


class UnavailableError(GpuvalError):
    """5xx, or no answer at all, after every retry."""


_BY_STATUS: dict[int, type[GpuvalError]] = {
    400: InvalidRequestError,
    422: InvalidRequestError,
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
}


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    status = response.status_code
    kind = _BY_STATUS.get(status, UnavailableError if status >= 500 else GpuvalError)
    body = _json(response) if "problem+json" in response.headers.get("content-type", "") else None
    if isinstance(body, dict):
        raise kind(
            str(body.get("detail", "")),
            status=status,
            type=body.get("type"),
            title=body.get("title"),
            instance=body.get("instance"),
            errors=list(body.get("errors") or []),
        )
    raise kind(response.text or response.reason_phrase, status=status, title=response.reason_phrase)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
