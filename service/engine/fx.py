"""Currency conversion with the monthly FX table (US dollars per unit of currency)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from service.engine.types import FxRate

__all__ = ["Converted", "FxTable", "convert", "month_key"]


def month_key(on: date | str) -> str:
    """'YYYY-MM' of a date (strings pass through after a shape check)."""
    if isinstance(on, str):
        return FxRate(on, "USD", 1.0).month
    return f"{on.year:04d}-{on.month:02d}"


@dataclass(frozen=True, slots=True)
class Converted:
    """An amount converted at ``usd_per_unit`` of ``month_used`` (``extrapolated`` if the
    table had no rate for the requested month and the nearest known month was used)."""

    amount: float
    currency: str
    usd_per_unit: float
    month_used: str
    extrapolated: bool


class FxTable:
    """Lookup of monthly rates; USD is always 1. Immutable after construction."""

    __slots__ = ("_months", "_rates")

    def __init__(self, rates: Sequence[FxRate]) -> None:
        table: dict[tuple[str, str], float] = {}
        months: dict[str, list[str]] = {}
        for rate in rates:
            table[(rate.currency.upper(), rate.month)] = rate.usd_per_unit
            months.setdefault(rate.currency.upper(), []).append(rate.month)
        self._rates = table
        self._months = {cur: sorted(set(ms)) for cur, ms in months.items()}

    @property
    def currencies(self) -> frozenset[str]:
        return frozenset({"USD", *self._months})

    def rate(self, currency: str, month: str) -> tuple[float, str, bool]:
        """(USD per unit, month used, extrapolated?) for ``currency`` in ``month``.

        After the table ends the latest known month is used (and flagged), before it starts
        the earliest; a gap inside the table uses the latest month before it.
        """
        cur = currency.upper()
        if cur == "USD":
            return 1.0, month, False
        if cur not in self._months:
            raise ValueError(f"no FX rates for currency {currency!r}")
        if (cur, month) in self._rates:
            return self._rates[(cur, month)], month, False
        known = self._months[cur]
        earlier = [m for m in known if m < month]
        used = earlier[-1] if earlier else known[0]
        return self._rates[(cur, used)], used, True


def convert(
    amount_usd: float, currency: str, month: date | str, fx: FxTable | Sequence[FxRate]
) -> Converted:
    """``amount_usd`` in ``currency`` at the rate of ``month``: ``amount / usd_per_unit``."""
    table = fx if isinstance(fx, FxTable) else FxTable(fx)
    rate, used, extrapolated = table.rate(currency, month_key(month))
    return Converted(amount_usd / rate, currency.upper(), rate, used, extrapolated)
