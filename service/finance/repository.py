"""All SQL of the asset register. Functions take a session and return ORM rows or plain values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.orm import Session

from service.audit import recorder as audit
from service.common.sql import escape_like, present
from service.finance.orm import Asset


@dataclass(frozen=True, slots=True)
class AssetFilter:
    model: str | None = None
    status: str | None = None
    location: str | None = None
    tag: str | None = None
    in_service_from: date | None = None
    in_service_to: date | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.model:
            out.append(Asset.model_slug == self.model)
        if self.status:
            out.append(Asset.status == self.status)
        if self.location:
            out.append(func.lower(Asset.location) == self.location.lower())
        if self.tag:
            pattern = f"%{escape_like(self.tag.lower())}%"
            out.append(func.lower(Asset.tag).like(pattern, escape="\\"))
        if self.in_service_from:
            out.append(Asset.in_service_on >= self.in_service_from)
        if self.in_service_to:
            out.append(Asset.in_service_on <= self.in_service_to)
        return out


def get_asset(session: Session, asset_id: int) -> Asset | None:
    return session.get(Asset, asset_id)


def asset_id_by_tag(session: Session, tag: str) -> int | None:
    return session.scalar(select(Asset.id).where(Asset.tag == tag))


def list_assets(
    session: Session, flt: AssetFilter, *, limit: int, after: int | None
) -> tuple[Sequence[Asset], int]:
    clauses = flt.clauses()
    total = session.scalar(select(func.count()).select_from(Asset).where(*clauses)) or 0
    stmt = select(Asset).where(*clauses).order_by(Asset.id).limit(limit + 1)
    if after is not None:
        stmt = stmt.where(Asset.id > after)
    return session.scalars(stmt).all(), total


def existing_tags(session: Session, tags: set[str]) -> set[str]:
    return present(session, Asset.tag, tags)


def insert_assets(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert in chunks, each row audited; the caller's transaction makes it all-or-nothing."""
    for i in range(0, len(rows), 1000):
        chunk = [dict(r, revision=1) for r in rows[i : i + 1000]]
        ids = session.scalars(
            insert(Asset).returning(Asset.id, sort_by_parameter_order=True), chunk
        ).all()
        audit.record_bulk(
            session,
            action="create",
            entity=Asset.__audit_entity__,
            items=[
                (str(ident), {"id": ident, **row}) for ident, row in zip(ids, chunk, strict=True)
            ],
        )
