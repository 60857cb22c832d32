"""Authentication and scope checks as FastAPI dependencies, declared as OpenAPI security."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from service.auth.keys import Principal, server_secret, verify
from service.config import Settings
from service.errors import Forbidden, Unauthorized
from service.state import resources
from service.web.problems import responses

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="`Authorization: Bearer gv_…` with a key from `gpuval keys create` or POST /keys.",
)
api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="The same key, as a header.",
)

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
AUTH_ERRORS = responses(401, 403)


def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    header_key: Annotated[str | None, Security(api_key_header)],
) -> Principal | None:
    """Who is calling: None without a key; 401 for a key that is unknown or revoked."""
    key = credentials.credentials if credentials else header_key
    if not key:
        return None
    settings: Settings = resources(request.app).settings
    with resources(request.app).sessions() as session:
        principal = verify(session, server_secret(settings), key.strip())
    if principal is None:
        raise Unauthorized("The API key is unknown or revoked.")
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal | None, Depends(current_principal)]


def _require(principal: Principal | None, scope: str) -> Principal:
    if principal is None:
        raise Unauthorized(f"This operation needs an API key with the `{scope}` scope.")
    if not principal.can(scope):
        raise Forbidden(f"The key {principal.name!r} lacks the `{scope}` scope.")
    return principal


def authorize_read(request: Request, principal: PrincipalDep) -> Principal | None:
    """Reads, and computations that change nothing (POST /quote): a `read` key only when
    REQUIRE_READ_KEY is set."""
    settings: Settings = resources(request.app).settings
    return _require(principal, "read") if settings.require_read_key else principal


def authorize(request: Request, principal: PrincipalDep) -> Principal | None:
    """Writes need `write`; reads need `read` only when REQUIRE_READ_KEY is set."""
    if request.method in READ_METHODS:
        return authorize_read(request, principal)
    return _require(principal, "write")


def require_admin(principal: PrincipalDep) -> Principal:
    return _require(principal, "admin")
