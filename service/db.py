"""Database plumbing: the declarative base, engines, the unit of work and the data version.

Alembic owns the schema (``migrations/``); this module only describes it to the ORM.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Engine,
    Integer,
    MetaData,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class DataVersion(Base):
    """One row whose counter every registry write bumps; caches of derived state key on it."""

    __tablename__ = "data_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Versioned:
    """Mixin for tables whose rows feed valuations: writing one bumps the data version."""


def normalise_url(url: str) -> str:
    """Accept the usual ``postgres://`` spellings and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in {"postgres", "postgresql"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 5, connect_timeout_s: float = 5.0) -> Engine:
    """An engine with liveness checks on checkout, so a dropped connection is replaced."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, pool_pre_ping=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=connect_timeout_s,
        connect_args={"connect_timeout": max(1, int(connect_timeout_s))},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False, autoflush=True)
    return factory


class CommitOutcomeUnknown(Exception):
    """The connection dropped during COMMIT: the write may or may not have been applied."""


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit when the block succeeds, roll back when it raises."""
    session = factory()
    try:
        yield session
        try:
            session.commit()
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise CommitOutcomeUnknown(str(exc)) from exc
            raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def current_data_version(session: Session) -> int:
    version = session.scalar(select(DataVersion.version).where(DataVersion.id == 1))
    return int(version or 0)


@event.listens_for(Session, "before_flush")
def _bump_data_version(session: Session, _context: Any, _instances: Any) -> None:
    """Bump the data version once per transaction that writes any versioned row."""
    if session.info.get("data_version_bumped"):
        return
    touched = (*session.new, *session.dirty, *session.deleted)
    if not any(isinstance(obj, Versioned) for obj in touched):
        return
    mark_data_changed(session)


def mark_data_changed(session: Session) -> None:
    """For bulk statements that bypass the unit of work (``insert().values([...])``)."""
    if session.info.get("data_version_bumped"):
        return
    session.info["data_version_bumped"] = True
    session.connection().execute(
        update(DataVersion)
        .where(DataVersion.id == 1)
        .values(version=DataVersion.version + 1, changed_at=utcnow())
    )


@event.listens_for(Session, "after_transaction_end")
def _reset_bump_flag(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop("data_version_bumped", None)
