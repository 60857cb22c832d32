"""ORM mapping of the asset register. Alembic migrations are the authority on the schema."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.common.audited import Audited
from service.common.sql import one_of
from service.db import Base, UTCDateTime, Versioned, utcnow
from service.engine.types import ASSET_STATUSES, BOOK_METHODS


class Asset(Audited, Versioned, Base):
    """A unit or server somebody owns. ``life_months`` and ``salvage`` are the terms booked
    from the in-service date; later estimates live in ``changes`` and apply prospectively.

    Money is stored as a float holding a whole number of cents (the service rounds on the way
    in): exact up to 10^13, the same on SQLite and PostgreSQL, and JSON-ready for the audit log.
    """

    evidence = False  # a fleet's unit, not market evidence: writing it refits nothing

    __tablename__ = "assets"
    __audit_entity__ = "asset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tag: Mapped[str] = mapped_column(String(80), unique=True)
    model_slug: Mapped[str] = mapped_column(
        String(80),
        ForeignKey("gpu_models.slug", onupdate="CASCADE", ondelete="RESTRICT"),
        index=True,
    )
    gpu_count: Mapped[int] = mapped_column(Integer)
    in_service_on: Mapped[date] = mapped_column(Date, index=True)
    acquisition_cost: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    salvage: Mapped[float] = mapped_column(Float)
    book_method: Mapped[str] = mapped_column(String(20))
    life_months: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(120), default="", index=True)
    status: Mapped[str] = mapped_column(String(10), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    changes: Mapped[list[BookChange]] = relationship(
        back_populates="asset",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="BookChange.effective_month",
        lazy="selectin",
    )

    __mapper_args__ = {"version_id_col": revision}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("gpu_count >= 1", name="gpu_count"),
        CheckConstraint("acquisition_cost >= 0", name="cost"),
        CheckConstraint("salvage >= 0 AND salvage <= acquisition_cost", name="salvage"),
        CheckConstraint(one_of("book_method", BOOK_METHODS), name="book_method"),
        CheckConstraint("life_months BETWEEN 1 AND 600", name="life_months"),
        CheckConstraint(one_of("status", ASSET_STATUSES), name="status"),
    )


class BookChange(Audited, Versioned, Base):
    """From ``effective_month`` (``YYYY-MM``) on, a new life and/or salvage (IAS 8 / ASC 250)."""

    evidence = False

    __tablename__ = "asset_book_changes"
    __audit_entity__ = "asset_book_change"

    asset_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    effective_month: Mapped[str] = mapped_column(String(7), primary_key=True)
    new_life_months: Mapped[int | None] = mapped_column(Integer)
    new_salvage: Mapped[float | None] = mapped_column(Float)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    asset: Mapped[Asset] = relationship(back_populates="changes")

    __table_args__ = (
        CheckConstraint(
            "new_life_months IS NOT NULL OR new_salvage IS NOT NULL", name="changes_something"
        ),
        CheckConstraint(
            "new_life_months IS NULL OR new_life_months BETWEEN 1 AND 600", name="life_months"
        ),
        CheckConstraint("new_salvage IS NULL OR new_salvage >= 0", name="salvage"),
    )
