"""``/healthz`` says the process is alive; ``/readyz`` that it can serve (database and schema)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service import __version__, schema
from service.state import resources
from service.web.problems import problem_response, responses

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Readiness(BaseModel):
    status: Literal["ready"]
    database: Literal["ok"]
    schema_revision: str


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (no dependency is checked)."""
    return Health(status="ok", version=__version__)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}
    },
)
def metrics(request: Request) -> PlainTextResponse:
    """Prometheus metrics: requests, latency and errors by route; quotes; calibration."""
    registry = resources(request.app).metrics.registry
    return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz", response_model=Readiness, responses=responses(503))
def readyz(request: Request) -> Readiness | JSONResponse:
    """The database answers and its schema is at the migrations' head."""
    state = resources(request.app)
    if state.shutting_down:
        return problem_response(503, "The service is shutting down.", headers={"Retry-After": "5"})
    try:
        with state.database.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = schema.current_revision(state.database)
    except SQLAlchemyError:
        return problem_response(
            503,
            "The database is unreachable.",
            kind="database-unavailable",
            headers={"Retry-After": "2"},
        )
    if current != state.schema_head:
        return problem_response(
            503,
            f"The database schema is at {current or 'nothing'}, not {state.schema_head}; "
            "run `gpuval migrate`.",
            kind="migrations-pending",
        )
    return Readiness(status="ready", database="ok", schema_revision=current or "")
