"""Finance use cases: the asset register, book schedules and depreciation tables. Never commits.

The maths is the engine's (:mod:`service.engine.depreciation`, :mod:`service.engine.macrs`,
:mod:`service.engine.schedule`); this module loads, checks against what is stored, calls it and
shapes the answer. Engine refusals become ``InvalidInput`` in one place, :func:`engine_errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from service.api import check_if_match, etag
from service.db import mark_data_changed, utcnow
from service.engine import depreciation as dep
from service.engine.depreciation import DepreciationInputError
from service.engine.macrs import macrs_schedule
from service.engine.schedule import METHODS, Change, Method, MonthlyRow, monthly_schedule
from service.errors import Conflict, FieldError, InvalidInput, NotFound
from service.finance import repository
from service.finance.orm import Asset, BookChange
from service.finance.schemas import (
    MACRS_LIFE_MONTHS,
    AssetCreate,
    AssetFields,
    AssetPatch,
    AssetRead,
    AssetReplace,
    AssetSchedule,
    BookChangeRead,
    DepreciationQuery,
    DepreciationResult,
    DepreciationRowRead,
    ScheduleRow,
)
from service.registry import bulk
from service.registry import repository as registry

# Engine argument names (the first word of a DepreciationInputError) → asset body fields.
ASSET_FIELDS = {
    "cost": "acquisition_cost",
    "salvage": "salvage",
    "new_salvage": "salvage",
    "life_months": "life_months",
    "new_life_months": "life_months",
    "changes": "book_method",
    "method": "book_method",
    "in_service": "in_service_on",
    "change": "effective_from",
    "two": "effective_from",
}


def this_month() -> date:
    return datetime.now(UTC).date().replace(day=1)


@contextmanager
def engine_errors(prefix: str, names: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn the engine's refusal into a 422 naming the field (its message starts with it)."""
    try:
        yield
    except DepreciationInputError as exc:
        reason = str(exc)
        word = reason.split(" ", 1)[0]
        if names is None:
            field = prefix + word
        else:
            field = prefix + names[word] if word in names else prefix.rstrip(".")
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
            _method(asset.book_method),
            tuple(_change(c) for c in asset.changes),
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


def _method(name: str) -> Method:
    for method in METHODS:
        if method == name:
            return method
    raise ValueError(f"unknown book method {name!r}")


def _change(row: BookChange) -> Change:
    return Change(_first_of(row.effective_month), row.new_life_months, row.new_salvage)


def _first_of(month: str) -> date:
    return date.fromisoformat(f"{month}-01")


def asset_schedule(asset: Asset, *, through: str | None = None) -> AssetSchedule:
    """The monthly book schedule of an asset, with the terms in force each month."""
    terms = BookTerms.of(asset)
    with engine_errors("asset.", ASSET_FIELDS):
        rows = terms.schedule()
    last = _first_of(through) if through else None
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


# --- assets -----------------------------------------------------------------------------------


def to_read(asset: Asset) -> AssetRead:
    life, salvage = BookTerms.of(asset).in_force(date.max)
    return AssetRead(
        id=asset.id,
        tag=asset.tag,
        model=asset.model_slug,
        gpu_count=asset.gpu_count,
        in_service_on=asset.in_service_on,
        acquisition_cost=float(asset.acquisition_cost),
        currency=asset.currency,
        salvage=float(asset.salvage),
        book_method=asset.book_method,
        life_months=asset.life_months,
        location=asset.location,
        status=asset.status,
        notes=asset.notes,
        changes=[
            BookChangeRead(
                effective_from=c.effective_month,
                life_months=c.new_life_months,
                salvage=None if c.new_salvage is None else float(c.new_salvage),
            )
            for c in asset.changes
        ],
        current_life_months=life,
        current_salvage=float(salvage),
        revision=asset.revision,
        created_at=asset.created_at,
        updated_at=asset.updated_at,
    )


def require_asset(session: Session, asset_id: int) -> Asset:
    asset = repository.get_asset(session, asset_id)
    if asset is None:
        raise NotFound(f"No asset with id {asset_id}.")
    return asset


def _values(item: AssetFields) -> dict[str, Any]:
    values = item.model_dump(exclude={"model"})
    values["model_slug"] = item.model
    return values


def _terms(item: AssetFields, changes: Sequence[Change] = ()) -> BookTerms:
    return BookTerms(
        item.acquisition_cost,
        item.salvage,
        item.life_months,
        item.in_service_on,
        item.book_method,
        tuple(changes),
    )


def _rules(item: AssetFields, *, line: int | None = None, prefix: str = "") -> list[FieldError]:
    """What one asset must satisfy on its own, beyond the types of its fields."""
    errors = []
    if item.salvage > item.acquisition_cost:
        errors.append(
            FieldError(
                field=prefix + "salvage",
                reason=f"salvage {item.salvage} exceeds the acquisition cost "
                f"{item.acquisition_cost}",
                line=line,
            )
        )
    if item.book_method == "macrs":
        if item.salvage != 0:
            errors.append(
                FieldError(field=prefix + "salvage", reason="must be 0 for macrs", line=line)
            )
        if item.life_months not in MACRS_LIFE_MONTHS:
            errors.append(
                FieldError(
                    field=prefix + "life_months",
                    reason="macrs recovery periods are 36, 60 or 84 months (3, 5, 7 years)",
                    line=line,
                )
            )
    return errors


def _cross_check(
    session: Session,
    items: Sequence[tuple[int | None, AssetFields]],
    *,
    prefix: str = "",
) -> list[FieldError]:
    """What a row cannot know alone: does the model exist, is the currency known."""
    errors: list[FieldError] = []
    slugs = registry.existing_slugs(session, {item.model for _, item in items})
    currencies = registry.known_currencies(session)
    for line, item in items:
        errors.extend(_rules(item, line=line, prefix=prefix))
        if item.model not in slugs:
            errors.append(
                FieldError(
                    field=prefix + "model", reason=f"unknown GPU model {item.model!r}", line=line
                )
            )
        if item.currency not in currencies:
            errors.append(
                FieldError(
                    field=prefix + "currency",
                    reason=f"no FX rates for {item.currency}; "
                    f"known: {', '.join(sorted(currencies))}",
                    line=line,
                )
            )
    return errors


def _refuse_if_any(errors: Sequence[FieldError]) -> None:
    if errors:
        raise InvalidInput("The asset cannot be recorded; see `errors`.", errors=errors)


def _require_free_tag(session: Session, tag: str, *, own_id: int | None = None) -> None:
    holder = repository.asset_id_by_tag(session, tag)
    if holder is not None and holder != own_id:
        raise Conflict(f"Asset {holder} already has the tag {tag!r}.")


def create_asset(session: Session, item: AssetCreate) -> Asset:
    _refuse_if_any(_cross_check(session, [(None, item)], prefix="body."))
    _require_free_tag(session, item.tag)
    _terms(item).check()
    asset = Asset(**_values(item))
    session.add(asset)
    session.flush()
    return asset


def replace_asset(
    session: Session, asset_id: int, item: AssetReplace, *, if_match: str | None
) -> Asset:
    """Replace every field; life and salvage correct the terms booked from the start."""
    asset = require_asset(session, asset_id)
    check_if_match(if_match, etag(asset.revision))
    _refuse_if_any(_cross_check(session, [(None, item)], prefix="body."))
    _require_free_tag(session, item.tag, own_id=asset.id)
    _terms(item, BookTerms.of(asset).changes).check()
    for key, value in _values(item).items():
        setattr(asset, key, value)
    session.flush()
    return asset


def patch_asset(
    session: Session,
    asset_id: int,
    patch: AssetPatch,
    *,
    if_match: str | None,
    month: date | None = None,
) -> Asset:
    """Change some fields. A new life or salvage is recorded as a change effective from
    ``patch.effective_from`` (default ``month``, the current month), unless that is the
    in-service month, where it simply corrects the terms booked from the start."""
    asset = require_asset(session, asset_id)
    check_if_match(if_match, etag(asset.revision))
    given = patch.model_dump(exclude_unset=True)
    effective = given.pop("effective_from", None)
    new_terms: dict[str, Any] = {k: given.pop(k) for k in ("life_months", "salvage") if k in given}
    if effective is not None and not new_terms:
        raise InvalidInput(
            "effective_from applies to a new life_months or salvage only.",
            errors=[FieldError(field="body.effective_from", reason="nothing to make effective")],
        )
    current = {k: getattr(asset, k) for k in AssetReplace.model_fields if k not in ("model", "tag")}
    merged = {**current, "model": asset.model_slug, "tag": asset.tag, **given}
    item = _validated(merged)
    in_service = item.in_service_on.replace(day=1)
    when = _first_of(effective) if effective else max(month or this_month(), in_service)
    if when < in_service:
        raise InvalidInput(
            "A change cannot take effect before the asset is in service.",
            errors=[
                FieldError(
                    field="body.effective_from",
                    reason=f"before the in-service month {in_service:%Y-%m}",
                )
            ],
        )
    changes = list(BookTerms.of(asset).changes)
    if when == in_service:
        item = _validated({**merged, **new_terms})
    elif new_terms:
        changes = _with_change(_terms(item, changes), when, new_terms)
    _refuse_if_any(_cross_check(session, [(None, item)], prefix="body."))
    if item.tag != asset.tag:
        _require_free_tag(session, item.tag, own_id=asset.id)
    _terms(item, changes).check()
    for key, value in _values(item).items():
        setattr(asset, key, value)
    _store_changes(asset, changes)
    session.flush()
    return asset


def _validated(values: dict[str, Any]) -> AssetReplace:
    try:
        return AssetReplace.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput(
            "The patched asset would be invalid.",
            errors=[
                FieldError(
                    field="body." + ".".join(map(str, e["loc"])) if e["loc"] else "body",
                    reason=e["msg"],
                )
                for e in exc.errors()
            ],
        ) from exc


def _with_change(terms: BookTerms, when: date, new_terms: dict[str, Any]) -> list[Change]:
    """The changes with ``new_terms`` from ``when`` (amending a change of that month, if any);
    a term equal to the one already in force is not recorded."""
    others = tuple(c for c in terms.changes if c.effective_month != when)
    same = next((c for c in terms.changes if c.effective_month == when), None)
    life_before, salvage_before = replace(terms, changes=others).in_force(when)
    life = new_terms.get("life_months", same.new_life_months if same else None)
    salvage = new_terms.get("salvage", same.new_salvage if same else None)
    change = Change(
        when,
        None if life == life_before else life,
        None if salvage is None or salvage == salvage_before else float(salvage),
    )
    if change.new_life_months is None and change.new_salvage is None:
        return list(others)
    return sorted([*others, change], key=lambda c: c.effective_month)


def _store_changes(asset: Asset, changes: Sequence[Change]) -> None:
    wanted = {f"{c.effective_month:%Y-%m}": c for c in changes}
    stored = {row.effective_month: row for row in asset.changes}
    touched = False
    for month, gone in stored.items():
        if month not in wanted:
            asset.changes.remove(gone)
            touched = True
    for month, change in wanted.items():
        salvage = None if change.new_salvage is None else float(change.new_salvage)
        row = stored.get(month)
        if row is None:
            asset.changes.append(
                BookChange(
                    effective_month=month,
                    new_life_months=change.new_life_months,
                    new_salvage=salvage,
                )
            )
            touched = True
        elif (row.new_life_months, row.new_salvage) != (change.new_life_months, salvage):
            row.new_life_months, row.new_salvage = change.new_life_months, salvage
            touched = True
    if touched:
        asset.updated_at = utcnow()  # a new revision, so ETags see the change


def delete_asset(session: Session, asset_id: int, *, if_match: str | None) -> None:
    asset = require_asset(session, asset_id)
    check_if_match(if_match, etag(asset.revision))
    session.delete(asset)
    session.flush()


def import_assets(
    session: Session,
    rows: Sequence[bulk.RawRow],
    *,
    on_row: Callable[[], None] | None = None,
) -> int:
    """All-or-nothing import of assets; returns how many were written."""
    good, errors = bulk.validate_rows(
        rows, AssetCreate, rename={"model_slug": "model"}, on_row=on_row
    )
    errors.extend(_cross_check(session, good))
    first_line, repeats = bulk.first_lines(good, lambda item: item.tag, "tag")
    errors.extend(repeats)
    taken = repository.existing_tags(session, set(first_line))
    errors.extend(
        FieldError(field="tag", reason="an asset with this tag already exists", line=line)
        for line, item in good
        if item.tag in taken
    )
    bulk.refuse_if_any(errors, "import")
    repository.insert_assets(session, [_values(item) for _, item in good])
    mark_data_changed(session)
    return len(good)


# --- GET /depreciation ------------------------------------------------------------------------

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
        rows = dep.sln_schedule(cost, salvage, life)
    elif query.method == "syd":
        rows = dep.syd_schedule(cost, salvage, life)
    elif query.method == "ddb":
        rows = dep.ddb_schedule(cost, salvage, life, factor)
    elif query.method == "db":
        rows = dep.db_schedule(cost, salvage, life, 12 if query.month is None else query.month)
    else:
        no_switch = bool(query.no_switch)
        rows = dep.vdb_schedule(cost, salvage, life, factor, no_switch)
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
