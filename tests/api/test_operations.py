"""Operations: health, readiness, docs, errors for unknown routes, and the committed OpenAPI."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from service.state import resources
from tests.support import assert_problem

pytestmark = pytest.mark.anyio
OPENAPI = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


async def test_readiness_fails_when_migrations_are_pending(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    resources(app).schema_head = "9999"
    assert_problem(await client.get("/readyz"), 503)


async def test_swagger_ui_and_schema_are_served(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "GPU valuation service"


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nope"), 404)
    assert_problem(await client.post("/healthz"), 405)


def test_committed_openapi_matches_the_app(app_spec: dict[str, object]) -> None:
    committed = json.loads(OPENAPI.read_text())
    assert committed == app_spec, "openapi/openapi.json is stale: run `make openapi`"


def test_every_operation_has_an_id_a_summary_examples_and_declared_problems(
    app_spec: dict[str, object],
) -> None:
    paths = app_spec["paths"]
    assert isinstance(paths, dict)
    ids = []
    for path, ops in paths.items():
        for method, op in ops.items():
            ids.append(op["operationId"])
            assert op.get("description") or op.get("summary"), f"{method} {path}"
            problems = [r for s, r in op["responses"].items() if s[0] in "45"]
            if method != "get" or "{" in path or op.get("parameters"):
                assert problems, f"{method} {path} declares no problem responses"
            for r in problems:
                assert "application/problem+json" in r["content"], f"{method} {path}"
            body = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema", {})
            )
            ref = body.get("$ref", "")
            if ref:
                schema = app_spec["components"]["schemas"][ref.rsplit("/", 1)[1]]  # type: ignore[index]
                assert schema.get("examples"), f"{method} {path} body has no example"
    assert len(ids) == len(set(ids))


@pytest.fixture
def app_spec() -> dict[str, object]:
    from service.app import create_app

    return create_app().openapi()
