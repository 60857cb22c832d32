"""Text is judged at the edge, alike on SQLite and PostgreSQL (issue 12).

PostgreSQL refuses NUL in text and cannot store a lone surrogate; SQLite stores both. Every
text field, CSV cell, query parameter, path and read header refuses them (and other control
characters) with a 422 that names the field, so both databases accept exactly the same data.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from service.errors import FieldError
from service.web.problems import problem_response
from tests.support import H100_FIELDS, assert_problem, auth, snapshot

pytestmark = pytest.mark.anyio

MODEL = {**H100_FIELDS, "slug": "test-text-gpu"}
OBSERVATION: dict[str, Any] = {
    "observed_on": "2025-10-01",
    "model": "nvidia-h100-sxm5-80gb",
    "kind": "lease",
    "price": 2.5,
    "provider": "Acme",
    "region": "US",
    "source": "acme.example/pricing",
    "notes": "",
}
ASSET: dict[str, Any] = {
    "tag": "TEXT-0001",
    "model": "nvidia-h100-sxm5-80gb",
    "gpu_count": 8,
    "in_service_on": "2024-02-29",
    "acquisition_cost": 250000,
    "life_months": 60,
    "location": "DC1",
    "notes": "",
}
FRONTIER = {"precision": "fp4", "effective_from": "2025-08-05", "source": "card", "notes": ""}

# (path, body, text field): every free-text field of every JSON write.
TEXT_FIELDS = [
    *(("/models", MODEL, f) for f in ("vendor", "family", "variant", "architecture", "source")),
    ("/models", MODEL, "form_factor"),
    *(("/observations", OBSERVATION, f) for f in ("provider", "region", "source", "notes")),
    *(("/assets", ASSET, f) for f in ("tag", "location", "notes")),
    *(("/frontier", FRONTIER, f) for f in ("source", "notes")),
]
HOSTILE = {
    "nul": "a\x00b",
    "escape": "a\x1bb",
    "delete": "a\x7fb",
    "c1": "a\x85b",
    "surrogate": "a\ud800b",
}


def raw_json(payload: Any) -> bytes:
    """JSON with \\u escapes, as a hostile client sends it (httpx cannot encode a surrogate)."""
    return json.dumps(payload, ensure_ascii=True).encode()


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize(("path", "body", "field"), TEXT_FIELDS, ids=lambda v: str(v)[:12])
async def test_a_control_character_in_any_text_field_is_refused_naming_it(
    client: httpx.AsyncClient,
    engine: Engine,
    path: str,
    body: dict[str, Any],
    field: str,
    value: str,
) -> None:
    before = snapshot(engine)
    response = await client.post(
        path,
        content=raw_json({**body, field: value}),
        headers={"content-type": "application/json"},
    )
    problem = assert_problem(response, 422, f"body.{field}")
    assert "position 1" in json.dumps(problem["errors"])
    assert snapshot(engine) == before


async def test_multi_line_fields_take_tabs_and_line_breaks_and_single_line_fields_do_not(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/assets", json={**ASSET, "notes": "racked\tDC1\r\nsee ticket"})
    assert created.status_code == 201, created.text
    assert created.json()["notes"] == "racked\tDC1\r\nsee ticket"
    assert_problem(
        await client.post("/assets", json={**ASSET, "tag": "T2", "location": "DC1\nDC2"}),
        422,
        "body.location",
    )


async def test_other_writes_refuse_nul_too(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient, engine: Engine
) -> None:
    before = snapshot(engine)
    assert_problem(
        await admin_client.post("/keys", json={"name": "a\x00", "scopes": ["read"]}),
        422,
        "body.name",
    )
    assert_problem(
        await client.put(
            "/assumptions", json={"values": {"util\x00": 0.5}}, headers={"If-Match": "*"}
        ),
        422,
        "body.values",
    )
    assert_problem(
        await client.put(
            "/assumptions/utilisation",
            json={"value": 0.8, "reason": "a\x00"},
            headers={"If-Match": "*"},
        ),
        422,
        "body.reason",
    )
    assert snapshot(engine) == before


async def test_a_key_with_a_lone_surrogate_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/observations/import",
        content=raw_json([{**OBSERVATION, "\ud800": 1}]),
        headers={"content-type": "application/json"},
    )
    assert assert_problem(response, 422, "row")["errors"][0]["line"] == 1


def test_a_problem_echoing_a_lone_surrogate_is_still_a_valid_answer() -> None:
    """Problems echo field names and values; one that cannot be encoded would fail the answer
    itself (a 500 on a refusal), so surrogates are shown as escapes."""
    response = problem_response(
        422, "bad \ud800", instance="/x\udcff", errors=[FieldError(field="\ud800", reason="r")]
    )
    body = json.loads(bytes(response.body))
    assert (body["detail"], body["instance"]) == ("bad \\ud800", "/x\\udcff")
    assert body["errors"] == [{"field": "\\ud800", "reason": "r"}]


@pytest.mark.parametrize(
    ("path", "header", "row", "field"),
    [
        (
            "/observations/import",
            "observed_on,model,kind,price,provider,source",
            "2025-10-01,nvidia-h100-sxm5-80gb,lease,2.5,Ac\x00me,acme.example",
            "provider",
        ),
        (
            "/observations/import",
            "observed_on,model,kind,price,provider,source",
            "2025-10-01,nvidia-h100-sxm5-80gb,lease,2.5,Acme,acme\x00.example",
            "source",
        ),
        (
            "/assets/import",
            "tag,model,gpu_count,in_service_on,acquisition_cost,life_months,location,notes",
            "T\x00,nvidia-h100-sxm5-80gb,8,2024-02-29,1000,60,DC1,",
            "tag",
        ),
        (
            "/assets/import",
            "tag,model,gpu_count,in_service_on,acquisition_cost,life_months,location,notes",
            "T1,nvidia-h100-sxm5-80gb,8,2024-02-29,1000,60,D\x00C1,",
            "location",
        ),
        (
            "/assets/import",
            "tag,model,gpu_count,in_service_on,acquisition_cost,life_months,location,notes",
            "T1,nvidia-h100-sxm5-80gb,8,2024-02-29,1000,60,DC1,n\x00",
            "notes",
        ),
    ],
    ids=["obs-provider", "obs-source", "asset-tag", "asset-location", "asset-notes"],
)
async def test_a_nul_in_a_csv_cell_is_refused_naming_field_and_line(
    client: httpx.AsyncClient, engine: Engine, path: str, header: str, row: str, field: str
) -> None:
    before = snapshot(engine)
    good = row.replace("\x00", "")
    body = "\n".join([header, good.replace("T1", "T0"), row]) + "\n"
    response = await client.post(path, content=body, headers={"content-type": "text/csv"})
    problem = assert_problem(response, 422, field)
    assert [e["line"] for e in problem["errors"]] == [3]
    assert snapshot(engine) == before


async def test_a_nul_in_a_json_import_is_refused_naming_field_and_item(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    before = snapshot(engine)
    items = [OBSERVATION, {**OBSERVATION, "notes": "x\x00"}]
    response = await client.post(
        "/observations/import",
        content=raw_json(items),
        headers={"content-type": "application/json"},
    )
    problem = assert_problem(response, 422, "notes")
    assert [e["line"] for e in problem["errors"]] == [2]
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/models?q=%00", "query.q"),
        ("/models?vendor=a%1Fb", "query.vendor"),
        ("/observations?provider=%00", "query.provider"),
        ("/assets?location=%00", "query.location"),
        ("/assets?tag=%ED%A0%80", "query.tag"),  # a surrogate, UTF-8 encoded: not UTF-8
        ("/audit?entity=%00", "query.entity"),
        ("/models?q=%FF", "query.q"),  # Latin-1, not UTF-8
        ("/models?undeclared=%00", "query.undeclared"),
        ("/quote?model=nvidia-h100-sxm5-80gb&as_of=2025-01-01%00", "query.as_of"),
        ("/assumptions/util%00isation", "path"),
        ("/models/%C0%AF", "path"),
    ],
)
async def test_a_nul_or_bad_encoding_in_a_url_is_refused_naming_it(
    admin_client: httpx.AsyncClient, url: str, field: str
) -> None:
    assert_problem(await admin_client.get(url), 422, field)


@pytest.mark.parametrize(
    "header", ["Idempotency-Key", "If-Match", "X-Request-ID", "X-API-Key", "Content-Type"]
)
@pytest.mark.parametrize("value", [b"k\x00", b"k\x01", b"k\xff", b"\xc3\xa9t\xc3\xa9"])
async def test_headers_the_service_reads_must_be_printable_ascii(
    anon_client: httpx.AsyncClient, engine: Engine, header: str, value: bytes
) -> None:
    before = snapshot(engine)
    headers = {k.encode(): v.encode() for k, v in auth("write").items()} | {header.encode(): value}
    if header != "Content-Type":
        headers[b"Content-Type"] = b"application/json"
    response = await anon_client.post(
        "/observations", content=raw_json(OBSERVATION), headers=headers
    )
    assert_problem(response, 422, f"header.{header.lower()}")
    assert snapshot(engine) == before


LATIN_1 = json.dumps({**OBSERVATION, "notes": "café"}, ensure_ascii=False).encode("latin-1")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (json.dumps(OBSERVATION).encode("utf-16"), "application/json"),
        (json.dumps(OBSERVATION).encode("utf-16-le"), "application/json"),
        (json.dumps(OBSERVATION).encode("utf-32"), "application/json"),
        (LATIN_1, "application/json"),
        (LATIN_1, ""),
        (json.dumps(OBSERVATION).encode("utf-16-le"), "application/merge-patch+json"),
    ],
    ids=["utf-16", "utf-16-no-bom", "utf-32", "latin-1", "latin-1-no-type", "utf-16-plus-json"],
)
async def test_a_body_that_is_not_utf8_is_refused(
    client: httpx.AsyncClient, engine: Engine, content: bytes, content_type: str
) -> None:
    before = snapshot(engine)
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/observations", content=content, headers=headers)
    assert_problem(response, 422, "body")
    assert snapshot(engine) == before


@pytest.mark.parametrize("encoding", ["utf-16", "latin-1"])
async def test_an_import_that_is_not_utf8_is_refused_naming_the_line(
    client: httpx.AsyncClient, engine: Engine, encoding: str
) -> None:
    before = snapshot(engine)
    csv_text = "tag,model,gpu_count,in_service_on,acquisition_cost,life_months,location\n"
    csv_text += "T1,nvidia-h100-sxm5-80gb,8,2024-02-29,1000,60,Zürich\n"
    response = await client.post(
        "/assets/import", content=csv_text.encode(encoding), headers={"content-type": "text/csv"}
    )
    problem = assert_problem(response, 422, "body")
    assert problem["errors"][0]["line"] == (1 if encoding == "utf-16" else 2)
    assert snapshot(engine) == before
