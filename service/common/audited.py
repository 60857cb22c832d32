"""The mixin that makes a table audited, in neutral ground: every domain package's ORM uses it,
and the audit package (``service.audit.recorder``) records the rows of the tables that do."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import inspect


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
