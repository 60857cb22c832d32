"""HTTP routes of the registry: validate, call the service, shape the answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status

from service.api import (
    ContentType,
    CursorParam,
    IfMatch,
    IfMatchHeader,
    Limit,
    Page,
    RawBody,
    RetryingRoute,
    SessionDep,
    encode_cursor,
    etag,
    import_body,
    read_cursor,
    set_etag,
)
from service.auth.deps import AUTH_ERRORS, authorize
from service.common import bulk
from service.common.fields import MONTH_PATTERN, SLUG_PATTERN, ImportResult, MarketDate
from service.engine.types import Kind, Segment, Term
from service.errors import FieldError, InvalidInput
from service.registry import repository, service
from service.registry.schemas import (
    AssumptionRead,
    AssumptionsUpdate,
    AssumptionUpdate,
    FrontierEntryIn,
    FrontierEntryRead,
    FrontierReplace,
    FxRateRead,
    GpuModelCreate,
    GpuModelPatch,
    GpuModelRead,
    GpuModelReplace,
    ObservationCreate,
    ObservationRead,
)
from service.text import SingleLine
from service.web.problems import responses

router = APIRouter(
    dependencies=[Depends(authorize)], responses=AUTH_ERRORS, route_class=RetryingRoute
)

SlugPath = Annotated[
    str, Path(min_length=2, max_length=80, pattern=SLUG_PATTERN, examples=["nvidia-h100-sxm5-80gb"])
]
ObservationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
AssumptionName = Annotated[SingleLine, Path(max_length=60, examples=["utilisation"])]

READ_ERRORS = responses(400, 422, 503)
WRITE_ERRORS = responses(400, 404, 409, 412, 422, 428, 503)


# --- GPU models -------------------------------------------------------------------------------


@router.get("/models", tags=["models"], response_model=Page[GpuModelRead], responses=READ_ERRORS)
def list_models(
    session: SessionDep,
    vendor: Annotated[SingleLine | None, Query(max_length=40, examples=["NVIDIA"])] = None,
    segment: Segment | None = None,
    architecture: Annotated[SingleLine | None, Query(max_length=40, examples=["Hopper"])] = None,
    fp8: Annotated[
        bool | None, Query(description="Only models with (true) or without FP8.")
    ] = None,
    fp4: Annotated[
        bool | None, Query(description="Only models with (true) or without FP4.")
    ] = None,
    q: Annotated[
        SingleLine | None,
        Query(
            max_length=80,
            description="Text search in slug, vendor, family, variant, architecture.",
            examples=["h100"],
        ),
    ] = None,
    limit: Limit = 100,
    cursor: CursorParam = None,
) -> Page[GpuModelRead]:
    """List GPU models, filtered, in slug order."""
    after = read_cursor(cursor, str)[0] if cursor else None
    flt = repository.ModelFilter(vendor, segment, architecture, fp8, fp4, q)
    rows, total = repository.list_models(session, flt, limit=limit, after=after)
    items = [GpuModelRead.model_validate(r) for r in rows[:limit]]
    next_cursor = encode_cursor([items[-1].slug]) if len(rows) > limit else None
    return Page[GpuModelRead](items=items, next_cursor=next_cursor, total=total)


@router.post(
    "/models",
    tags=["models"],
    status_code=status.HTTP_201_CREATED,
    response_model=GpuModelRead,
    responses=WRITE_ERRORS,
)
def create_model(session: SessionDep, body: GpuModelCreate, response: Response) -> GpuModelRead:
    """Register a GPU model. FP8/FP4 support follows from the throughput columns."""
    model = service.create_model(session, body)
    response.headers["Location"] = f"/models/{model.slug}"
    set_etag(response, etag(model.revision))
    return GpuModelRead.model_validate(model)


@router.post(
    "/models/import",
    tags=["models"],
    status_code=status.HTTP_201_CREATED,
    response_model=ImportResult,
    responses=responses(400, 409, 413, 422, 503),
    openapi_extra=import_body("the catalogue's columns"),
)
def import_models(
    session: SessionDep,
    body: RawBody,
    content_type: ContentType,
    on_conflict: Annotated[
        Literal["error", "skip"],
        Query(description="`skip`: leave models that already exist as they are."),
    ] = "error",
) -> ImportResult:
    """Bulk-create GPU models from CSV (the catalogue's columns) or JSON, all or nothing."""
    rows = bulk.parse(body, content_type)
    created, skipped = service.import_models(session, rows, on_conflict=on_conflict)
    return ImportResult(created=created, skipped=skipped)


@router.get(
    "/models/{slug}",
    tags=["models"],
    response_model=GpuModelRead,
    responses=responses(404, 422, 503),
)
def get_model(session: SessionDep, slug: SlugPath, response: Response) -> GpuModelRead:
    """One GPU model, with its ETag for conditional updates."""
    model = service.require_model(session, slug)
    set_etag(response, etag(model.revision))
    return GpuModelRead.model_validate(model)


@router.put("/models/{slug}", tags=["models"], response_model=GpuModelRead, responses=WRITE_ERRORS)
def replace_model(
    session: SessionDep,
    slug: SlugPath,
    body: GpuModelReplace,
    response: Response,
    if_match: IfMatch = None,
) -> GpuModelRead:
    """Replace every field of a GPU model."""
    model = service.replace_model(session, slug, body, expected=IfMatchHeader(if_match))
    set_etag(response, etag(model.revision))
    return GpuModelRead.model_validate(model)


@router.patch(
    "/models/{slug}", tags=["models"], response_model=GpuModelRead, responses=WRITE_ERRORS
)
def patch_model(
    session: SessionDep,
    slug: SlugPath,
    body: GpuModelPatch,
    response: Response,
    if_match: IfMatch = None,
) -> GpuModelRead:
    """Change some fields of a GPU model; the result is validated as a whole."""
    model = service.patch_model(session, slug, body, expected=IfMatchHeader(if_match))
    set_etag(response, etag(model.revision))
    return GpuModelRead.model_validate(model)


@router.delete(
    "/models/{slug}",
    tags=["models"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=WRITE_ERRORS,
)
def delete_model(
    session: SessionDep,
    slug: SlugPath,
    cascade: Annotated[bool, Query(description="Also delete the model's observations.")] = False,
    if_match: IfMatch = None,
) -> Response:
    """Delete a GPU model; refused with 409 while it has observations, unless cascade=true."""
    service.delete_model(session, slug, cascade=cascade, expected=IfMatchHeader(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- observations -----------------------------------------------------------------------------


@router.get(
    "/observations",
    tags=["observations"],
    response_model=Page[ObservationRead],
    responses=READ_ERRORS,
)
def list_observations(
    session: SessionDep,
    model: Annotated[
        str | None, Query(max_length=80, pattern=SLUG_PATTERN, examples=["nvidia-h100-sxm5-80gb"])
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
    if observed_from and observed_to and observed_from > observed_to:
        raise InvalidInput(
            "`from` is after `to`.", errors=[FieldError(field="query.from", reason="after `to`")]
        )
    after = read_cursor(cursor, date, int) if cursor else None
    flt = repository.ObservationFilter(
        model, kind, term, provider, currency, observed_from, observed_to
    )
    rows, total = repository.list_observations(session, flt, limit=limit, after=after)
    items = [service.to_read(r) for r in rows[:limit]]
    next_cursor = (
        encode_cursor([items[-1].observed_on.isoformat(), items[-1].id])
        if len(rows) > limit
        else None
    )
    return Page[ObservationRead](items=items, next_cursor=next_cursor, total=total)


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


# --- frontier ---------------------------------------------------------------------------------


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


# --- assumptions ------------------------------------------------------------------------------


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


# --- FX -----------------------------------------------------------------------------------------


MonthQuery = Annotated[str | None, Query(pattern=MONTH_PATTERN, examples=["2025-01"])]


@router.get("/fx", tags=["fx"], response_model=Page[FxRateRead], responses=READ_ERRORS)
def list_fx(
    session: SessionDep,
    currency: Annotated[str | None, Query(pattern=r"^[A-Z]{3}$", examples=["EUR"])] = None,
    month_from: MonthQuery = None,
    month_to: MonthQuery = None,
) -> Page[FxRateRead]:
    """Monthly FX rates (US dollars per unit) used to normalise observations and convert answers."""
    rows = repository.list_fx(session, currency=currency, month_from=month_from, month_to=month_to)
    items = [FxRateRead.model_validate(r) for r in rows]
    return Page[FxRateRead](items=items, next_cursor=None, total=len(items))


__all__ = ["router"]
