"""HTTP routes of the precision frontier: validate, call the registry service, shape the answer."""

from __future__ import annotations

from fastapi import Response, status

from service.api import (
    IfMatch,
    IfMatchHeader,
    Page,
    SessionDep,
    set_etag,
)
from service.registry import repository, service
from service.registry.routes.common import (
    WRITE_ERRORS,
    registry_router,
)
from service.registry.schemas import (
    FrontierEntryIn,
    FrontierEntryRead,
    FrontierReplace,
)
from service.web.problems import responses

router = registry_router()


def _frontier_page(session: SessionDep, response: Response) -> Page[FrontierEntryRead]:
    rows = repository.list_frontier(session)
    set_etag(response, service.timeline_etag(rows))
    items = [FrontierEntryRead.model_validate(r) for r in rows]
    return Page[FrontierEntryRead](items=items, next_cursor=None, total=len(items))


@router.get(
    "/frontier", tags=["frontier"], response_model=Page[FrontierEntryRead], responses=responses(503)
)
def get_frontier(session: SessionDep, response: Response) -> Page[FrontierEntryRead]:
    """The precision frontier: from which date each precision is the market's production format."""
    return _frontier_page(session, response)


@router.post(
    "/frontier",
    tags=["frontier"],
    status_code=status.HTTP_201_CREATED,
    response_model=FrontierEntryRead,
    responses=responses(400, 409, 422, 503),
)
def add_frontier_entry(session: SessionDep, body: FrontierEntryIn) -> FrontierEntryRead:
    """Add the date from which a new precision is the production format."""
    return FrontierEntryRead.model_validate(service.add_frontier_entry(session, body))


@router.put(
    "/frontier", tags=["frontier"], response_model=Page[FrontierEntryRead], responses=WRITE_ERRORS
)
def replace_frontier(
    session: SessionDep, body: FrontierReplace, response: Response, if_match: IfMatch = None
) -> Page[FrontierEntryRead]:
    """Replace the whole timeline (the ETag of GET /frontier guards it)."""
    service.replace_frontier(session, body.items, expected=IfMatchHeader(if_match))
    return _frontier_page(session, response)
