"""Registry use cases: validate against what is stored, then change it. Never commits."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.common import bulk, bulk_import
from service.common.clock import today
from service.db import mark_data_changed
from service.errors import Conflict, FieldError, InvalidInput, NotFound, field_errors
from service.registry import repository
from service.registry.orm import Assumption, FrontierEntry, GpuModel, Observation
from service.registry.schemas import (
    AssumptionsUpdate,
    AssumptionUpdate,
    FrontierEntryIn,
    GpuModelCreate,
    GpuModelFields,
    GpuModelPatch,
    GpuModelReplace,
    ObservationCreate,
    ObservationRead,
)
from service.versions import Precondition, collection_tag, version_tag

PRECISION_ORDER = ("bf16", "fp8", "fp4")
FUTURE_TOLERANCE = timedelta(days=1)


# --- GPU models -------------------------------------------------------------------------------


def require_model(session: Session, slug: str) -> GpuModel:
    model = repository.get_model(session, slug)
    if model is None:
        raise NotFound(f"No GPU model with slug {slug!r}.")
    return model


def model_values(fields: GpuModelFields) -> dict[str, Any]:
    values = fields.model_dump(exclude={"fp8", "fp4", "slug"})
    values["fp8"] = fields.fp8_tflops > 0
    values["fp4"] = fields.fp4_tflops > 0
    return values


def create_model(session: Session, data: GpuModelCreate) -> GpuModel:
    if repository.get_model(session, data.slug) is not None:
        raise Conflict(f"A GPU model with slug {data.slug!r} already exists; PUT it to replace.")
    model = GpuModel(slug=data.slug, **model_values(data))
    session.add(model)
    session.flush()
    return model


def replace_model(
    session: Session, slug: str, data: GpuModelReplace, *, expected: Precondition
) -> GpuModel:
    model = require_model(session, slug)
    expected.check(version_tag(model.revision))
    for key, value in model_values(data).items():
        setattr(model, key, value)
    session.flush()
    return model


def patch_model(
    session: Session, slug: str, patch: GpuModelPatch, *, expected: Precondition
) -> GpuModel:
    model = require_model(session, slug)
    expected.check(version_tag(model.revision))
    current = {
        k: getattr(model, k) for k in GpuModelReplace.model_fields if k not in ("fp8", "fp4")
    }
    merged = {**current, **patch.model_dump(exclude_unset=True)}
    try:
        checked = GpuModelReplace.model_validate(merged)
    except ValidationError as exc:
        raise InvalidInput(
            "The patched model would be invalid.",
            errors=field_errors(exc, "body"),
        ) from exc
    for key, value in model_values(checked).items():
        setattr(model, key, value)
    session.flush()
    return model


def delete_model(session: Session, slug: str, *, cascade: bool, expected: Precondition) -> None:
    model = require_model(session, slug)
    expected.check(version_tag(model.revision))
    count = repository.count_observations_of(session, slug)
    if count and not cascade:
        raise Conflict(
            f"GPU model {slug!r} has {count} observation(s); pass cascade=true to delete them too."
        )
    if count:
        repository.delete_observations_of(session, slug)
    # Other tables (the asset register) refer to models by foreign key: the database refuses the
    # delete while a row still does. The delete runs in a savepoint so that, on PostgreSQL, the
    # transaction can still ask which rows. The data-version write opens the transaction first:
    # SQLite's driver begins one only before a write, and a savepoint outside a transaction
    # would commit on release.
    mark_data_changed(session)
    try:
        with session.begin_nested():
            session.delete(model)
    except IntegrityError as exc:
        held = repository.referrers(session, slug)
        if not held:
            raise
        users = "; ".join(f"{table} {', '.join(map(str, ids))}" for table, ids in held.items())
        raise Conflict(
            f"GPU model {slug!r} is still used ({users}); delete or re-model them first."
        ) from exc


def import_models(
    session: Session,
    rows: Sequence[bulk.RawRow],
    *,
    on_conflict: str = "error",
    on_row: Callable[[], None] | None = None,
) -> tuple[int, int]:
    """All-or-nothing import of models; returns (created, skipped)."""
    good, errors = bulk.validate_rows(rows, GpuModelCreate, on_row=on_row)
    first_line, repeats = bulk.first_lines(good, lambda item: item.slug, "slug")
    errors.extend(repeats)
    existing = repository.existing_slugs(session, set(first_line))
    if on_conflict == "error":
        errors.extend(
            FieldError(field="slug", reason="a model with this slug already exists", line=line)
            for line, item in good
            if item.slug in existing
        )
    bulk.refuse_if_any(errors, "import")
    created = 0
    for _, item in good:
        if item.slug in existing:
            continue
        session.add(GpuModel(slug=item.slug, **model_values(item)))
        created += 1
    session.flush()
    return created, len(good) - created


# --- observations -----------------------------------------------------------------------------


def to_read(obs: Observation) -> ObservationRead:
    return ObservationRead(
        id=obs.id,
        observed_on=obs.observed_on,
        model=obs.model_slug,
        kind=obs.kind,
        price=obs.price,
        currency=obs.currency,
        unit=obs.unit,
        term=obs.term,
        condition=obs.condition,
        provider=obs.provider,
        region=obs.region,
        source=obs.source,
        notes=obs.notes,
        recorded_at=obs.recorded_at,
        revision=obs.revision,
    )


def require_observation(session: Session, observation_id: int) -> Observation:
    obs = repository.get_observation(session, observation_id)
    if obs is None:
        raise NotFound(f"No observation with id {observation_id}.")
    return obs


def _observation_values(item: ObservationCreate, recorded_at: datetime) -> dict[str, Any]:
    values = item.model_dump(exclude={"model"})
    values["model_slug"] = item.model
    values["recorded_at"] = recorded_at
    return values


def _cross_check(
    session: Session,
    items: Sequence[tuple[int | None, ObservationCreate]],
    *,
    field_prefix: str = "",
) -> list[FieldError]:
    """What a single row cannot know: does the model exist, is the currency known, the date past."""
    errors = bulk_import.catalogue_errors(items, repository.catalogue(session), prefix=field_prefix)
    latest = today() + FUTURE_TOLERANCE
    for line, item in items:
        if item.observed_on > latest:
            errors.append(
                FieldError(
                    field=field_prefix + "observed_on", reason="date is in the future", line=line
                )
            )
    return errors


def create_observation(session: Session, item: ObservationCreate) -> Observation:
    errors = _cross_check(session, [(None, item)], field_prefix="body.")
    if errors:
        raise InvalidInput("The observation cannot be recorded; see `errors`.", errors=errors)
    obs = Observation(**_observation_values(item, datetime.now(UTC)))
    session.add(obs)
    session.flush()
    return obs


def delete_observation(session: Session, observation_id: int, *, expected: Precondition) -> None:
    obs = require_observation(session, observation_id)
    expected.check(version_tag(obs.revision))
    session.delete(obs)
    session.flush()


def import_observations(
    session: Session,
    rows: Sequence[bulk.RawRow],
    *,
    on_row: Callable[[], None] | None = None,
) -> int:
    """All-or-nothing import of observations; returns how many were written."""

    def insert(items: list[ObservationCreate]) -> None:
        now = datetime.now(UTC)
        repository.insert_observations(session, [_observation_values(i, now) for i in items])

    return bulk_import.import_rows(
        session,
        rows,
        ObservationCreate,
        catalogue=repository.catalogue(session),
        check=lambda good: _cross_check(session, good),
        insert=insert,
        on_row=on_row,
    )


# --- frontier ---------------------------------------------------------------------------------


def validate_timeline(entries: Sequence[FrontierEntryIn]) -> None:
    """Each precision once; later precisions take over on strictly later dates."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if entry.precision in seen:
            errors.append(FieldError(field=f"items.{i}.precision", reason="listed twice"))
        seen.add(entry.precision)
    ordered = sorted(entries, key=lambda e: PRECISION_ORDER.index(e.precision))
    for before, after in itertools.pairwise(ordered):
        if after.effective_from <= before.effective_from:
            errors.append(
                FieldError(
                    field="effective_from",
                    reason=f"{after.precision} must take over after {before.precision} "
                    f"({before.effective_from.isoformat()})",
                )
            )
    if errors:
        raise InvalidInput("The frontier timeline is inconsistent.", errors=errors)


def timeline_etag(entries: Sequence[FrontierEntry]) -> str:
    return collection_tag(f"{e.precision}.{e.revision}" for e in entries)


def add_frontier_entry(session: Session, entry: FrontierEntryIn) -> FrontierEntry:
    current = repository.list_frontier(session)
    if any(e.precision == entry.precision for e in current):
        raise Conflict(f"The frontier already has {entry.precision}; PUT /frontier to change it.")
    validate_timeline(
        [*(FrontierEntryIn.model_validate(e, from_attributes=True) for e in current), entry]
    )
    row = FrontierEntry(**entry.model_dump())
    session.add(row)
    session.flush()
    return row


def replace_frontier(
    session: Session, entries: Sequence[FrontierEntryIn], *, expected: Precondition
) -> Sequence[FrontierEntry]:
    current = repository.list_frontier(session)
    expected.check(timeline_etag(current))
    validate_timeline(entries)
    wanted = {e.precision: e for e in entries}
    for row in current:
        if row.precision not in wanted:
            session.delete(row)
    session.flush()
    by_precision = {row.precision: row for row in current}
    for precision, entry in wanted.items():
        existing = by_precision.get(precision)
        if existing is None:
            session.add(FrontierEntry(**entry.model_dump()))
            continue
        for key, value in entry.model_dump().items():
            setattr(existing, key, value)
    session.flush()
    return repository.list_frontier(session)


# --- assumptions ------------------------------------------------------------------------------


def require_assumption(session: Session, name: str) -> Assumption:
    row = repository.get_assumption(session, name)
    if row is None:
        raise NotFound(f"No assumption named {name!r}.")
    return row


def _check_bounds(row: Assumption, value: float, field: str) -> FieldError | None:
    if row.minimum <= value <= row.maximum:
        return None
    return FieldError(
        field=field,
        reason=f"{row.name} must be between {row.minimum:g} and {row.maximum:g} {row.unit}",
    )


def update_assumption(
    session: Session, name: str, data: AssumptionUpdate, *, expected: Precondition
) -> Assumption:
    row = require_assumption(session, name)
    expected.check(version_tag(row.revision))
    error = _check_bounds(row, data.value, "body.value")
    if error:
        raise InvalidInput("The value is out of bounds.", errors=[error])
    row.value = data.value
    if data.reason:
        row.reason = data.reason
    session.flush()
    return row


def assumptions_etag(rows: Sequence[Assumption]) -> str:
    return collection_tag(f"{r.name}.{r.revision}" for r in rows)


def update_assumptions(
    session: Session, data: AssumptionsUpdate, *, expected: Precondition
) -> Sequence[Assumption]:
    current = repository.list_assumptions(session)
    expected.check(assumptions_etag(current))
    rows = {row.name: row for row in current}
    errors: list[FieldError] = []
    for name, value in data.values.items():
        row = rows.get(name)
        if row is None:
            errors.append(
                FieldError(
                    field=f"body.values.{name}",
                    reason=f"unknown assumption; known: {', '.join(sorted(rows))}",
                )
            )
            continue
        error = _check_bounds(row, value, f"body.values.{name}")
        if error:
            errors.append(error)
    if errors:
        raise InvalidInput("Nothing was changed; see `errors`.", errors=errors)
    for name, value in data.values.items():
        rows[name].value = value
    session.flush()
    return repository.list_assumptions(session)
