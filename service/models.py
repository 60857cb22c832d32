"""Import every ORM module so that ``Base.metadata`` knows all tables (for Alembic and tests)."""

from __future__ import annotations


def load_all_models() -> None:
    import service.audit.orm
    import service.audit.recorder
    import service.auth.orm
    import service.db
    import service.finance.orm
    import service.idempotency
    import service.registry.orm  # noqa: F401
