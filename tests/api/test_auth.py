"""API keys: every write operation of the OpenAPI needs a key with the right scope.

The operations are read from the app's own OpenAPI, so a route added later is covered without
touching this file.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from service.app import create_app
from service.auth.keys import digest
from service.auth.orm import ApiKey
from service.config import Settings
from tests import support
from tests.support import KEYS, assert_problem, make_client

pytestmark = pytest.mark.anyio

SPEC: dict[str, Any] = create_app().openapi()
# With REQUIRE_READ_KEY every guarded read declares its key; open reads then declare none.
STRICT_SPEC: dict[str, Any] = create_app(Settings(require_read_key=True)).openapi()
WRITE_METHODS = ("post", "put", "patch", "delete")
ADMIN_PREFIXES = ("/keys", "/audit")
UNKNOWN_KEY = "gv_deadbeef_" + "x" * 43


def operations(methods: tuple[str, ...]) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, ops in SPEC["paths"].items()
        for method in ops
        if method in methods
    ]


# POST /quote computes and changes nothing: it follows the rules of reads.
COMPUTATIONS = [("POST", "/quote")]
WRITES = [op for op in operations(WRITE_METHODS) if op not in COMPUTATIONS]
ADMIN_WRITES = [(m, p) for m, p in WRITES if p.startswith(ADMIN_PREFIXES)]
NON_ADMIN_WRITES = [(m, p) for m, p in WRITES if not p.startswith(ADMIN_PREFIXES)]
SECURED_READS = [
    (m, p) for m, p in operations(("get",)) if STRICT_SPEC["paths"][p]["get"].get("security")
]
ADMIN_READS = [(m, p) for m, p in SECURED_READS if p.startswith(ADMIN_PREFIXES)]
OPEN_READS = [(m, p) for m, p in SECURED_READS if not p.startswith(ADMIN_PREFIXES)]


def ids(ops: list[tuple[str, str]]) -> list[str]:
    return [f"{m} {p}" for m, p in ops]


def _example(schema: dict[str, Any]) -> Any:
    if "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:
        return _example(schema["anyOf"][0])
    if schema.get("examples"):
        return schema["examples"][0]
    return [] if schema.get("type") == "array" else {}


def request_for(method: str, path: str, **headers: str) -> dict[str, Any]:
    """A realistic request: path parameters and the JSON body from the OpenAPI examples."""
    op = SPEC["paths"][path][method.lower()]
    url = path
    for param in op.get("parameters", []):
        if param["in"] == "path":
            value = (param["schema"].get("examples") or [1])[0]
            url = url.replace("{" + param["name"] + "}", str(value))
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "headers": {"If-Match": "*", **headers},
    }
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        request["json"] = _example(content["application/json"]["schema"])
    return request


def test_the_openapi_has_write_operations_of_every_kind() -> None:
    assert {m for m, _ in WRITES} == {"POST", "PUT", "PATCH", "DELETE"}
    assert ("POST", "/keys") in ADMIN_WRITES and ("DELETE", "/keys/{key_id}") in ADMIN_WRITES
    assert ("POST", "/observations/import") in NON_ADMIN_WRITES
    assert ("GET", "/audit") in ADMIN_READS and ("GET", "/models") in OPEN_READS


@pytest.mark.parametrize(("method", "path"), WRITES, ids=ids(WRITES))
async def test_without_a_key_every_write_is_401(
    anon_client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await anon_client.request(**request_for(method, path))
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), WRITES, ids=ids(WRITES))
async def test_with_a_read_only_key_every_write_is_403(
    app: FastAPI, method: str, path: str
) -> None:
    async with make_client(app, "read") as reader:
        assert_problem(await reader.request(**request_for(method, path)), 403)


@pytest.mark.parametrize(("method", "path"), WRITES, ids=ids(WRITES))
@pytest.mark.parametrize("key", [UNKNOWN_KEY, "not-even-a-key"], ids=["unknown", "malformed"])
async def test_with_an_unknown_key_every_write_is_401(
    anon_client: httpx.AsyncClient, method: str, path: str, key: str
) -> None:
    response = await anon_client.request(**request_for(method, path, Authorization=f"Bearer {key}"))
    assert_problem(response, 401)
    assert "www-authenticate" in response.headers


@pytest.mark.parametrize(("method", "path"), NON_ADMIN_WRITES, ids=ids(NON_ADMIN_WRITES))
async def test_with_a_write_key_every_write_gets_past_authorisation(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(**request_for(method, path))
    assert response.status_code not in (401, 403), response.text
    assert response.status_code < 500, response.text


async def test_with_a_write_key_the_example_writes_succeed(client: httpx.AsyncClient) -> None:
    """Not only "not refused": the documented examples are written."""
    succeeded = set()
    for method, path in NON_ADMIN_WRITES:
        response = await client.request(**request_for(method, path))
        if response.is_success:
            succeeded.add(f"{method} {path}")
    assert {"POST /observations", "PATCH /models/{slug}", "PUT /assumptions/{name}"} <= succeeded


@pytest.mark.parametrize(
    ("method", "path"), ADMIN_WRITES + ADMIN_READS, ids=ids(ADMIN_WRITES + ADMIN_READS)
)
async def test_keys_and_audit_need_the_admin_scope(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient, method: str, path: str
) -> None:
    request = request_for(method, path)
    assert_problem(await client.request(**request), 403)
    response = await admin_client.request(**request)
    assert response.status_code not in (401, 403) and response.status_code < 500, response.text


async def test_a_revoked_key_is_refused_on_every_write(
    admin_client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    created = await admin_client.post("/keys", json={"name": "soon-revoked", "scopes": ["admin"]})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    revoked = await admin_client.delete(f"/keys/{created.json()['id']}")
    assert revoked.status_code == 204
    for method, path in WRITES:
        bearer = request_for(method, path, Authorization=f"Bearer {key}")
        response = await anon_client.request(**bearer)
        assert_problem(response, 401)
        assert "revoked" in response.json()["detail"], f"{method} {path}"


async def test_the_x_api_key_header_works_like_bearer(anon_client: httpx.AsyncClient) -> None:
    for key, status in ((KEYS["write"], 201), (KEYS["read"], 403), (UNKNOWN_KEY, 401)):
        response = await anon_client.request(
            **request_for("POST", "/observations", **{"X-API-Key": key})
        )
        assert response.status_code == status, response.text
    listed = await anon_client.get("/keys", headers={"X-API-Key": KEYS["admin"]})
    assert listed.status_code == 200


async def test_post_quote_is_a_read(anon_client: httpx.AsyncClient, db_url: str) -> None:
    body = {"model": "nvidia-h100-sxm5-80gb", "term": "1y", "as_of": "2025-06-01"}
    assert (await anon_client.post("/quote", json=body)).status_code == 200
    closed = create_app(support.settings_for(db_url, require_read_key=True))
    async with closed.router.lifespan_context(closed), make_client(closed, None) as anon:
        assert_problem(await anon.post("/quote", json=body), 401)
    async with closed.router.lifespan_context(closed), make_client(closed, "read") as reader:
        assert (await reader.post("/quote", json=body)).status_code == 200


async def test_reads_are_open_by_default(anon_client: httpx.AsyncClient) -> None:
    assert (await anon_client.get("/models")).status_code == 200
    assert (await anon_client.get("/models/nvidia-h100-sxm5-80gb")).status_code == 200
    assert_problem(await anon_client.get("/audit"), 401)
    assert_problem(await anon_client.get("/keys"), 401)


@pytest.fixture
async def closed_app(db_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(support.settings_for(db_url, require_read_key=True))
    async with app.router.lifespan_context(app):
        yield app


@pytest.mark.parametrize(("method", "path"), OPEN_READS, ids=ids(OPEN_READS))
async def test_require_read_key_closes_every_read(
    closed_app: FastAPI, method: str, path: str
) -> None:
    request = request_for(method, path)
    async with make_client(closed_app, None) as anonymous:
        response = await anonymous.request(**request)
        assert_problem(response, 401)
        assert "www-authenticate" in response.headers
    async with make_client(closed_app, "read") as reader:
        response = await reader.request(**request)
        assert response.status_code not in (401, 403) and response.status_code < 500


async def test_require_read_key_lets_a_read_key_list_and_keeps_probes_open(
    closed_app: FastAPI,
) -> None:
    async with make_client(closed_app, "read") as reader:
        for path in ("/models", "/observations", "/assumptions", "/frontier", "/fx", "/assets"):
            assert (await reader.get(path)).status_code == 200, path
        assert_problem(await reader.get("/audit"), 403)
    async with make_client(closed_app, None) as anonymous:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await anonymous.get(path)).status_code == 200, path


async def test_the_database_holds_no_plaintext_key(
    admin_client: httpx.AsyncClient, session: Session
) -> None:
    created = await admin_client.post("/keys", json={"name": "scan-me", "scopes": ["read"]})
    keys = [*KEYS.values(), created.json()["key"]]
    rows = session.scalars(select(ApiKey)).all()
    assert len(rows) == len(keys)
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", row.key_hash)
    for table in ("api_keys", "audit_log"):
        dump = repr(session.execute(text(f"SELECT * FROM {table}")).all())
        for key in keys:
            assert key not in dump, f"a plaintext key is stored in {table}"
            assert key.split("_", 2)[2] not in dump, f"a key's secret part is stored in {table}"
    hashes = {row.key_hash for row in rows}
    assert {digest(support.TEST_SECRET.encode(), key) for key in keys} == hashes
    assert "key_hash" not in repr(session.execute(text("SELECT after FROM audit_log")).all())


async def test_post_keys_returns_the_key_once_and_it_works_at_once(
    admin_client: httpx.AsyncClient, anon_client: httpx.AsyncClient
) -> None:
    created = await admin_client.post("/keys", json={"name": "billing", "scopes": ["write"]})
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    key = body["key"]
    assert key.startswith(f"gv_{body['prefix']}_") and body["scopes"] == "write"
    assert created.headers["location"] == f"/keys/{body['id']}"

    listed = await admin_client.get("/keys")
    assert key not in listed.text and key.split("_", 2)[2] not in listed.text
    assert all("key" not in item for item in listed.json()["items"])
    assert body["prefix"] in {item["prefix"] for item in listed.json()["items"]}

    bearer = {"Authorization": f"Bearer {key}"}
    works = await anon_client.request(**request_for("POST", "/observations", **bearer))
    assert works.status_code == 201, works.text

    assert (await admin_client.delete(f"/keys/{body['id']}")).status_code == 204
    refused = await anon_client.request(**request_for("POST", "/observations", **bearer))
    assert_problem(refused, 401)
    again = await admin_client.delete(f"/keys/{body['id']}")
    assert_problem(again, 409)
    revoked = [
        i for i in (await admin_client.get("/keys")).json()["items"] if i["id"] == body["id"]
    ]
    assert revoked[0]["revoked_at"] is not None


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": ["root"]},
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["read"]},
        {"name": "x", "scopes": ["read"], "key": "gv_chosen_by_caller"},
    ],
)
async def test_bad_key_requests_are_422(
    admin_client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    assert_problem(await admin_client.post("/keys", json=body), 422)


def test_security_schemes_are_declared_so_swagger_can_authorize() -> None:
    schemes = SPEC["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "apiKey", "in": "header"}
    assert schemes["apiKey"]["name"] == "X-API-Key"
    for method, path in WRITES + ADMIN_READS:
        op = SPEC["paths"][path][method.lower()]
        assert op["security"] == [{"bearer": []}, {"apiKey": []}], f"{method} {path}"
        assert {"401", "403"} <= set(op["responses"]), f"{method} {path}"
    for method, path in OPEN_READS:
        # No requirement: generated clients call open reads without a key.
        assert "security" not in SPEC["paths"][path][method.lower()], f"{method} {path}"


def test_with_require_read_key_the_openapi_makes_keys_mandatory_for_reads(db_url: str) -> None:
    spec = create_app(support.settings_for(db_url, require_read_key=True)).openapi()
    for method, path in OPEN_READS:
        assert spec["paths"][path][method.lower()]["security"] == [
            {"bearer": []},
            {"apiKey": []},
        ], f"{method} {path}"


async def test_swagger_ui_offers_authorize(anon_client: httpx.AsyncClient) -> None:
    spec = (await anon_client.get("/openapi.json")).json()
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    assert "swagger-ui" in (await anon_client.get("/docs")).text
