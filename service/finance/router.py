"""HTTP routes of finance: the asset register, book schedules and ``GET /depreciation``."""

from __future__ import annotations

from typing import Annotated

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
    etag,
    import_body,
    read_cursor,
    set_etag,
)
from service.auth.deps import AUTH_ERRORS, authorize
from service.common import bulk
from service.common.fields import LOWER_CASE, MONTH_PATTERN, SLUG_PATTERN, ImportResult, MarketDate
from service.engine.types import AssetStatus
from service.finance import assets, depreciation, repository, terms
from service.finance.schemas import (
    AssetCreate,
    AssetPatch,
    AssetRead,
    AssetReplace,
    AssetSchedule,
    DepreciationQuery,
    DepreciationResult,
)
from service.text import SingleLine
from service.web.pages import check_range, page_of
from service.web.problems import responses

router = APIRouter(
    tags=["finance"],
    dependencies=[Depends(authorize)],
    responses=AUTH_ERRORS,
    route_class=RetryingRoute,
)

AssetId = Annotated[int, Path(ge=1, le=2**31 - 1, examples=[1])]

READ_ERRORS = responses(400, 422, 503)
WRITE_ERRORS = responses(400, 404, 409, 412, 422, 428, 503)


@router.get("/assets", response_model=Page[AssetRead], responses=READ_ERRORS)
def list_assets(
    session: SessionDep,
    model: Annotated[
        str | None,
        Query(max_length=80, pattern=SLUG_PATTERN, examples=["nvidia-h100-sxm5-80gb"]),
        LOWER_CASE,
    ] = None,
    asset_status: Annotated[AssetStatus | None, Query(alias="status")] = None,
    location: Annotated[
        SingleLine | None, Query(max_length=120, description="Exact, case-insensitive.")
    ] = None,
    tag: Annotated[
        SingleLine | None,
        Query(
            max_length=80, description="Substring of the tag, case-insensitive.", examples=["R12"]
        ),
    ] = None,
    in_service_from: Annotated[
        MarketDate | None, Query(description="In service on or after this date.")
    ] = None,
    in_service_to: Annotated[
        MarketDate | None, Query(description="In service on or before this date.")
    ] = None,
    limit: Limit = 100,
    cursor: CursorParam = None,
) -> Page[AssetRead]:
    """List assets, filtered, in id order."""
    check_range(in_service_from, in_service_to, "in_service_from", "in_service_to")
    after = read_cursor(cursor, int)[0] if cursor else None
    flt = repository.AssetFilter(model, asset_status, location, tag, in_service_from, in_service_to)
    rows, total = repository.list_assets(session, flt, limit=limit, after=after)
    return page_of(rows, total, limit=limit, read=assets.to_read, key=lambda a: [a.id])


@router.post(
    "/assets",
    status_code=status.HTTP_201_CREATED,
    response_model=AssetRead,
    responses=responses(400, 409, 422, 503),
)
def create_asset(session: SessionDep, body: AssetCreate, response: Response) -> AssetRead:
    """Register an asset: a unit or server, its cost and the terms of its book depreciation."""
    asset = assets.create_asset(session, body)
    response.headers["Location"] = f"/assets/{asset.id}"
    set_etag(response, etag(asset.revision))
    return assets.to_read(asset)


@router.post(
    "/assets/import",
    status_code=status.HTTP_201_CREATED,
    response_model=ImportResult,
    responses=responses(400, 413, 422, 503),
    openapi_extra=import_body("the fields of `AssetCreate`; `model` may be `model_slug`"),
)
def import_assets(session: SessionDep, body: RawBody, content_type: ContentType) -> ImportResult:
    """Bulk-register assets from CSV or JSON, all or nothing; every bad row is named."""
    rows = bulk.parse(body, content_type)
    return ImportResult(created=assets.import_assets(session, rows), skipped=0)


@router.get("/assets/{asset_id:int}", response_model=AssetRead, responses=responses(404, 422, 503))
def get_asset(session: SessionDep, asset_id: AssetId, response: Response) -> AssetRead:
    """One asset, with its ETag for conditional updates."""
    asset = assets.require_asset(session, asset_id)
    set_etag(response, etag(asset.revision))
    return assets.to_read(asset)


@router.put("/assets/{asset_id:int}", response_model=AssetRead, responses=WRITE_ERRORS)
def replace_asset(
    session: SessionDep,
    asset_id: AssetId,
    body: AssetReplace,
    response: Response,
    if_match: IfMatch = None,
) -> AssetRead:
    """Replace every field; life and salvage here correct the terms booked from the start."""
    asset = assets.replace_asset(session, asset_id, body, expected=IfMatchHeader(if_match))
    set_etag(response, etag(asset.revision))
    return assets.to_read(asset)


@router.patch("/assets/{asset_id:int}", response_model=AssetRead, responses=WRITE_ERRORS)
def patch_asset(
    session: SessionDep,
    asset_id: AssetId,
    body: AssetPatch,
    response: Response,
    if_match: IfMatch = None,
) -> AssetRead:
    """Change some fields; a new life or salvage applies from `effective_from` on."""
    asset = assets.patch_asset(session, asset_id, body, expected=IfMatchHeader(if_match))
    set_etag(response, etag(asset.revision))
    return assets.to_read(asset)


@router.delete(
    "/assets/{asset_id:int}", status_code=status.HTTP_204_NO_CONTENT, responses=WRITE_ERRORS
)
def delete_asset(session: SessionDep, asset_id: AssetId, if_match: IfMatch = None) -> Response:
    """Delete an asset and its recorded changes of estimate."""
    assets.delete_asset(session, asset_id, expected=IfMatchHeader(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/assets/{asset_id:int}/schedule",
    response_model=AssetSchedule,
    responses=responses(404, 422, 503),
)
def get_asset_schedule(
    session: SessionDep,
    asset_id: AssetId,
    through: Annotated[
        str | None,
        Query(
            pattern=MONTH_PATTERN,
            description="Last month to list, `YYYY-MM`; default the end of the life.",
            examples=["2026-06"],
        ),
    ] = None,
) -> AssetSchedule:
    """The monthly book schedule from the in-service date: pro-rata first and last months,
    changes of life or salvage applied prospectively, amounts in the asset's currency."""
    return terms.asset_schedule(assets.require_asset(session, asset_id), through=through)


@router.get(
    "/depreciation",
    response_model=DepreciationResult,
    response_model_exclude_none=True,
    responses=responses(422),
)
def get_depreciation(query: Annotated[DepreciationQuery, Query()]) -> DepreciationResult:
    """A depreciation table with the semantics of the spreadsheet functions SLN, SYD, DDB, DB
    and VDB, or the IRS Publication 946 MACRS percentages (GDS, 3/5/7-year, half-year or
    mid-quarter). `amount` is VDB between `start_period` and `end_period`."""
    return depreciation.depreciation(query)


__all__ = ["router"]
