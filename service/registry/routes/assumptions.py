"""HTTP routes of the valuation defaults: validate, call the registry service, shape the answer."""

from __future__ import annotations

from fastapi import Response

from service.api import (
    IfMatch,
    IfMatchHeader,
    Page,
    SessionDep,
    etag,
    set_etag,
)
from service.registry import repository, service
from service.registry.routes.common import (
    WRITE_ERRORS,
    AssumptionName,
    registry_router,
)
from service.registry.schemas import (
    AssumptionRead,
    AssumptionsUpdate,
    AssumptionUpdate,
)
from service.web.problems import responses

router = registry_router()


@router.get(
    "/assumptions",
    tags=["assumptions"],
    response_model=Page[AssumptionRead],
    responses=responses(503),
)
def list_assumptions(session: SessionDep, response: Response) -> Page[AssumptionRead]:
    """The valuation defaults, with units, bounds and reasons. Every request may override them."""
    rows = repository.list_assumptions(session)
    set_etag(response, service.assumptions_etag(rows))
    items = [AssumptionRead.model_validate(r) for r in rows]
    return Page[AssumptionRead](items=items, next_cursor=None, total=len(items))


@router.put(
    "/assumptions",
    tags=["assumptions"],
    response_model=Page[AssumptionRead],
    responses=WRITE_ERRORS,
)
def update_assumptions(
    session: SessionDep, body: AssumptionsUpdate, response: Response, if_match: IfMatch = None
) -> Page[AssumptionRead]:
    """Set several defaults at once, all or nothing (If-Match: the ETag of GET /assumptions)."""
    rows = service.update_assumptions(session, body, expected=IfMatchHeader(if_match))
    set_etag(response, service.assumptions_etag(rows))
    items = [AssumptionRead.model_validate(r) for r in rows]
    return Page[AssumptionRead](items=items, next_cursor=None, total=len(items))


@router.get(
    "/assumptions/{name}",
    tags=["assumptions"],
    response_model=AssumptionRead,
    responses=responses(404, 422, 503),
)
def get_assumption(session: SessionDep, name: AssumptionName, response: Response) -> AssumptionRead:
    """One valuation default."""
    row = service.require_assumption(session, name)
    set_etag(response, etag(row.revision))
    return AssumptionRead.model_validate(row)


@router.put(
    "/assumptions/{name}",
    tags=["assumptions"],
    response_model=AssumptionRead,
    responses=WRITE_ERRORS,
)
def update_assumption(
    session: SessionDep,
    name: AssumptionName,
    body: AssumptionUpdate,
    response: Response,
    if_match: IfMatch = None,
) -> AssumptionRead:
    """Set one default (within its bounds), with the reason for the new value."""
    row = service.update_assumption(session, name, body, expected=IfMatchHeader(if_match))
    set_etag(response, etag(row.revision))
    return AssumptionRead.model_validate(row)
