"""The FX rates of a fleet valuation: the closing rate of the month of ``as_of`` (IAS 21.39)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from service.engine.fx import month_key
from service.errors import FieldError, InvalidInput
from service.valuation.service import Context

__all__ = ["Rate", "rates_for"]


@dataclass(frozen=True, slots=True)
class Rate:
    """US dollars per unit of ``currency`` for ``month_used`` (``extrapolated`` when the FX
    table lacks the month of ``as_of`` and the nearest earlier month stands in)."""

    currency: str
    usd_per_unit: float
    month_used: str
    extrapolated: bool


def rates_for(
    ctx: Context, currencies: Iterable[str], *, as_of: date, requested: str | None
) -> dict[str, Rate]:
    """The rate of the month of ``as_of`` for each currency; an unknown one is a 422."""
    month = month_key(as_of)
    wanted = sorted({*currencies, *([requested] if requested else [])})
    out: dict[str, Rate] = {}
    for currency in wanted:
        try:
            usd, used, extrapolated = ctx.calibration.fx.rate(currency, month)
        except ValueError as exc:
            known = ", ".join(sorted(ctx.calibration.fx.currencies))
            field_name = "query.currency" if currency == requested else "asset.currency"
            raise InvalidInput(
                f"No FX rates for {currency}; known: {known}.",
                errors=[FieldError(field=field_name, reason=f"unsupported; known: {known}")],
            ) from exc
        out[currency] = Rate(currency, usd, used, extrapolated)
    return out
