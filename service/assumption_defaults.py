"""A data step of migrations: move assumption rows that are still as the seed wrote them to
new defaults, and back.

``gpuval seed`` only inserts missing assumptions, so a database seeded before a release that
changed a default keeps the old value and reason. A migration that changes defaults lists them
(:class:`Change`) and calls :func:`upgrade` / :func:`downgrade` here:

- a row counts as the seed's when nobody has written it since it was seeded (revision 1) or
  since a migration of defaults last moved it (its latest audit entry is by such a migration):
  a row an admin has changed (``PUT /assumptions``) is the admin's and is kept as it is;
- each move is recorded in the audit log (the migration as actor, the row before and after)
  and bumps the data version once, so cached calibrations are rebuilt;
- a value outside the row's own bounds is never written;
- the downgrade puts back the ``before`` of the migration's audit entry on rows no admin has
  written since that still hold what the migration wrote.

Each migration writes its values out itself, not importing them from the engine, so that the
step keeps doing the same thing after later releases change the defaults again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

__all__ = ["MIGRATION", "Change", "downgrade", "upgrade"]

#: How the audit log names a migration as the actor (``migration 0004``).
MIGRATION = "migration "


class Change(NamedTuple):
    name: str
    old_default: float  # the default before, for the record
    new: tuple[float, str]  # (new default, new reason)
    bounds: tuple[float, float, str]  # (minimum, maximum, unit), unchanged


_assumptions = sa.table(
    "assumptions",
    sa.column("name", sa.String),
    sa.column("value", sa.Float),
    sa.column("unit", sa.String),
    sa.column("minimum", sa.Float),
    sa.column("maximum", sa.Float),
    sa.column("reason", sa.Text),
    sa.column("revision", sa.Integer),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_audit_log = sa.table(
    "audit_log",
    sa.column("id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor_key_id", sa.Integer),
    sa.column("actor", sa.String),
    sa.column("request_id", sa.String),
    sa.column("action", sa.String),
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("before", sa.JSON),
    sa.column("after", sa.JSON),
)
_data_version = sa.table(
    "data_version",
    sa.column("id", sa.Integer),
    sa.column("version", sa.Integer),
    sa.column("changed_at", sa.DateTime(timezone=True)),
)


def _snapshot(row: sa.Row[Any]) -> dict[str, Any]:
    values = dict(row._mapping)
    at = values.get("updated_at")
    if isinstance(at, datetime):
        values["updated_at"] = at.isoformat()
    return values


def _row(connection: sa.Connection, name: str) -> sa.Row[Any] | None:
    return connection.execute(sa.select(_assumptions).where(_assumptions.c.name == name)).first()


def _latest_entry_by(
    connection: sa.Connection, name: str, actors: Sequence[str]
) -> sa.Row[Any] | None:
    """The row's latest audit entry, if one of ``actors`` wrote it."""
    latest = connection.execute(
        sa.select(_audit_log)
        .where(_audit_log.c.entity == "assumption", _audit_log.c.entity_id == name)
        .order_by(_audit_log.c.id.desc())
        .limit(1)
    ).first()
    return latest if latest is not None and latest.actor in actors else None


def _set(
    connection: sa.Connection,
    row: sa.Row[Any],
    value: float,
    reason: str,
    now: datetime,
    actor: str,
) -> None:
    connection.execute(
        sa.update(_assumptions)
        .where(_assumptions.c.name == row.name)
        .values(value=value, reason=reason, revision=row.revision + 1, updated_at=now)
    )
    after = _row(connection, row.name)
    assert after is not None
    connection.execute(
        sa.insert(_audit_log).values(
            at=now,
            actor_key_id=None,
            actor=actor,
            request_id=None,
            action="update",
            entity="assumption",
            entity_id=row.name,
            before=_snapshot(row),
            after=_snapshot(after),
        )
    )


def _bump(connection: sa.Connection, now: datetime) -> None:
    connection.execute(
        sa.update(_data_version)
        .where(_data_version.c.id == 1)
        .values(version=_data_version.c.version + 1, changed_at=now)
    )


def upgrade(
    connection: sa.Connection,
    changes: Sequence[Change],
    actor: str,
    earlier: Sequence[str] = (),
) -> None:
    """Move the seed's rows (see module doc) to ``changes``' new defaults, as ``actor``;
    ``earlier``: the actors of earlier migrations of defaults (their rows are the seed's too)."""
    now = datetime.now(UTC)
    changed = 0
    for change in changes:
        row = _row(connection, change.name)
        if row is None:
            continue  # never seeded: ``gpuval seed`` inserts the current default
        as_seeded = row.revision == 1 or _latest_entry_by(
            connection, change.name, (actor, *earlier)
        )
        value, reason = change.new
        if not as_seeded or (row.value, row.reason) == (value, reason):
            continue  # an admin's row, or already moved
        if not row.minimum <= value <= row.maximum:
            continue  # never leave a row outside its own bounds
        _set(connection, row, value, reason, now, actor)
        changed += 1
    if changed:
        _bump(connection, now)


def _undoable_entry(connection: sa.Connection, name: str, actor: str) -> sa.Row[Any] | None:
    """``actor``'s latest audit entry of the row, if only migrations wrote the row since and it
    still holds what ``actor`` wrote (a later migration may have moved it and put it back)."""
    entries = connection.execute(
        sa.select(_audit_log)
        .where(_audit_log.c.entity == "assumption", _audit_log.c.entity_id == name)
        .order_by(_audit_log.c.id.desc())
    ).all()
    for entry in entries:
        if entry.actor == actor:
            return entry
        if not str(entry.actor).startswith(MIGRATION):
            return None  # an admin wrote the row since
    return None


def downgrade(connection: sa.Connection, changes: Sequence[Change], actor: str) -> None:
    """Put back what ``actor`` moved, on rows nobody but migrations has written since that
    still hold what ``actor`` wrote."""
    now = datetime.now(UTC)
    changed = 0
    for change in changes:
        row = _row(connection, change.name)
        entry = _undoable_entry(connection, change.name, actor)
        if row is None or entry is None:
            continue  # not moved by this migration, or changed since
        after, before = entry.after, entry.before
        if (row.value, row.reason) != (after["value"], after["reason"]):
            continue
        _set(connection, row, float(before["value"]), str(before["reason"]), now, actor)
        changed += 1
    if changed:
        _bump(connection, now)
