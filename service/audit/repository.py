"""All SQL reading the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from service.audit.orm import AuditEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditFilter:
    entity: str | None = None
    entity_id: str | None = None
    action: str | None = None
    actor_key_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.entity:
            out.append(AuditEntry.entity == self.entity)
        if self.entity_id:
            out.append(AuditEntry.entity_id == self.entity_id)
        if self.action:
            out.append(AuditEntry.action == self.action)
        if self.actor_key_id:
            out.append(AuditEntry.actor_key_id == self.actor_key_id)
        if self.since:
            out.append(AuditEntry.at >= self.since)
        if self.until:
            out.append(AuditEntry.at < self.until)
        return out


def list_entries(
    session: Session, flt: AuditFilter, *, limit: int, after: int | None
) -> tuple[Sequence[AuditEntry], int]:
    """Up to ``limit + 1`` entries after the id ``after``, oldest first, and the total."""
    clauses = flt.clauses()
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*clauses)) or 0
    stmt = select(AuditEntry).where(*clauses).order_by(AuditEntry.id).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(AuditEntry.id > after)
    return session.scalars(stmt).all(), total
