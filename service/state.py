"""The application's typed state: what ``create_app`` builds and the lifespan opens.

Starlette's ``app.state`` is an untyped attribute bag; every part of the service reads its
resources through :func:`resources` instead, which returns this one typed object. What only
exists while the application runs (the database engine, its sessions, the data-version tracker)
is ``None`` before startup and after shutdown; the accessors say so with a clear error rather
than an ``AttributeError`` deep in a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import threading

    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from service.config import Settings
    from service.freshness import DataVersionTracker
    from service.observability import Metrics
    from service.valuation.service import Valuer

__all__ = ["Resources", "resources"]


@dataclass(slots=True, kw_only=True)
class Resources:
    """Settings, metrics and the valuer from creation; engine, sessions, tracker and the
    schema head from startup; ``shutting_down`` from the first termination signal.

    Two start-up choices of the server that builds the app (``gpuval serve`` sets both; an
    app from ``create_app`` alone, as in tests, leaves them off): ``warm_history``, also warm
    the calibrations of the past dates the page at ``/`` asks for, after today's; and
    ``resume_gc``, the garbage collector was paused for start-up and is to be resumed once
    today's calibration is in. ``warm_up`` is the thread doing that work, while it runs."""

    settings: Settings
    metrics: Metrics
    valuer: Valuer
    engine: Engine | None = None
    versions: DataVersionTracker | None = None
    session_factory: sessionmaker[Session] | None = None
    schema_head: str | None = None
    shutting_down: bool = False
    warm_history: bool = False
    resume_gc: bool = False
    warm_up: threading.Thread | None = None

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self.session_factory is None:
            raise RuntimeError("the application has not started: no database sessions yet")
        return self.session_factory

    @property
    def database(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("the application has not started: no database engine yet")
        return self.engine


def resources(app: Any) -> Resources:
    """The typed state of ``app`` (a FastAPI/Starlette application, or the ASGI scope's)."""
    found = getattr(app.state, "resources", None)
    if not isinstance(found, Resources):
        raise RuntimeError("not an application built by service.app.create_app")
    return found
