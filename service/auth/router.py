"""``/keys``: API key management (admin scope)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.api import Page, RetryingRoute, SessionDep
from service.auth import keys
from service.auth.deps import AUTH_ERRORS, require_admin
from service.state import resources
from service.text import ONE_LINE
from service.web.problems import responses

router = APIRouter(
    tags=["keys"],
    dependencies=[Depends(require_admin)],
    responses=AUTH_ERRORS,
    route_class=RetryingRoute,
)


class KeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "billing-service", "scopes": ["read", "write"]}]},
    )

    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), ONE_LINE
    ]
    scopes: list[keys.Scope] = Field(min_length=1, max_length=3)


class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str = Field(description="The visible part of the key, to recognise it in lists.")
    scopes: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyRead):
    key: str = Field(description="The key itself. It is shown once and never stored.")


@router.get("/keys", response_model=Page[KeyRead], responses=responses(503))
def list_keys(session: SessionDep) -> Page[KeyRead]:
    """Every API key (prefix, name, scopes, revocation); never the keys themselves."""
    items = [KeyRead.model_validate(k) for k in keys.list_keys(session)]
    return Page[KeyRead](items=items, next_cursor=None, total=len(items))


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyCreated,
    responses=responses(400, 422, 503),
)
def create_key(
    session: SessionDep, body: KeyCreate, request: Request, response: Response
) -> KeyCreated:
    """Issue a key. Copy it from this answer: only its hash is kept."""
    secret = keys.server_secret(resources(request.app).settings)
    row, plaintext = keys.create_key(session, secret, name=body.name, scopes=",".join(body.scopes))
    response.headers["Location"] = f"/keys/{row.id}"
    response.headers["Cache-Control"] = "no-store"
    return KeyCreated(**KeyRead.model_validate(row).model_dump(), key=plaintext)


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(404, 409, 422, 503),
)
def revoke_key(session: SessionDep, key_id: Annotated[int, Path(ge=1, le=2**31 - 1)]) -> Response:
    """Revoke a key; it stops working at once, and stays listed with its revocation time."""
    keys.revoke(session, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
