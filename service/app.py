"""The application factory: settings in, a FastAPI app out. Nothing connects at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute

from service import __version__, errors, schema
from service.config import Settings
from service.db import make_engine, make_sessionmaker
from service.errors import Problem
from service.ops.router import router as ops_router
from service.registry.router import router as registry_router

log = logging.getLogger("service")

DESCRIPTION = """\
The reference service for what datacenter GPUs are worth: fair lease rates (`/quote`),
residual values (`/residual`), fleet valuations and book depreciation, over a hardware registry
of GPU models, market observations, FX rates, the precision frontier and valuation assumptions.

Errors are RFC 9457 `application/problem+json`. Lists answer `{items, next_cursor, total}`.
"""

TAGS = [
    {"name": "models", "description": "The GPU model registry (specs, launch prices)."},
    {"name": "observations", "description": "Market observations: lease rates and sale prices."},
    {"name": "frontier", "description": "Which precision is the production format, from when."},
    {"name": "assumptions", "description": "Valuation defaults with units, bounds and reasons."},
    {"name": "fx", "description": "Monthly FX rates (US dollars per unit)."},
    {"name": "operations", "description": "Liveness and readiness."},
]


def _operation_id(route: APIRoute) -> str:
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            connect_timeout_s=settings.db_connect_timeout_s,
        )
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        app.state.schema_head = schema.head_revision(settings.database_url)
        app.state.shutting_down = False
        try:
            yield
        finally:
            app.state.shutting_down = True
            engine.dispose()

    app = FastAPI(
        title="GPU valuation service",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    errors.install(app)
    app.include_router(ops_router)
    app.include_router(registry_router)
    _declare_problem_schema(app)
    return app


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
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
