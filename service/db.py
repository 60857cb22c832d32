"""Database plumbing: the declarative base, engines, the unit of work and the data version.

Alembic owns the schema (``migrations/``); this module only describes it to the ORM.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    DateTime,
    Engine,
    Integer,
    MetaData,
    create_engine,
    event,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from service.freshness import DataVersionTracker

NOTIFY_CHANNEL = "gpuval_data_version"  # PostgreSQL: every bump notifies it, with the new version
TRACKER = "data_version_tracker"  # the key of the process's tracker in ``Session.info``

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
    """One row whose counters writes bump; caches of derived state key on them.

    ``version`` moves with every write of a versioned row (answers, fleets, memos key on it);
    ``evidence_version`` only with writes of what a calibration is fitted on (models,
    observations, rates, frontier, assumptions), so writing an asset does not refit the market.
    """

    __tablename__ = "data_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    evidence_version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class Versioned:
    """Mixin for tables whose rows feed valuations: writing one bumps the data version, and
    the evidence version too unless the table says it is not evidence of the market."""

    #: Whether the rows are what a calibration is fitted on (False for a fleet's assets).
    evidence: ClassVar[bool] = True


def normalise_url(url: str) -> str:
    """Accept the usual ``postgres://`` spellings and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in {"postgres", "postgresql"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, pool_size: int = 5, connect_timeout_s: float = 5.0) -> Engine:
    """A pooled engine. PostgreSQL connections are pinged on checkout, so a dropped one is
    replaced; an SQLite file needs no ping, and its pragmas run once per pooled connection.
    An in-memory SQLite database keeps SQLAlchemy's own single-connection pool."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        args = {"timeout": 30, "check_same_thread": False}
        if is_memory_sqlite(url):
            engine = create_engine(url, connect_args=args)
        else:
            engine = create_engine(
                url,
                connect_args=args,
                poolclass=QueuePool,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_timeout=30,
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


def is_memory_sqlite(url: str) -> bool:
    """``sqlite://``, ``sqlite:///:memory:`` and ``mode=memory`` URIs: private to a process."""
    parsed = make_url(url)
    database = parsed.database or ""
    return database in ("", ":memory:") or parsed.query.get("mode") == "memory"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_sessionmaker(
    engine: Engine, *, tracker: DataVersionTracker | None = None
) -> sessionmaker[Session]:
    """Sessions on ``engine``; with a ``tracker``, they read the data version from it and tell
    it of the versions they commit (see ``service.freshness``)."""
    info = {TRACKER: tracker} if tracker is not None else None
    return sessionmaker(engine, expire_on_commit=False, autoflush=True, info=info)


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
    """The data version: from the process's tracker when it can vouch for it (no query),
    else from the database."""
    tracker: DataVersionTracker | None = session.info.get(TRACKER)
    known = tracker.current() if tracker is not None else None
    return known if known is not None else read_data_version(session)


def read_data_version(session: Session) -> int:
    version = session.scalar(select(DataVersion.version).where(DataVersion.id == 1))
    return int(version or 0)


def read_versions(session: Session) -> tuple[int, int]:
    """(data version, evidence version) as this session sees them, in one statement."""
    row = session.execute(
        select(DataVersion.version, DataVersion.evidence_version).where(DataVersion.id == 1)
    ).first()
    return (int(row[0]), int(row[1])) if row is not None else (0, 0)


@event.listens_for(Session, "before_flush")
def _bump_data_version(session: Session, _context: Any, _instances: Any) -> None:
    """Bump the data version once per transaction that writes any versioned row (and the
    evidence version once, if one of them is evidence)."""
    if session.info.get("data_version_bumped") and session.info.get("evidence_version_bumped"):
        return
    written = (*session.new, *session.dirty, *session.deleted)
    touched = [obj for obj in written if isinstance(obj, Versioned)]
    if not touched:
        return
    mark_data_changed(session, evidence=any(obj.evidence for obj in touched))


def mark_data_changed(session: Session, *, evidence: bool = True) -> None:
    """Bump the data version once per transaction, and the evidence version once when any
    write is ``evidence`` (the default, so a caller that does not say refits the market);
    called directly for bulk statements that bypass the unit of work."""
    connection = session.connection()
    if evidence and not session.info.get("evidence_version_bumped"):
        session.info["evidence_version_bumped"] = True
        connection.execute(
            update(DataVersion)
            .where(DataVersion.id == 1)
            .values(evidence_version=DataVersion.evidence_version + 1)
        )
    if session.info.get("data_version_bumped"):
        return
    session.info["data_version_bumped"] = True
    version = connection.scalar(
        update(DataVersion)
        .where(DataVersion.id == 1)
        .values(version=DataVersion.version + 1, changed_at=utcnow())
        .returning(DataVersion.version)
    )
    if version is None:
        return
    session.info["data_version_written"] = int(version)
    if connection.dialect.name == "postgresql":  # delivered to listeners on commit, not before
        connection.execute(
            text("SELECT pg_notify(:channel, :version)"),
            {"channel": NOTIFY_CHANNEL, "version": str(version)},
        )


@event.listens_for(Session, "after_transaction_end")
def _reset_bump_flag(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop("data_version_bumped", None)
        session.info.pop("evidence_version_bumped", None)


@event.listens_for(Session, "after_commit")
def _report_written_version(session: Session) -> None:
    """A replica's own write is visible to its next request: the tracker learns the version now,
    after the commit (a failed commit reports nothing)."""
    if session.in_nested_transaction():  # a savepoint's release is not the commit
        return
    written = session.info.pop("data_version_written", None)
    tracker: DataVersionTracker | None = session.info.get(TRACKER)
    if written is not None and tracker is not None:
        tracker.advance(written)


@event.listens_for(Session, "after_rollback")
def _forget_written_version(session: Session) -> None:
    session.info.pop("data_version_written", None)
