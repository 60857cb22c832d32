"""HTTP routes of FX rates: validate, call the registry service, shape the answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from service.api import (
    Page,
    SessionDep,
)
from service.common.fields import MONTH_PATTERN
from service.registry import repository
from service.registry.routes.common import (
    READ_ERRORS,
    registry_router,
)
from service.registry.schemas import (
    FxRateRead,
)

router = registry_router()


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
