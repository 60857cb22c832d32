"""The application factory: settings in, a FastAPI app out. Nothing connects at import time."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from service import __version__, docs_ui, openapi_names, schema, ui
from service.audit.router import router as audit_router
from service.auth.deps import READ_METHODS, authorize, authorize_read
from service.auth.router import router as keys_router
from service.config import Settings
from service.db import make_engine, make_sessionmaker
from service.edge import InputGuardMiddleware
from service.errors import ServiceError
from service.finance.router import router as finance_router
from service.freshness import DataVersionTracker
from service.idempotency import IdempotencyMiddleware
from service.memo import AnswerMemoMiddleware
from service.models import load_all_models
from service.observability import Metrics, RequestContextMiddleware, configure_logging
from service.ops.router import router as ops_router
from service.registry.router import router as registry_router
from service.state import Resources, resources
from service.valuation import fleet_router as fleet_routes
from service.valuation.cache import CalibrationCache
from service.valuation.fleet_router import router as fleet_router
from service.valuation.router import router as valuation_router
from service.valuation.service import Valuer
from service.web import problems
from service.web.problems import LastResortMiddleware, Problem

log = logging.getLogger("service")

DESCRIPTION = """\
The reference service for what datacenter GPUs are worth: fair lease rates (`/quote`),
residual values (`/residual`), fleet valuations and book depreciation, over a hardware registry
of GPU models, market observations, FX rates, the precision frontier and valuation assumptions.

Errors are RFC 9457 `application/problem+json`. Lists answer `{items, next_cursor, total}`.

Writes need an API key with the `write` scope (`Authorization: Bearer gv_…` or `X-API-Key`);
use **Authorize** above. Updates and deletes need `If-Match` with the entity's `ETag`; creates
accept an `Idempotency-Key` so that a retry never writes twice.
"""

TAGS = [
    {
        "name": "valuation",
        "description": "Fair lease rates (/quote) and residual values (/residual).",
    },
    {"name": "models", "description": "The GPU model registry (specs, launch prices)."},
    {"name": "observations", "description": "Market observations: lease rates and sale prices."},
    {"name": "frontier", "description": "Which precision is the production format, from when."},
    {"name": "assumptions", "description": "Valuation defaults with units, bounds and reasons."},
    {"name": "fx", "description": "Monthly FX rates (US dollars per unit)."},
    {
        "name": "finance",
        "description": "Assets, monthly book schedules and spreadsheet-exact depreciation.",
    },
    {
        "name": "fleet",
        "description": "Fleet valuations as of a date: book beside fair value, JSON or CSV.",
    },
    {"name": "keys", "description": "API keys with scopes (admin)."},
    {"name": "audit", "description": "Who changed what, when, from what to what (admin)."},
    {"name": "operations", "description": "Liveness, readiness and metrics."},
]


#: On shutdown, how long to wait for the warm-up to finish the calibration it is computing.
WARM_JOIN_S = 10.0
#: Between two warm-up calibrations of past dates: the requests' share of the interpreter.
WARM_PAUSE_S = 0.02


def _operation_id(route: APIRoute) -> str:
    return route.name


def _resume_gc(state: Resources) -> None:
    """``gpuval serve`` pauses the garbage collector for its start-up (``service.cli``): once
    the first calibration is in, what start-up built is set aside for good (``gc.freeze``: the
    collector no longer walks it) and collection resumes."""
    if state.resume_gc:
        state.resume_gc = False
        gc.freeze()
        gc.enable()


def _warm_up(state: Resources, today: date, stop: threading.Event) -> None:
    """Start-up's background work, in order: today's calibration (the first quote's), today's
    default fleet question (the first page's), then, when ``state.warm_history``, the past
    dates the page at ``/`` asks for its quote history (``ui.history_warm_dates``), most recent
    first. Each is one calibration, kept in the bounded cache; ``stop`` (shutdown) ends the
    walk between two of them. A failure only means that a request does the work instead."""
    state.valuer.warm(state.sessions, today)
    _resume_gc(state)
    if stop.is_set() or state.shutting_down:
        return
    _warm_fleet(state, today)
    if state.warm_history:
        _warm_dates(state, ui.history_warm_dates(today), stop)


def _warm_fleet(state: Resources, today: date) -> None:
    """Today's default fleet question, valued once (``fleet_router.warm``), so the first page
    a client asks reads no register and values no age it did not need to."""
    try:
        with state.sessions() as session:
            fleet_routes.warm(session, state.valuer, today)
    except ServiceError:  # no calibration yet, or a currency without a rate: a page will say
        return
    except Exception:
        log.warning("warming the fleet's default question failed", exc_info=True)


def _warm_dates(state: Resources, days: Iterable[date], stop: threading.Event) -> None:
    for day in days:
        if stop.wait(WARM_PAUSE_S) or state.shutting_down:
            return
        try:
            with state.sessions() as session:
                state.valuer.context(session, as_of=day, known_at=None)
        except ServiceError:  # before there is enough evidence: nothing to warm
            continue
        except Exception:
            log.warning("warming the calibration of %s failed", day, exc_info=True)
            return


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    load_all_models()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            connect_timeout_s=settings.db_connect_timeout_s,
        )
        versions = DataVersionTracker(engine)
        versions.start()
        state = resources(app)
        state.engine = engine
        state.versions = versions
        state.session_factory = make_sessionmaker(engine, tracker=versions)
        state.schema_head = schema.head_revision(settings.database_url)
        state.shutting_down = False
        stop = threading.Event()
        warming = state.warm_up = None
        if settings.warm_calibration:
            warming = state.warm_up = threading.Thread(
                target=_warm_up,
                args=(state, datetime.now(UTC).date(), stop),
                name="warm-calibration",
                daemon=True,
            )
            warming.start()
        else:
            _resume_gc(state)
        try:
            yield
        finally:
            stop.set()
            state.shutting_down = True
            if warming is not None:  # at most the calibration under way
                warming.join(timeout=WARM_JOIN_S)
                state.warm_up = None
            versions.stop()
            engine.dispose()

    app = FastAPI(
        title="GPU valuation service",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        # Served from the package by docs_ui.install, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.resources = Resources(
        settings=settings, metrics=metrics, valuer=Valuer(CalibrationCache(), metrics)
    )
    problems.install(app)
    docs_ui.install(app)
    app.include_router(ui.router)
    app.include_router(ops_router)
    app.include_router(valuation_router)
    app.include_router(registry_router)
    app.include_router(finance_router)
    app.include_router(fleet_router)
    app.include_router(keys_router)
    app.include_router(audit_router)
    # Outermost last: request ids and metrics, the last resort, the input guard, the answer
    # memo, idempotency. All pure ASGI.
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(AnswerMemoMiddleware, metrics=metrics, enabled=not settings.require_read_key)
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(LastResortMiddleware, metrics=metrics)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    _declare_problem_schema(app)
    return app


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``gpuval serve --workers N``: settings and logging from
    the environment (each worker is a fresh interpreter)."""
    settings = Settings()
    configure_logging(settings.log_level, json_lines=settings.json_logs)
    app = create_app(settings)
    resources(app).warm_history = True
    return app


class GracefulServer(uvicorn.Server):
    """On the first SIGTERM/SIGINT, fail readiness and keep serving for ``drain_s`` seconds so
    that load balancers stop sending traffic; then stop accepting and let in-flight requests
    finish (uvicorn's graceful shutdown). A second signal stops at once."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, *, drain_s: float) -> None:
        super().__init__(config)
        self._app = app
        self._drain_s = drain_s
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining or self._drain_s <= 0:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        resources(self._app).shutting_down = True
        log.info("draining for %.1f s before shutdown", self._drain_s)
        threading.Timer(self._drain_s, super().handle_exit, args=(sig, frame)).start()


def _declare_open_reads(app: FastAPI, spec: dict[str, Any]) -> None:
    """Reads guarded by ``authorize`` need no key unless REQUIRE_READ_KEY is set: they declare no
    requirement, so that generated clients call them without credentials (openapi-python-client
    reads any requirement, even the optional ``{}``, as "needs an AuthenticatedClient").
    A key sent anyway is still checked."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.methods:
            continue
        guards = {d.dependency for d in route.dependencies}
        is_read = not route.methods - READ_METHODS and authorize in guards
        if not (is_read or authorize_read in guards):
            continue
        for method in route.methods:
            operation = spec["paths"].get(context.path_format, {}).get(method.lower(), {})
            operation.pop("security", None)


def _declare_problem_schema(app: FastAPI) -> None:
    """Put ``Problem`` in components/schemas so that every declared error response resolves."""
    original = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = original()
        components = spec.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        defs = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in defs.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas["Problem"] = defs
        if not resources(app).settings.require_read_key:
            _declare_open_reads(app, spec)
            openapi_names.declare_optional_security(spec)
        openapi_names.name_enums(spec)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
