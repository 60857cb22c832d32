"""Reads the registry into the engine's input types. All SQL of the valuation layer."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import engine
from service.registry.orm import Assumption, FrontierEntry, FxRate, GpuModel, Observation


def spec_of(row: GpuModel) -> engine.ModelSpec:
    return engine.ModelSpec(
        slug=row.slug,
        vendor=row.vendor,
        architecture=row.architecture,
        segment=row.segment,
        form_factor=row.form_factor,
        release_date=row.release_date,
        launch_price_usd=row.launch_price_usd,
        memory_gb=row.memory_gb,
        memory_bw_tbps=row.memory_bw_tbps,
        tdp_w=row.tdp_w,
        bf16_tflops=row.bf16_tflops,
        fp8_tflops=row.fp8_tflops,
        fp4_tflops=row.fp4_tflops,
        fp8=row.fp8,
        fp4=row.fp4,
    )


def models(session: Session) -> list[engine.ModelSpec]:
    return [spec_of(r) for r in session.scalars(select(GpuModel).order_by(GpuModel.slug))]


def observations(
    session: Session, *, as_of: date, known_at: datetime | None
) -> list[engine.Observation]:
    """Observations dated on or before ``as_of`` (and recorded by ``known_at``), in id order."""
    columns = (
        Observation.observed_on,
        Observation.model_slug,
        Observation.kind,
        Observation.price,
        Observation.currency,
        Observation.term,
        Observation.condition,
        Observation.provider,
        Observation.notes,
        Observation.recorded_at,
    )
    # plain column tuples, not ORM objects: a calibration reads every observation
    stmt = select(*columns).where(Observation.observed_on <= as_of).order_by(Observation.id)
    if known_at is not None:
        stmt = stmt.where(Observation.recorded_at <= known_at)
    return [
        engine.Observation(
            observed_on=observed_on,
            model_slug=model_slug,
            kind=kind,  # type: ignore[arg-type]  # the table's check constraint
            price=price,
            currency=currency,
            term=term,  # type: ignore[arg-type]
            condition=condition,  # type: ignore[arg-type]
            provider=provider,
            notes=notes,
            recorded_at=recorded_at,
        )
        for (
            observed_on,
            model_slug,
            kind,
            price,
            currency,
            term,
            condition,
            provider,
            notes,
            recorded_at,
        ) in session.execute(stmt)
    ]


def fx_rates(session: Session) -> list[engine.FxRate]:
    rows = session.scalars(select(FxRate).order_by(FxRate.month, FxRate.currency))
    return [engine.FxRate(r.month, r.currency, r.usd_per_unit) for r in rows]


def frontier(session: Session) -> list[engine.FrontierEntry]:
    rows = session.scalars(select(FrontierEntry).order_by(FrontierEntry.effective_from))
    return [engine.FrontierEntry(r.effective_from, r.precision) for r in rows]  # type: ignore[arg-type]


def assumption_values(session: Session) -> dict[str, float]:
    return {r.name: r.value for r in session.scalars(select(Assumption))}


def latest_observation_on(
    session: Session, *, as_of: date, known_at: datetime | None
) -> date | None:
    """The last date on or before ``as_of`` with evidence: calibrations are keyed by it, since
    every ``as_of`` between two observation dates sees exactly the same data."""
    stmt = select(func.max(Observation.observed_on)).where(Observation.observed_on <= as_of)
    if known_at is not None:
        stmt = stmt.where(Observation.recorded_at <= known_at)
    return session.scalar(stmt)


def nth_lease_date(session: Session, *, n: int, known_at: datetime | None) -> date | None:
    """The date of the n-th lease observation in date order (recorded by ``known_at``): the
    first ``as_of`` on which the engine has enough evidence to calibrate."""
    stmt = (
        select(Observation.observed_on)
        .where(Observation.kind == "lease")
        .order_by(Observation.observed_on, Observation.id)
        .offset(n - 1)
        .limit(1)
    )
    if known_at is not None:
        stmt = stmt.where(Observation.recorded_at <= known_at)
    return session.scalar(stmt)
