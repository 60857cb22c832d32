"""The asset register's use cases: record, change, delete and import assets. Never commits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from service.common import bulk, bulk_import
from service.common.clock import this_month
from service.db import utcnow
from service.engine.schedule import Change
from service.errors import Conflict, FieldError, InvalidInput, NotFound, field_errors
from service.finance import repository
from service.finance.orm import Asset, BookChange
from service.finance.schemas import (
    MACRS_LIFE_MONTHS,
    AssetCreate,
    AssetFields,
    AssetPatch,
    AssetRead,
    AssetReplace,
    BookChangeRead,
)
from service.finance.terms import BookTerms, first_of
from service.registry import repository as registry
from service.versions import Precondition, version_tag


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
    """The rules of each row, and what a row cannot know alone: does the model exist, is the
    currency known."""
    errors = [error for line, item in items for error in _rules(item, line=line, prefix=prefix)]
    return errors + bulk_import.catalogue_errors(items, registry.catalogue(session), prefix=prefix)


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
    session: Session, asset_id: int, item: AssetReplace, *, expected: Precondition
) -> Asset:
    """Replace every field; life and salvage correct the terms booked from the start."""
    asset = require_asset(session, asset_id)
    expected.check(version_tag(asset.revision))
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
    expected: Precondition,
    month: date | None = None,
) -> Asset:
    """Change some fields. A new life or salvage is recorded as a change effective from
    ``patch.effective_from`` (default ``month``, the current month), unless that is the
    in-service month, where it simply corrects the terms booked from the start."""
    asset = require_asset(session, asset_id)
    expected.check(version_tag(asset.revision))
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
    when = first_of(effective) if effective else max(month or this_month(), in_service)
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
            errors=field_errors(exc, "body"),
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


def delete_asset(session: Session, asset_id: int, *, expected: Precondition) -> None:
    asset = require_asset(session, asset_id)
    expected.check(version_tag(asset.revision))
    session.delete(asset)
    session.flush()


def import_assets(
    session: Session,
    rows: Sequence[bulk.RawRow],
    *,
    on_row: Callable[[], None] | None = None,
) -> int:
    """All-or-nothing import of assets; returns how many were written."""

    def check(good: list[tuple[int, AssetCreate]]) -> list[FieldError]:
        errors = _cross_check(session, good)
        first_line, repeats = bulk.first_lines(good, lambda item: item.tag, "tag")
        errors.extend(repeats)
        taken = repository.existing_tags(session, set(first_line))
        errors.extend(
            FieldError(field="tag", reason="an asset with this tag already exists", line=line)
            for line, item in good
            if item.tag in taken
        )
        return errors

    return bulk_import.import_rows(
        session,
        rows,
        AssetCreate,
        catalogue=registry.catalogue(session),
        check=check,
        insert=lambda items: repository.insert_assets(session, [_values(i) for i in items]),
        on_row=on_row,
        evidence=False,
    )
