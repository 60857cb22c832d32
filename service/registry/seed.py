"""Load the reference data shipped in ``service/data``, inserting only what is missing."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from importlib import resources
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from service.audit import recorder as audit
from service.common import bulk
from service.common.sql import IN_CHUNK, chunks
from service.db import mark_data_changed
from service.engine.assumptions import ASSUMPTIONS
from service.registry import repository
from service.registry.orm import Assumption, FrontierEntry, FxRate, GpuModel, Observation
from service.registry.schemas import FrontierEntryIn, GpuModelCreate, ObservationCreate
from service.registry.service import model_values, validate_timeline

Progress = Callable[[], None]


@dataclass(frozen=True, slots=True)
class SeedCount:
    table: str
    inserted: int
    total: int


def data_text(name: str) -> str:
    return resources.files("service.data").joinpath(name).read_text(encoding="utf-8")


def seed_all(session: Session, *, on_row: Progress | None = None) -> list[SeedCount]:
    """Insert every reference row that is missing; return per-table counts."""
    counts = [
        _seed_fx(session),
        _seed_models(session),
        _seed_frontier(session),
        _seed_assumptions(session),
        _seed_observations(session, on_row=on_row),
    ]
    if any(c.inserted for c in counts):
        mark_data_changed(session)
    return counts


def _seed_models(session: Session) -> SeedCount:
    rows = list(bulk.parse_csv(data_text("gpu_models.csv")))
    good, errors = bulk.validate_rows(rows, GpuModelCreate)
    bulk.refuse_if_any(errors, "reference catalogue gpu_models.csv")
    existing = repository.existing_slugs(session, {item.slug for _, item in good})
    new = [item for _, item in good if item.slug not in existing]
    session.add_all(GpuModel(slug=item.slug, **model_values(item)) for item in new)
    session.flush()
    return SeedCount("gpu_models", len(new), len(good))


def _seed_fx(session: Session) -> SeedCount:
    records = list(csv.DictReader(data_text("fx_usd.csv").splitlines()))
    have = repository.fx_keys(session)
    new = [r for r in records if (r["month"], r["currency"]) not in have]
    session.add_all(
        FxRate(
            month=r["month"],
            currency=r["currency"],
            usd_per_unit=float(r["usd_per_unit"]),
            source=r["source"],
        )
        for r in new
    )
    session.flush()
    return SeedCount("fx_rates", len(new), len(records))


def _seed_frontier(session: Session) -> SeedCount:
    entries = [
        FrontierEntryIn.model_validate(r)
        for r in csv.DictReader(data_text("frontier.csv").splitlines())
    ]
    validate_timeline(entries)
    current = repository.list_frontier(session)
    if current:  # an edited timeline is the admins'; the seed only fills an empty one
        return SeedCount("frontier", 0, len(entries))
    session.add_all(FrontierEntry(**e.model_dump()) for e in entries)
    session.flush()
    return SeedCount("frontier", len(entries), len(entries))


def _seed_assumptions(session: Session) -> SeedCount:
    have = {row.name for row in repository.list_assumptions(session)}
    new = [spec for spec in ASSUMPTIONS if spec.name not in have]
    session.add_all(
        Assumption(
            name=spec.name,
            value=spec.default,
            unit=spec.unit,
            minimum=spec.minimum,
            maximum=spec.maximum,
            reason=spec.reason,
        )
        for spec in new
    )
    session.flush()
    return SeedCount("assumptions", len(new), len(ASSUMPTIONS))


def _seed_observations(session: Session, *, on_row: Progress | None) -> SeedCount:
    rows = list(bulk.parse_csv(data_text("observations.csv")))
    good, errors = bulk.validate_rows(
        rows, ObservationCreate, rename={"model_slug": "model"}, on_row=on_row
    )
    bulk.refuse_if_any(errors, "reference observations.csv")
    seen: Counter[str] = Counter()
    keyed: list[tuple[str, ObservationCreate]] = []
    for _, item in good:
        content = _content_key(item)
        seen[content] += 1
        keyed.append((hashlib.sha256(f"{content}#{seen[content]}".encode()).hexdigest(), item))
    existing = repository.existing_source_keys(session, {key for key, _ in keyed})
    new = [(key, item) for key, item in keyed if key not in existing]
    _insert_reference_observations(session, [_reference_values(key, item) for key, item in new])
    return SeedCount("observations", len(new), len(good))


def _insert_reference_observations(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert the reference rows and audit each, as ``repository.insert_observations`` does,
    but without ``RETURNING``: one plain executemany of the table's insert (several times
    faster on SQLite than returning ids batch by batch, and faster than the ORM's bulk insert
    on PostgreSQL), then the new ids read back by their source keys, which are unique. The
    caller's transaction makes it all-or-nothing."""
    if not rows:
        return
    values = [dict(row, revision=1) for row in rows]
    table = cast(Table, Observation.__table__)
    session.execute(insert(table), values)
    ids: dict[str, int] = {}
    for part in chunks(sorted(row["source_key"] for row in values), IN_CHUNK):
        found = select(Observation.source_key, Observation.id).where(
            Observation.source_key.in_(part)
        )
        ids.update((key, ident) for key, ident in session.execute(found) if key)
    audit.record_bulk(
        session,
        action="create",
        entity="observation",
        items=[
            (str(ids[row["source_key"]]), {"id": ids[row["source_key"]], **row}) for row in values
        ],
    )


def _content_key(item: ObservationCreate) -> str:
    return item.model_dump_json()


def _reference_values(key: str, item: ObservationCreate) -> dict[str, Any]:
    values = item.model_dump(exclude={"model"})
    values["model_slug"] = item.model
    values["recorded_at"] = datetime.combine(item.observed_on, time(0), tzinfo=UTC)
    values["source_key"] = key
    return values
