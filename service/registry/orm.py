"""ORM mapping of the registry tables. Alembic migrations are the authority on the schema."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.common.audited import Audited
from service.common.sql import one_of
from service.db import Base, UTCDateTime, Versioned, utcnow
from service.engine.types import CONDITIONS, KINDS, PRICE_UNITS, SEGMENTS, TERMS


class GpuModel(Audited, Versioned, Base):
    __tablename__ = "gpu_models"
    __audit_entity__ = "model"

    slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(40), index=True)
    family: Mapped[str] = mapped_column(String(60))
    variant: Mapped[str] = mapped_column(String(80))
    architecture: Mapped[str] = mapped_column(String(40), index=True)
    segment: Mapped[str] = mapped_column(String(20), index=True)
    release_date: Mapped[date] = mapped_column(Date)
    launch_price_usd: Mapped[float | None] = mapped_column(Float)
    memory_gb: Mapped[float] = mapped_column(Float)
    memory_bw_tbps: Mapped[float] = mapped_column(Float)
    tdp_w: Mapped[float] = mapped_column(Float)
    bf16_tflops: Mapped[float] = mapped_column(Float)
    fp8_tflops: Mapped[float] = mapped_column(Float)
    fp4_tflops: Mapped[float] = mapped_column(Float)
    fp8: Mapped[bool] = mapped_column(Boolean, index=True)
    fp4: Mapped[bool] = mapped_column(Boolean, index=True)
    form_factor: Mapped[str] = mapped_column(String(60))
    verified: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": revision}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(one_of("segment", SEGMENTS), name="segment"),
        CheckConstraint(
            "memory_gb > 0 AND memory_bw_tbps > 0 AND tdp_w > 0", name="positive_specs"
        ),
        CheckConstraint(
            "bf16_tflops >= 0 AND fp8_tflops >= 0 AND fp4_tflops >= 0", name="throughput"
        ),
    )


class Observation(Audited, Versioned, Base):
    __tablename__ = "observations"
    __audit_entity__ = "observation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    observed_on: Mapped[date] = mapped_column(Date)
    model_slug: Mapped[str] = mapped_column(
        String(80), ForeignKey("gpu_models.slug", onupdate="CASCADE", ondelete="RESTRICT")
    )
    kind: Mapped[str] = mapped_column(String(10))
    price: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    unit: Mapped[str] = mapped_column(String(10))
    term: Mapped[str] = mapped_column(String(10))
    condition: Mapped[str | None] = mapped_column(String(10))
    provider: Mapped[str] = mapped_column(String(120), default="")
    region: Mapped[str] = mapped_column(String(60), default="")
    source: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": revision}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(one_of("kind", KINDS), name="kind"),
        CheckConstraint("price > 0", name="positive_price"),
        CheckConstraint(one_of("unit", PRICE_UNITS), name="unit"),
        CheckConstraint(one_of("term", TERMS), name="term"),
        CheckConstraint(
            "condition IS NULL OR " + one_of("condition", CONDITIONS), name="condition"
        ),
        Index("ix_observations_model_date", "model_slug", "observed_on"),
        Index("ix_observations_observed_on", "observed_on"),
        Index("ix_observations_recorded_at", "recorded_at"),
    )


class FxRate(Audited, Versioned, Base):
    """US dollars per unit of a currency, monthly average (Federal Reserve H.10/G.5)."""

    __tablename__ = "fx_rates"
    __audit_entity__ = "fx_rate"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    usd_per_unit: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (CheckConstraint("usd_per_unit > 0", name="positive_rate"),)


class FrontierEntry(Audited, Versioned, Base):
    """From ``effective_from`` on, ``precision`` is the production format of the market."""

    __tablename__ = "frontier"
    __audit_entity__ = "frontier"

    precision: Mapped[str] = mapped_column(String(8), primary_key=True)
    effective_from: Mapped[date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": revision}  # noqa: RUF012
    __table_args__ = (CheckConstraint("precision IN ('bf16', 'fp8', 'fp4')", name="precision"),)


class Assumption(Audited, Versioned, Base):
    """A valuation default: a named number with its unit, bounds and the reason for its value."""

    __tablename__ = "assumptions"
    __audit_entity__ = "assumption"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(40))
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": revision}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("minimum <= value AND value <= maximum", name="within_bounds"),
    )
