"""HTTP routes of GPU models: validate, call the registry service, shape the answer."""

from __future__ import annotations

from typing import Annotated, Literal

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
from service.common.fields import ImportResult
from service.engine.types import Segment
from service.registry import repository, service
from service.registry.routes.common import (
    READ_ERRORS,
    WRITE_ERRORS,
    SlugPath,
    registry_router,
)
from service.registry.schemas import (
    GpuModelCreate,
    GpuModelPatch,
    GpuModelRead,
    GpuModelReplace,
)
from service.text import SingleLine
from service.web.pages import page_of
from service.web.problems import responses

router = registry_router()


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
    return page_of(
        rows, total, limit=limit, read=GpuModelRead.model_validate, key=lambda m: [m.slug]
    )


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
