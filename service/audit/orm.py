"""Audit entries and the mixin that makes a table audited."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Index, Integer, String, inspect
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_key_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(80))
    request_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(10))
    entity: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str] = mapped_column(String(80))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_audit_log_entity", "entity", "entity_id"),
        Index("ix_audit_log_at", "at"),
    )


class Audited:
    """Rows of these tables are recorded in the audit log on every insert, update and delete."""

    __audit_entity__: ClassVar[str]
    __audit_exclude__: ClassVar[frozenset[str]] = frozenset()

    def audit_id(self) -> str:
        # From the primary-key columns, not the identity key: a new row only gets its identity
        # key after ``after_flush``, where the audit entry is written.
        key = inspect(type(self)).primary_key_from_instance(self)
        return "/".join(str(part) for part in key)

    def audit_snapshot(self) -> dict[str, Any]:
        mapper = inspect(type(self))
        return {
            c.key: jsonable(getattr(self, c.key))
            for c in mapper.column_attrs
            if c.key not in self.__audit_exclude__
        }


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
