"""``/quote`` and ``/residual``: fair lease rates and residual values."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from service.api import RetryingRoute, SessionDep
from service.auth.deps import AUTH_ERRORS, authorize_read
from service.errors import FieldError, InvalidInput
from service.state import resources
from service.valuation import batch, service
from service.valuation.schemas import (
    QuoteBatch,
    QuoteBatchRead,
    QuoteQuery,
    QuoteRead,
    QuoteRequest,
    ResidualQuery,
    ResidualRead,
)
from service.web.problems import responses

router = APIRouter(
    tags=["valuation"],
    dependencies=[Depends(authorize_read)],
    responses=AUTH_ERRORS,
    route_class=RetryingRoute,
)
ERRORS = responses(400, 404, 422, 503)


def valuer(request: Request) -> service.Valuer:
    return resources(request.app).valuer


ValuerDep = Annotated[service.Valuer, Depends(valuer)]


def _overrides(params: Any) -> dict[str, float]:
    return {n: v for n in service.ASSUMPTION_NAMES if (v := getattr(params, n, None)) is not None}


@router.get("/quote", response_model=QuoteRead, responses=ERRORS)
def get_quote(
    session: SessionDep,
    valuer: ValuerDep,
    params: Annotated[QuoteQuery, Query()],
) -> QuoteRead:
    """Fair lease rate per GPU-hour for a term, with its band, regime and components.

    The default is the market level (the median provider) of the model's own recent prices,
    blended with a specification-based prior by credibility; `segment` or `provider` quote at
    that level instead. Fixed terms are the levelised expected contract rent over the term.
    A date after the last evidence is a projection (`projection` says from when, and the band
    widens). Any assumption may be overridden as a query parameter (e.g. `discount_rate=0.1`).
    """
    as_of = params.as_of or service.today()
    ctx = valuer.context(session, as_of=as_of, known_at=params.known_at)
    spec = service.spec_for(ctx, params.model, None)
    answer = service.quote(
        ctx,
        spec,
        as_of=as_of,
        term=params.term,
        gpus=params.gpus,
        age_months=params.age_months,
        fp8=params.fp8,
        fp4=params.fp4,
        currency=params.currency,
        overrides=_overrides(params),
        segment=params.segment,
        provider=params.provider,
    )
    valuer.metrics.quotes.labels("quote").inc()
    return answer


@router.post("/quote", response_model=QuoteRead | QuoteBatchRead, responses=ERRORS)
def post_quote(
    session: SessionDep, valuer: ValuerDep, body: QuoteRequest | QuoteBatch
) -> QuoteRead | QuoteBatchRead:
    """Quote hardware described inline (`spec`), or up to 1,000 quotes at once (`items`).

    A batch is answered whole or refused whole: every bad item is named by its index.
    """
    if isinstance(body, QuoteBatch):
        answers = batch.quote_items(session, valuer, body.items)
    else:
        try:
            answers = batch.quote_items(session, valuer, [body])
        except InvalidInput as exc:  # a single quote's fields are the body's, not `items.0.`'s
            raise InvalidInput(
                exc.detail,
                errors=[
                    FieldError(field=e.field.removeprefix("items.0."), reason=e.reason)
                    for e in exc.errors
                ],
            ) from exc
    valuer.metrics.quotes.labels("quote").inc(len(answers))
    return QuoteBatchRead(items=answers) if isinstance(body, QuoteBatch) else answers[0]


@router.get("/residual", response_model=ResidualRead, responses=ERRORS)
def get_residual(
    session: SessionDep,
    valuer: ValuerDep,
    params: Annotated[ResidualQuery, Query()],
) -> ResidualRead:
    """What a unit is worth: income, market and cost approaches, reconciled, on a premise.

    With neither `age_months` nor `in_service_on`, the age is the model's market age
    (as_of − release date). `include=curve` adds the value by age on the same date;
    `include=path` this unit's expected value month by month ahead.
    """
    as_of = params.as_of or service.today()
    ctx = valuer.context(session, as_of=as_of, known_at=params.known_at)  # refuses dates first
    age = service.age_from(
        as_of=as_of, age_months=params.age_months, in_service_on=params.in_service_on
    )
    spec = service.spec_for(ctx, params.model, None)
    answer = service.residual(
        ctx,
        spec,
        as_of=as_of,
        age_months=age,
        premise=params.premise,
        fp8=params.fp8,
        fp4=params.fp4,
        currency=params.currency,
        include_curve="curve" in (params.include or ""),
        include_path="path" in (params.include or ""),
        overrides=_overrides(params),
    )
    valuer.metrics.quotes.labels("residual").inc()
    return answer
