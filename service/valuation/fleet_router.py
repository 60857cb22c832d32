"""``GET /valuations``: the fleet valued as of a date, book beside fair value (JSON or CSV)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from service import engine
from service.api import RetryingRoute, SessionDep, decode_cursor, encode_cursor
from service.auth.deps import AUTH_ERRORS, authorize
from service.errors import FieldError, InvalidInput
from service.finance.repository import AssetFilter
from service.state import resources
from service.valuation import fleet, service
from service.valuation.fleet_schemas import (
    AssetValuation,
    CurrencyTotals,
    FleetProvenance,
    FleetQuery,
    FleetTotals,
    FleetValuationPage,
)
from service.valuation.router import ValuerDep
from service.valuation.schemas import FxUsed, Premise
from service.web.problems import responses

router = APIRouter(
    tags=["fleet"],
    dependencies=[Depends(authorize)],
    responses=AUTH_ERRORS,
    route_class=RetryingRoute,
)

DEFAULT_LIMIT = 100

_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON page (`format=json`), or the whole fleet as streamed CSV "
        "(`format=csv`): a header line, one row per asset, one totals row per currency.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/valuations",
    response_model=FleetValuationPage,
    responses={**_CSV_RESPONSE, **responses(400, 422, 503)},
)
def list_valuations(
    request: Request,
    session: SessionDep,
    valuer: ValuerDep,
    params: Annotated[FleetQuery, Query()],
) -> Any:
    """Every asset valued on `as_of`: fair value from the engine (residual value per GPU of its
    model at its age, × GPU count), book value from its monthly schedule, the difference, an
    impairment flag, regime and economic life left, with fleet totals.

    Amounts are in each asset's currency, or all in `currency`, converted at the FX rate of the
    month of `as_of` (listed in `fx`; for CSV in the `X-FX-Rates` header). The same `as_of` and
    `known_at` give the same answer on any later day while the register is unchanged.
    `format=csv` streams the whole fleet; JSON pages with `limit` and `cursor`.
    """
    as_of = params.as_of or service.today()
    if params.format == "csv" and (params.limit is not None or params.cursor is not None):
        raise InvalidInput(
            "CSV is the whole fleet; `limit` and `cursor` page JSON only.",
            errors=[FieldError(field="query.limit", reason="JSON only")],
        )
    after = _after(params.cursor)
    ctx = valuer.context(session, as_of=as_of, known_at=params.known_at)
    flt = AssetFilter(model=params.model, status=params.status)
    first_page = params.format == "json" and after is None
    census, valuation = _question(
        session, valuer, ctx, flt, as_of, params.premise, params.currency, first_page=first_page
    )
    if params.format == "csv":
        valuation.prepare(fleet.fleet_models(session, flt))  # refuse before streaming
        return _csv(request, valuer, valuation, flt)
    limit = params.limit or DEFAULT_LIMIT
    if after is None:
        totals = _fleet_totals(session, valuer, valuation, flt)
        return _page(session, valuation, flt, limit=limit, after=None, totals=totals, census=census)
    return _page(session, valuation, flt, limit=limit, after=after, totals=None, census=census)


def _question(
    session: Session,
    valuer: service.Valuer,
    ctx: service.Context,
    flt: AssetFilter,
    as_of: date,
    premise: Premise,
    currency: str | None,
    *,
    first_page: bool,
) -> tuple[dict[str, int], fleet.FleetValuation]:
    """The assets per currency and the valuation of one question (its rates and the engine's
    answers per model and age)."""
    census = _census(session, valuer, ctx, flt, from_register=first_page)
    rates = fleet.rates_for(ctx, census, as_of=as_of, requested=currency)
    assumptions = service.assumptions_for(ctx, {})
    valuation = fleet.FleetValuation(
        ctx,
        as_of=as_of,
        premise=premise,
        currency=currency,
        assumptions=assumptions,
        rates=rates,
        table=_fair_table(valuer, ctx, as_of, premise, assumptions),
    )
    return census, valuation


def warm(session: Session, valuer: service.Valuer, today: date) -> None:
    """Value today's default question (the whole fleet, market premise, each asset's own
    currency) once, as a first page would: the register's columns, this month's book values
    and the engine's answers are then kept, so the first page a client asks costs a page (or,
    for another question, its own answers only). Start-up runs it after today's calibration."""
    ctx = valuer.context(session, as_of=today, known_at=None)
    flt = AssetFilter()
    _, valuation = _question(session, valuer, ctx, flt, today, "market", None, first_page=True)
    _fleet_totals(session, valuer, valuation, flt)


def _census(
    session: SessionDep,
    valuer: service.Valuer,
    ctx: service.Context,
    flt: AssetFilter,
    *,
    from_register: bool,
) -> dict[str, int]:
    """Assets per currency, counted once per data version and filter: from the register's
    columns for a first page (which reads them for its totals anyway), else by a query."""
    key = ("fleet-census", ctx.data_version, flt.model, flt.status)
    if from_register:
        return valuer.cache.memo(key, lambda: _register(session, valuer, ctx, flt).census())
    return valuer.cache.memo(key, lambda: fleet.fleet_census(session, flt))


def _register(
    session: SessionDep, valuer: service.Valuer, ctx: service.Context, flt: AssetFilter
) -> fleet.Register:
    """The register's columns at the context's data version (:class:`fleet.Registers`: kept
    between questions, read again after a write only where the write touched it)."""
    registers = valuer.cache.memo(("fleet-registers",), fleet.Registers)
    return registers.get(session, flt, ctx.data_version)


def _fair_table(
    valuer: service.Valuer,
    ctx: service.Context,
    as_of: date,
    premise: str,
    assumptions: engine.Assumptions,
) -> fleet.FairTable:
    """The engine's answers per (model, age) for this question, shared by the requests that
    ask it (the last few questions' tables are kept, not one per memo entry)."""
    tables = valuer.cache.memo(("fleet-fair-tables",), fleet.FairTables)
    question = (
        ctx.data_version,
        ctx.evidence_on,
        ctx.known_at,
        as_of,
        premise,
        tuple(sorted(assumptions.as_dict().items())),
    )
    return tables.get(question)


def _totals_key(valuation: fleet.FleetValuation, flt: AssetFilter) -> tuple[object, ...]:
    return (
        "fleet-totals",
        valuation.ctx.data_version,
        valuation.as_of,
        valuation.ctx.known_at,
        valuation.premise,
        valuation.currency,
        flt.model,
        flt.status,
        tuple(sorted(valuation.assumptions.as_dict().items())),
    )


def _fleet_totals(
    session: SessionDep,
    valuer: service.Valuer,
    valuation: fleet.FleetValuation,
    flt: AssetFilter,
) -> fleet.Totals:
    """The whole fleet's totals, valued once per question and data version (bounded memo; a
    CSV of the same question leaves its totals there too), from the register's columns
    (:func:`_register`; book values recomputed only for the assets a write changed)."""

    def compute() -> fleet.Totals:
        return valuation.totals(_register(session, valuer, valuation.ctx, flt))

    return valuer.cache.memo(_totals_key(valuation, flt), compute)


def _after(cursor: str | None) -> int | None:
    if not cursor:
        return None
    (last_id,) = decode_cursor(cursor, 1)
    if not isinstance(last_id, int) or isinstance(last_id, bool) or not 0 <= last_id < 2**63:
        raise InvalidInput(
            "The cursor is not one this service issued.",
            errors=[FieldError(field="query.cursor", reason="malformed cursor")],
        )
    return last_id


def _page(
    session: SessionDep,
    valuation: fleet.FleetValuation,
    flt: AssetFilter,
    *,
    limit: int,
    after: int | None,
    totals: fleet.Totals | None,
    census: dict[str, int],
) -> FleetValuationPage:
    """One page: its own assets only (the totals come from :func:`_fleet_totals`)."""
    lines: list[fleet.AssetLine] = []
    for batch in fleet.asset_batches(session, flt, after=after, limit=limit + 1):
        valued = valuation.value(batch)
        lines += [valued.item(i) for i in range(len(valued))]
    more = len(lines) > limit
    lines = lines[:limit]
    total = sum(census.values()) if totals is None else totals.count
    ctx = valuation.ctx
    return FleetValuationPage(
        items=[_item(line) for line in lines],
        next_cursor=encode_cursor([lines[-1].asset_id]) if more and lines else None,
        total=total,
        as_of=valuation.as_of,
        premise=valuation.premise,
        currency=valuation.currency,
        totals=None if totals is None else _totals(totals),
        fx=[_fx(rate) for rate in valuation.rates.values() if rate.currency != "USD"],
        assumptions=valuation.assumptions.as_dict(),
        provenance=FleetProvenance(
            data_version=ctx.data_version,
            calibrated_on=ctx.evidence_on,
            known_at=ctx.known_at,
            engine_version=engine.ENGINE_VERSION,
        ),
    )


def _csv(
    request: Request, valuer: service.Valuer, valuation: fleet.FleetValuation, flt: AssetFilter
) -> StreamingResponse:
    """Stream from a session of its own: the request's closes when this function returns.
    The totals summed on the way are memoised for the first JSON page of the same question."""
    sessions = resources(request.app).sessions

    def body() -> Iterator[str]:
        totals = fleet.Totals()
        with sessions() as session:
            yield from fleet.csv_chunks(valuation, fleet.asset_batches(session, flt), totals=totals)
        valuer.cache.memo(_totals_key(valuation, flt), lambda: totals)

    ctx = valuation.ctx
    rates = "; ".join(
        f"{r.currency}={r.usd_per_unit!r} USD ({r.month_used}"
        + (", extrapolated)" if r.extrapolated else ")")
        for r in valuation.rates.values()
        if r.currency != "USD"
    )
    headers = {
        "Content-Disposition": f'attachment; filename="valuations-{valuation.as_of}.csv"',
        "X-Engine-Version": engine.ENGINE_VERSION,
        "X-Data-Version": str(ctx.data_version),
        "X-Calibrated-On": ctx.evidence_on.isoformat(),
        "X-FX-Rates": rates or "none",
    }
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers=headers)


def _item(line: fleet.AssetLine) -> AssetValuation:
    """The answer's line, read from the valued line by field name (its Decimal cents become
    the schema's floats)."""
    return AssetValuation.model_validate(line, from_attributes=True)


def _totals(totals: fleet.Totals) -> FleetTotals:
    return FleetTotals(
        count=totals.count,
        impaired=totals.impaired,
        by_currency=[
            CurrencyTotals(
                currency=t.currency,
                count=t.count,
                gpu_count=t.gpu_count,
                acquisition_cost=t.acquisition_cost / 100,
                book_value=t.book_value / 100,
                fair_value=t.fair_value / 100,
                difference=t.difference / 100,
                impaired=t.impaired,
            )
            for t in totals.by_currency()
        ],
    )


def _fx(rate: fleet.Rate) -> FxUsed:
    return FxUsed(
        currency=rate.currency,
        usd_per_unit=rate.usd_per_unit,
        month_used=rate.month_used,
        extrapolated=rate.extrapolated,
    )


__all__ = ["router"]
