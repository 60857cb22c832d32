"""``/audit``: the audit log, for admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from service.api import (
    CursorParam,
    Limit,
    Page,
    RetryingRoute,
    SessionDep,
    read_cursor,
)
from service.audit import repository
from service.auth.deps import AUTH_ERRORS, require_admin
from service.common.fields import Instant
from service.errors import FieldError, InvalidInput
from service.text import SingleLine
from service.web.pages import page_of
from service.web.problems import responses

router = APIRouter(
    tags=["audit"],
    dependencies=[Depends(require_admin)],
    responses=AUTH_ERRORS,
    route_class=RetryingRoute,
)


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_key_id: int | None
    actor: str
    request_id: str | None
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@router.get("/audit", response_model=Page[AuditRead], responses=responses(422, 503))
def list_audit(
    session: SessionDep,
    entity: Annotated[SingleLine | None, Query(max_length=30, examples=["model"])] = None,
    entity_id: Annotated[
        SingleLine | None, Query(max_length=80, examples=["nvidia-h100-sxm5-80gb"])
    ] = None,
    action: Literal["create", "update", "delete"] | None = None,
    actor_key_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    since: Annotated[
        Instant | None, Query(description="On or after this instant (ISO 8601).")
    ] = None,
    until: Annotated[Instant | None, Query(description="Before this instant (ISO 8601).")] = None,
    limit: Limit = 100,
    cursor: CursorParam = None,
) -> Page[AuditRead]:
    """Every recorded change, oldest first, with who made it and the values before and after."""
    for name, instant in (("since", since), ("until", until)):
        if instant is not None and instant.tzinfo is None:
            raise InvalidInput(
                "Give instants with a time zone.",
                errors=[FieldError(field=f"query.{name}", reason="naive datetime")],
            )
    flt = repository.AuditFilter(
        entity=entity,
        entity_id=entity_id,
        action=action,
        actor_key_id=actor_key_id,
        since=since,
        until=until,
    )
    after = read_cursor(cursor, int)[0] if cursor else None
    rows, total = repository.list_entries(session, flt, limit=limit, after=after)
    return page_of(rows, total, limit=limit, read=AuditRead.model_validate, key=lambda e: [e.id])
