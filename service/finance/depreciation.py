"""``GET /depreciation``: a depreciation table with the spreadsheet functions' semantics."""

from __future__ import annotations

from service.engine import depreciation as dep
from service.engine import depreciation_tables as tables
from service.engine.macrs import macrs_schedule
from service.errors import FieldError, InvalidInput
from service.finance.schemas import DepreciationQuery, DepreciationResult, DepreciationRowRead
from service.finance.terms import engine_errors

PARAMETERS = {
    "sln": {"salvage", "life"},
    "syd": {"salvage", "life"},
    "ddb": {"salvage", "life", "factor"},
    "db": {"salvage", "life", "month"},
    "vdb": {"salvage", "life", "factor", "no_switch", "start_period", "end_period"},
    "macrs": {"recovery_years", "convention", "quarter"},
}
OPTIONAL = {"salvage", "factor", "month", "no_switch", "convention", "quarter"}


def depreciation(query: DepreciationQuery) -> DepreciationResult:
    """A depreciation table with the spreadsheet functions' semantics (MACRS: Pub 946)."""
    _check_parameters(query)
    with engine_errors("query."):
        if query.method == "macrs":
            return _macrs(query)
        return _spreadsheet(query)


def _check_parameters(query: DepreciationQuery) -> None:
    allowed = {"method", "cost", *PARAMETERS[query.method]}
    given = query.model_fields_set
    errors = [
        FieldError(field=f"query.{name}", reason=f"does not apply to method {query.method}")
        for name in sorted(given - allowed)
        if getattr(query, name) is not None
    ]
    errors += [
        FieldError(field=f"query.{name}", reason=f"required for method {query.method}")
        for name in sorted(allowed - OPTIONAL - {"method", "start_period", "end_period"})
        if getattr(query, name) is None
    ]
    if query.method == "vdb" and (query.start_period is None) != (query.end_period is None):
        missing = "start_period" if query.start_period is None else "end_period"
        errors.append(
            FieldError(field=f"query.{missing}", reason="give both start_period and end_period")
        )
    if errors:
        raise InvalidInput(
            f"These parameters do not fit method {query.method}; see `errors`.", errors=errors
        )


def _macrs(query: DepreciationQuery) -> DepreciationResult:
    assert query.recovery_years is not None  # checked by _check_parameters
    rows = macrs_schedule(
        query.cost, query.recovery_years, query.convention or "half_year", query.quarter
    )
    return DepreciationResult(
        method="macrs",
        schedule=[
            DepreciationRowRead(
                period=r.period,
                depreciation=r.depreciation,
                accumulated=r.accumulated,
                book_value=r.book_value,
                percent=r.percent,
            )
            for r in rows
        ],
    )


def _spreadsheet(query: DepreciationQuery) -> DepreciationResult:
    assert query.life is not None  # checked by _check_parameters
    cost, salvage, life = query.cost, query.salvage or 0.0, query.life
    factor = 2.0 if query.factor is None else query.factor
    amount = None
    if query.method == "sln":
        rows = tables.sln_schedule(cost, salvage, life)
    elif query.method == "syd":
        rows = tables.syd_schedule(cost, salvage, life)
    elif query.method == "ddb":
        rows = tables.ddb_schedule(cost, salvage, life, factor)
    elif query.method == "db":
        rows = tables.db_schedule(cost, salvage, life, 12 if query.month is None else query.month)
    else:
        no_switch = bool(query.no_switch)
        rows = tables.vdb_schedule(cost, salvage, life, factor, no_switch)
        if query.start_period is not None and query.end_period is not None:
            amount = dep.vdb(
                cost, salvage, life, query.start_period, query.end_period, factor, no_switch
            )
    return DepreciationResult(
        method=query.method,
        schedule=[
            DepreciationRowRead(
                period=r.period,
                depreciation=r.depreciation,
                accumulated=r.accumulated,
                book_value=r.book_value,
            )
            for r in rows
        ],
        amount=amount,
    )
