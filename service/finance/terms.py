"""An asset's book terms and its monthly book schedule.

The maths is the engine's (:mod:`service.engine.schedule`); this module turns stored or proposed
terms into its inputs, and the engine's refusals into ``InvalidInput`` in one place,
:func:`engine_errors`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from service.engine.errors import DepreciationInputError
from service.engine.schedule import METHODS, Change, Method, MonthlyRow, monthly_schedule
from service.errors import FieldError, InvalidInput
from service.finance.orm import Asset, BookChange
from service.finance.schemas import AssetSchedule, ScheduleRow

# The engine's argument names (``DepreciationInputError.field``) → asset body fields. The
# changes of an asset are only ever refused as a whole when its method allows none (macrs).
ASSET_FIELDS = {
    "cost": "acquisition_cost",
    "salvage": "salvage",
    "new_salvage": "salvage",
    "life_months": "life_months",
    "new_life_months": "life_months",
    "changes": "book_method",
    "method": "book_method",
    "in_service": "in_service_on",
    "effective_month": "effective_from",
}


@contextmanager
def engine_errors(prefix: str, names: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn the engine's refusal into a 422 naming the field: the engine's argument name under
    ``prefix``, or with ``names`` the caller's field it stands for (the whole ``prefix`` when
    none does)."""
    try:
        yield
    except DepreciationInputError as exc:
        reason = exc.reason
        if names is None:
            field = prefix + exc.field
        else:
            field = prefix + names[exc.field] if exc.field in names else prefix.rstrip(".")
        raise InvalidInput(
            f"The inputs cannot be depreciated: {reason}.",
            errors=[FieldError(field=field, reason=reason)],
        ) from exc


# --- book terms and schedules -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookTerms:
    """What the book schedule of an asset depends on, stored or proposed."""

    cost: float
    salvage: float
    life_months: int
    in_service_on: date
    method: Method
    changes: tuple[Change, ...] = ()

    @classmethod
    def of(cls, asset: Asset) -> BookTerms:
        return cls(
            asset.acquisition_cost,
            asset.salvage,
            asset.life_months,
            asset.in_service_on,
            method_of(asset.book_method),
            tuple(change_of(c) for c in asset.changes),
        )

    def in_force(self, month: date) -> tuple[int, float]:
        """Life and salvage that apply in ``month`` (a first of the month)."""
        life, salvage = self.life_months, self.salvage
        for change in sorted(self.changes, key=lambda c: c.effective_month):
            if change.effective_month > month:
                break
            life = change.new_life_months if change.new_life_months is not None else life
            salvage = float(change.new_salvage) if change.new_salvage is not None else salvage
        return life, salvage

    def schedule(self) -> list[MonthlyRow]:
        return monthly_schedule(
            cost=self.cost,
            salvage=self.salvage,
            life_months=self.life_months,
            in_service=self.in_service_on,
            method=self.method,
            changes=self.changes,
        )

    def check(self) -> None:
        with engine_errors("body.", ASSET_FIELDS):
            self.schedule()


def method_of(name: str) -> Method:
    for method in METHODS:
        if method == name:
            return method
    raise ValueError(f"unknown book method {name!r}")


def change_of(row: BookChange) -> Change:
    return Change(first_of(row.effective_month), row.new_life_months, row.new_salvage)


def first_of(month: str) -> date:
    return date.fromisoformat(f"{month}-01")


def asset_schedule(asset: Asset, *, through: str | None = None) -> AssetSchedule:
    """The monthly book schedule of an asset, with the terms in force each month."""
    terms = BookTerms.of(asset)
    with engine_errors("asset.", ASSET_FIELDS):
        rows = terms.schedule()
    last = first_of(through) if through else None
    out = []
    for row in rows:
        if last is not None and row.month > last:
            break
        life, salvage = terms.in_force(row.month)
        out.append(
            ScheduleRow(
                month=f"{row.month:%Y-%m}",
                depreciation=float(row.depreciation),
                accumulated=float(row.accumulated),
                book_value=float(row.book_value),
                life_months=life,
                salvage=float(salvage),
            )
        )
    return AssetSchedule(
        asset_id=asset.id,
        tag=asset.tag,
        currency=asset.currency,
        book_method=asset.book_method,
        acquisition_cost=float(asset.acquisition_cost),
        in_service_on=asset.in_service_on,
        schedule=out,
    )
