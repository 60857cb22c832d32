"""HTTP routes of market observations: validate, call the registry service, shape the answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, Response, status

from service.api import (
    ContentType,
    CursorParam,
    IfMatch,
    IfMatchHeader,
    Limit,
    Page,
    RawBody,
    SessionDep,
    etag,
    import_body,
    read_cursor,
    set_etag,
)
from service.common import bulk
from service.common.fields import LOWER_CASE, SLUG_PATTERN, ImportResult, MarketDate
from service.engine.types import Kind, Term
from service.registry import repository, service
from service.registry.routes.common import (
    READ_ERRORS,
    WRITE_ERRORS,
    ObservationId,
    registry_router,
)
from service.registry.schemas import (
    ObservationCreate,
    ObservationRead,
)
from service.text import SingleLine
from service.web.pages import check_range, page_of
from service.web.problems import responses

router = registry_router()


@router.get(
    "/observations",
    tags=["observations"],
    response_model=Page[ObservationRead],
    responses=READ_ERRORS,
)
def list_observations(
    session: SessionDep,
    model: Annotated[
        str | None,
        Query(max_length=80, pattern=SLUG_PATTERN, examples=["nvidia-h100-sxm5-80gb"]),
        LOWER_CASE,
    ] = None,
    kind: Kind | None = None,
    term: Term | None = None,
    provider: Annotated[
        SingleLine | None, Query(max_length=120, description="Substring, case-insensitive.")
    ] = None,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$")] = None,
    observed_from: Annotated[
        MarketDate | None, Query(alias="from", description="On or after this date.")
    ] = None,
    observed_to: Annotated[
        MarketDate | None, Query(alias="to", description="On or before this date.")
    ] = None,
    limit: Limit = 100,
    cursor: CursorParam = None,
) -> Page[ObservationRead]:
    """List market observations in date order."""
    check_range(observed_from, observed_to, "from", "to")
    after = read_cursor(cursor, date, int) if cursor else None
    flt = repository.ObservationFilter(
        model, kind, term, provider, currency, observed_from, observed_to
    )
    rows, total = repository.list_observations(session, flt, limit=limit, after=after)
    return page_of(
        rows,
        total,
        limit=limit,
        read=service.to_read,
        key=lambda o: [o.observed_on.isoformat(), o.id],
    )


@router.post(
    "/observations",
    tags=["observations"],
    status_code=status.HTTP_201_CREATED,
    response_model=ObservationRead,
    responses=responses(400, 409, 422, 503),
)
def create_observation(
    session: SessionDep, body: ObservationCreate, response: Response
) -> ObservationRead:
    """Record one market observation (a lease rate or a sale price)."""
    obs = service.create_observation(session, body)
    response.headers["Location"] = f"/observations/{obs.id}"
    set_etag(response, etag(obs.revision))
    return service.to_read(obs)


@router.post(
    "/observations/import",
    tags=["observations"],
    status_code=status.HTTP_201_CREATED,
    response_model=ImportResult,
    responses=responses(400, 409, 413, 422, 503),
    openapi_extra=import_body("the reference file's columns; `model` may be `model_slug`"),
)
def import_observations(
    session: SessionDep, body: RawBody, content_type: ContentType
) -> ImportResult:
    """Bulk-record observations from CSV (the reference file's columns) or JSON, all or nothing."""
    rows = bulk.parse(body, content_type)
    created = service.import_observations(session, rows)
    return ImportResult(created=created, skipped=0)


@router.get(
    "/observations/{observation_id:int}",
    tags=["observations"],
    response_model=ObservationRead,
    responses=responses(404, 422, 503),
)
def get_observation(
    session: SessionDep, observation_id: ObservationId, response: Response
) -> ObservationRead:
    """One market observation."""
    obs = service.require_observation(session, observation_id)
    set_etag(response, etag(obs.revision))
    return service.to_read(obs)


@router.delete(
    "/observations/{observation_id:int}",
    tags=["observations"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=WRITE_ERRORS,
)
def delete_observation(
    session: SessionDep, observation_id: ObservationId, if_match: IfMatch = None
) -> Response:
    """Withdraw an observation recorded in error."""
    service.delete_observation(session, observation_id, expected=IfMatchHeader(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
