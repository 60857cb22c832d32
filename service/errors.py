"""Domain errors: what went wrong, in the domain's words, with no knowledge of HTTP.

Every error carries a ``kind`` (a stable slug, the last part of the problem ``type``) and, when
the caller's input is at fault, the fields concerned (``errors``). The web edge
(``service.web.problems``) maps kinds to statuses and renders RFC 9457 problems; the command
line prints the detail. Nothing here imports a web framework.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, Field, ValidationError


class FieldError(BaseModel):
    """One reason an input was refused."""

    field: str = Field(description="Dotted path of the failing field, e.g. `query.limit`.")
    reason: str
    line: int | None = Field(
        default=None, description="Line (CSV, header is line 1) or item index (JSON) in a bulk."
    )


def field_errors(exc: ValidationError, prefix: str) -> list[FieldError]:
    """A pydantic refusal as field errors, each path under ``prefix`` (``body``, ``query``)."""
    return [
        FieldError(
            field=".".join([prefix, *map(str, e["loc"])]),
            reason=e["msg"],
        )
        for e in exc.errors()
    ]


class ServiceError(Exception):
    """Base of every error a caller can cause or should be told about."""

    kind: ClassVar[str] = "bad-request"

    def __init__(self, detail: str, *, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)


class Unauthorized(ServiceError):
    """No credentials, or credentials that name nobody."""

    kind = "unauthorized"


class Forbidden(ServiceError):
    """Known caller, insufficient scope."""

    kind = "forbidden"


class NotFound(ServiceError):
    kind = "not-found"


class Conflict(ServiceError):
    """The change contradicts what is stored (a duplicate, a row still in use)."""

    kind = "conflict"


class PreconditionFailed(ServiceError):
    """The caller changed a version it no longer has: someone else changed it meanwhile."""

    kind = "precondition-failed"


class PreconditionRequired(ServiceError):
    """The caller must name the version it changes."""

    kind = "precondition-required"


class InvalidInput(ServiceError):
    kind = "validation-error"


class PayloadTooLarge(ServiceError):
    kind = "payload-too-large"
