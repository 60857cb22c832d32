"""Session hooks that write audit entries for every audited change, inside the same flush."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import Session, attributes

from service.audit.orm import AuditEntry
from service.common.audited import Audited, jsonable
from service.db import utcnow


def set_actor(
    session: Session, *, key_id: int | None, name: str, request_id: str | None = None
) -> None:
    session.info["actor"] = (key_id, name, request_id)


def _actor(session: Session) -> tuple[int | None, str, str | None]:
    state = session.info.get("request_state")
    if state is not None:
        principal = getattr(state, "principal", None)
        request_id = getattr(state, "request_id", None)
        if principal is not None:
            return principal.key_id, principal.name, request_id
        return None, "anonymous", request_id
    actor: tuple[int | None, str, str | None] = session.info.get("actor", (None, "system", None))
    return actor


def _before(obj: Audited) -> dict[str, Any]:
    """Column values as loaded, before this flush's changes."""
    snapshot = obj.audit_snapshot()
    state = attributes.instance_state(obj)
    for key in snapshot:
        history = state.attrs[key].history
        if history.deleted:
            snapshot[key] = jsonable(history.deleted[0])
    return snapshot


@event.listens_for(Session, "before_flush")
def _remember_before(session: Session, _context: Any, _instances: Any) -> None:
    """Snapshot changed rows before the flush: the flush bumps the version counter in place,
    leaving no history of the old revision for ``after_flush`` to read."""
    session.info["audit_before"] = {
        id(obj): _before(obj)
        for obj in (*session.dirty, *session.deleted)
        if isinstance(obj, Audited)
    }


@event.listens_for(Session, "after_flush")
def _record(session: Session, _context: Any) -> None:
    befores: dict[int, dict[str, Any]] = session.info.pop("audit_before", {})
    rows: list[dict[str, Any]] = []
    for obj in session.new:
        if isinstance(obj, Audited):
            rows.append(_row(session, "create", obj, None, obj.audit_snapshot()))
    for obj in session.dirty:
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=False):
            before, after = befores.get(id(obj)) or _before(obj), obj.audit_snapshot()
            if before != after:
                rows.append(_row(session, "update", obj, before, after))
    for obj in session.deleted:
        if isinstance(obj, Audited):
            rows.append(_row(session, "delete", obj, befores.get(id(obj)) or _before(obj), None))
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


def _row(
    session: Session,
    action: str,
    obj: Audited,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    key_id, name, request_id = _actor(session)
    return {
        "at": utcnow(),
        "actor_key_id": key_id,
        "actor": name,
        "request_id": request_id,
        "action": action,
        "entity": obj.__audit_entity__,
        "entity_id": obj.audit_id(),
        "before": before,
        "after": after,
    }


def record_bulk(
    session: Session, *, action: str, entity: str, items: Iterable[tuple[str, dict[str, Any]]]
) -> None:
    """Audit rows written by bulk statements that bypass the unit of work (imports)."""
    key_id, name, request_id = _actor(session)
    now = utcnow()
    rows: Sequence[dict[str, Any]] = [
        {
            "at": now,
            "actor_key_id": key_id,
            "actor": name,
            "request_id": request_id,
            "action": action,
            "entity": entity,
            "entity_id": ident,
            "before": None if action == "create" else {k: jsonable(v) for k, v in values.items()},
            "after": {k: jsonable(v) for k, v in values.items()} if action == "create" else None,
        }
        for ident, values in items
    ]
    for i in range(0, len(rows), 1000):
        session.connection().execute(insert(AuditEntry), list(rows[i : i + 1000]))
