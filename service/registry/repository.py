"""All SQL of the registry. Functions take a session and return ORM rows or plain values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from service.audit import recorder as audit
from service.common.bulk_import import Catalogue
from service.common.sql import escape_like, present
from service.registry.orm import Assumption, FrontierEntry, FxRate, GpuModel, Observation


@dataclass(frozen=True, slots=True)
class ModelFilter:
    vendor: str | None = None
    segment: str | None = None
    architecture: str | None = None
    fp8: bool | None = None
    fp4: bool | None = None
    q: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.vendor:
            out.append(func.lower(GpuModel.vendor) == self.vendor.lower())
        if self.segment:
            out.append(GpuModel.segment == self.segment)
        if self.architecture:
            out.append(func.lower(GpuModel.architecture) == self.architecture.lower())
        if self.fp8 is not None:
            out.append(GpuModel.fp8.is_(self.fp8))
        if self.fp4 is not None:
            out.append(GpuModel.fp4.is_(self.fp4))
        if self.q:
            pattern = f"%{escape_like(self.q.lower())}%"
            out.append(
                or_(
                    *(
                        func.lower(col).like(pattern, escape="\\")
                        for col in (
                            GpuModel.slug,
                            GpuModel.vendor,
                            GpuModel.family,
                            GpuModel.variant,
                            GpuModel.architecture,
                        )
                    )
                )
            )
        return out


@dataclass(frozen=True, slots=True)
class ObservationFilter:
    model: str | None = None
    kind: str | None = None
    term: str | None = None
    provider: str | None = None
    currency: str | None = None
    observed_from: date | None = None
    observed_to: date | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.model:
            out.append(Observation.model_slug == self.model)
        if self.kind:
            out.append(Observation.kind == self.kind)
        if self.term:
            out.append(Observation.term == self.term)
        if self.provider:
            pattern = f"%{escape_like(self.provider.lower())}%"
            out.append(func.lower(Observation.provider).like(pattern, escape="\\"))
        if self.currency:
            out.append(Observation.currency == self.currency)
        if self.observed_from:
            out.append(Observation.observed_on >= self.observed_from)
        if self.observed_to:
            out.append(Observation.observed_on <= self.observed_to)
        return out


# --- GPU models -------------------------------------------------------------------------------


def get_model(session: Session, slug: str) -> GpuModel | None:
    return session.get(GpuModel, slug)


def list_models(
    session: Session, flt: ModelFilter, *, limit: int, after: str | None
) -> tuple[Sequence[GpuModel], int]:
    clauses = flt.clauses()
    total = session.scalar(select(func.count()).select_from(GpuModel).where(*clauses)) or 0
    stmt = select(GpuModel).where(*clauses).order_by(GpuModel.slug).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(GpuModel.slug > after)
    return session.scalars(stmt).all(), total


def count_models(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(GpuModel)) or 0


def existing_slugs(session: Session, slugs: set[str]) -> set[str]:
    return present(session, GpuModel.slug, slugs)


def count_observations_of(session: Session, slug: str) -> int:
    stmt = select(func.count()).select_from(Observation).where(Observation.model_slug == slug)
    return session.scalar(stmt) or 0


def referrers(session: Session, slug: str, *, limit: int = 20) -> dict[str, list[Any]]:
    """Rows of any table whose foreign key names the model, by table: their primary keys.

    Read from the schema, so the registry needs to know nothing of the packages that refer to
    its models (the asset register, say) to tell a caller what holds a model in place.
    """
    target = GpuModel.__table__.c.slug
    out: dict[str, list[Any]] = {}
    for table in GpuModel.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column is not target:
                continue
            key = next(iter(table.primary_key.columns))
            rows = session.scalars(
                select(key).where(fk.parent == slug).order_by(key).limit(limit)
            ).all()
            if rows:
                out[table.name] = list(rows)
    return out


def delete_observations_of(session: Session, slug: str) -> int:
    """Delete a model's observations, each recorded in the audit log."""
    victims = session.scalars(select(Observation).where(Observation.model_slug == slug)).all()
    audit.record_bulk(
        session,
        action="delete",
        entity="observation",
        items=[(str(o.id), o.audit_snapshot()) for o in victims],
    )
    result = session.execute(delete(Observation).where(Observation.model_slug == slug))
    return int(getattr(result, "rowcount", 0) or 0)


# --- observations -----------------------------------------------------------------------------


def get_observation(session: Session, observation_id: int) -> Observation | None:
    return session.get(Observation, observation_id)


def list_observations(
    session: Session, flt: ObservationFilter, *, limit: int, after: tuple[date, int] | None
) -> tuple[Sequence[Observation], int]:
    clauses = flt.clauses()
    total = session.scalar(select(func.count()).select_from(Observation).where(*clauses)) or 0
    stmt = (
        select(Observation)
        .where(*clauses)
        .order_by(Observation.observed_on, Observation.id)
        .limit(limit + 1)
    )
    if after is not None:
        on, last_id = after
        stmt = stmt.where(
            or_(
                Observation.observed_on > on,
                and_(Observation.observed_on == on, Observation.id > last_id),
            )
        )
    return session.scalars(stmt).all(), total


def insert_observations(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert in chunks, each row audited; the caller's transaction makes it all-or-nothing."""
    for i in range(0, len(rows), 1000):
        chunk = [dict(r, revision=1) for r in rows[i : i + 1000]]
        ids = session.scalars(
            insert(Observation).returning(Observation.id, sort_by_parameter_order=True), chunk
        ).all()
        audit.record_bulk(
            session,
            action="create",
            entity="observation",
            items=[
                (str(ident), {"id": ident, **row}) for ident, row in zip(ids, chunk, strict=True)
            ],
        )


def existing_source_keys(session: Session, keys: set[str]) -> set[str]:
    return present(session, Observation.source_key, keys)


# --- frontier, assumptions, FX ----------------------------------------------------------------


def list_frontier(session: Session) -> Sequence[FrontierEntry]:
    return session.scalars(select(FrontierEntry).order_by(FrontierEntry.effective_from)).all()


def list_assumptions(session: Session) -> Sequence[Assumption]:
    return session.scalars(select(Assumption).order_by(Assumption.name)).all()


def get_assumption(session: Session, name: str) -> Assumption | None:
    return session.get(Assumption, name)


def known_currencies(session: Session) -> set[str]:
    return {"USD", *session.scalars(select(FxRate.currency).distinct())}


def catalogue(session: Session) -> Catalogue:
    """The models and currencies that imported rows may name, read from ``session``."""
    return Catalogue(
        existing_models=lambda slugs: existing_slugs(session, slugs),
        known_currencies=lambda: known_currencies(session),
    )


def fx_keys(session: Session) -> set[tuple[str, str]]:
    """The ``(month, currency)`` of every stored FX rate."""
    return {(m, c) for m, c in session.execute(select(FxRate.month, FxRate.currency))}


def list_fx(
    session: Session, *, currency: str | None, month_from: str | None, month_to: str | None
) -> Sequence[FxRate]:
    stmt = select(FxRate).order_by(FxRate.month, FxRate.currency)
    if currency:
        stmt = stmt.where(FxRate.currency == currency)
    if month_from:
        stmt = stmt.where(FxRate.month >= month_from)
    if month_to:
        stmt = stmt.where(FxRate.month <= month_to)
    return session.scalars(stmt).all()


def get_fx(session: Session, month: str, currency: str) -> FxRate | None:
    return session.get(FxRate, (month, currency))
