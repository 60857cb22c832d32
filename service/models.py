"""Import every ORM module so that ``Base.metadata`` knows all tables (for Alembic and tests)."""

from __future__ import annotations


def load_all_models() -> None:
    import service.db
    import service.registry.orm  # noqa: F401
