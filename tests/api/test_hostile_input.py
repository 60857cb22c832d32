"""The standing hostile-input suite: every operation of the OpenAPI, every parameter, malformed.

Operations are read from ``app.openapi()``, so a new operation is covered the day it is added.
Each parameter gets the malformed values of its type (NUL and control characters, lone
surrogates and wrong encodings, oversized strings, absurd numbers, dates at the calendar's ends,
tampered cursors and ETags), each body its malformed fields, encodings and content types. Every
case must be a 4xx problem+json naming what it refused, and nothing may be written. Runs on
SQLite and PostgreSQL alike (issue 12).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from service.app import create_app
from tests.support import snapshot

pytestmark = pytest.mark.anyio

SPEC: dict[str, Any] = create_app().openapi()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
OPERATIONS = [
    (method.upper(), path, op)
    for path, ops in SPEC["paths"].items()
    for method, op in ops.items()
    if method in ("get", "post", "put", "patch", "delete")
]


REFUSED = frozenset({400, 413, 414, 415, 422})
RAW = "__raw__"  # a body value written into the JSON text as is (NaN, 1e400, huge integers)

BASELINE_PATH = {
    "slug": "nvidia-h100-sxm5-80gb",
    "name": "utilisation",
    "observation_id": "1",
    "asset_id": "1",
    "key_id": "1",
}


ASSET = {
    "tag": "HOSTILE-1",
    "model": "nvidia-h100-sxm5-80gb",
    "gpu_count": 8,
    "in_service_on": "2024-02-29",
    "acquisition_cost": 250000,
    "life_months": 60,
}


@dataclass
class Case:
    """One hostile request: a change to a valid-looking baseline, and what must come back."""

    label: str
    statuses: frozenset[int] = REFUSED
    names: tuple[str, ...] = ()  # a 422 must name one of these (substring of a field)
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)  # raw, already percent-encoded
    headers: dict[str, bytes] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str | None = None


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema itself: references followed, ``X | None`` unwrapped."""
    if "$ref" in schema:
        return resolve(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return resolve(options[0]) if options else schema


def enc(text: str) -> str:
    return quote(text, safe="")


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


TAMPERED_CURSORS = {
    "not-base64": "!!!!",
    "not-json": cursor("{{{"),
    "an-object": cursor('{"id": 1}'),
    "wrong-arity": cursor("[1, 2, 3, 4, 5]"),
    "a-float": cursor("[1e308]"),
    "infinite": cursor('["2025-01-01", 1e400]'),
    "huge-id": cursor(f"[{10**30}]"),
    "negative-id": cursor("[-1]"),
    "nested": cursor("[[[[1]]]]"),
    "nul": cursor('["\\u0000"]'),
}


def text_values(schema: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(label, percent-encoded value) refused by any text parameter."""
    yield "nul", "%00"
    yield "escape", "a%1Bb"
    yield "c1-control", "a%C2%85b"
    yield "surrogate", "%ED%A0%80"
    yield "latin-1", "caf%E9"
    if "maxLength" in schema:
        yield "one-too-long", "x" * (schema["maxLength"] + 1)


def number_values(schema: dict[str, Any]) -> Iterator[tuple[str, str]]:
    yield "1e308", "1e308"
    yield "nan", "NaN"
    yield "infinity", "Infinity"
    yield "-infinity", "-Infinity"
    yield "huge-integer", "1" + "0" * 400
    yield "text", "one"
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    if low is not None and (low > 0 or "exclusiveMinimum" in schema):
        yield "minus-zero", "-0"
    if schema.get("type") == "integer":
        yield "fraction", "1.5"


def date_values(schema: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if schema.get("format") == "date":
        yield "first-day", "0001-01-01"
        yield "last-day", "9999-12-31"
        yield "no-such-day", "2025-02-30"
    else:
        yield "first-instant", enc("0001-01-01T00:00:00+01:00")
        yield "last-instant", enc("9999-12-31T23:59:59-14:00")
        yield "year-zero", enc("0000-01-01T00:00:00Z")


def query_cases(path: str, param: dict[str, Any]) -> Iterator[Case]:
    name, schema = param["name"], resolve(param["schema"])
    kind, fmt = schema.get("type"), schema.get("format")
    values: list[tuple[str, str]] = list(text_values(schema))
    if kind in ("integer", "number"):
        values += number_values(schema)
    elif kind == "boolean":
        values += [("maybe", "maybe"), ("two", "2")]
    elif fmt in ("date", "date-time"):
        values += date_values(schema)
    elif "enum" in schema or "const" in schema:
        values.append(("not-an-option", "not-an-option"))
    if name == "cursor":
        values += TAMPERED_CURSORS.items()
    for label, value in values:
        yield Case(f"query {name}={label}", names=(f"query.{name}",), query={name: value})
    yield Case(f"query {name}=10k", statuses=frozenset({414}), query={name: "x" * 10_000})


def path_cases(param: dict[str, Any]) -> Iterator[Case]:
    name, schema = param["name"], resolve(param["schema"])
    values = [("nul", "%00"), ("surrogate", "%ED%A0%80"), ("long", "x" * 300)]
    if schema.get("type") == "integer":
        values += [("zero", "0"), ("minus-zero", "-0"), ("huge", "9" * 30), ("nan", "NaN")]
    for label, value in values:
        yield Case(
            f"path {name}={label}",
            statuses=REFUSED | {404, 405},
            names=("path",),
            path={name: value},
        )


def raw_json(body: Any, raw: str | None = None) -> bytes:
    text = json.dumps(body, ensure_ascii=True, allow_nan=True)
    return (text.replace(json.dumps(RAW), raw) if raw is not None else text).encode()


def body_example(op: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The JSON body's schema and its documented example (or {})."""
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content or "text/csv" in content:
        return None
    schema = resolve(content["application/json"]["schema"])
    return schema, dict((schema.get("examples") or [{}])[0])


def body_field_cases(path: str, schema: dict[str, Any], base: dict[str, Any]) -> Iterator[Case]:
    for prop, sub in schema.get("properties", {}).items():
        sub = resolve(sub)
        kind, fmt = sub.get("type"), sub.get("format")
        values: list[tuple[str, Any, str | None]] = []
        if kind == "string" and fmt is None:
            values += [("nul", "a\x00b", None), ("escape", "a\x1bb", None)]
            if "maxLength" in sub:
                values.append(("one-too-long", "x" * (sub["maxLength"] + 1), None))
            if "enum" not in sub and "pattern" not in sub:
                values.append(("surrogate", "a\ud800b", None))
        elif kind in ("integer", "number"):
            values += [
                ("1e308", 1e308, None),
                ("nan", RAW, "NaN"),
                ("infinity", RAW, "Infinity"),
                ("1e400", RAW, "1e400"),
                ("huge-integer", RAW, "1" + "0" * 400),
                ("text", "one", None),
            ]
            low = sub.get("minimum", sub.get("exclusiveMinimum"))
            if low is not None and (low > 0 or "exclusiveMinimum" in sub):
                values.append(("minus-zero", RAW, "-0.0"))
        elif kind == "boolean":
            values += [("maybe", "maybe", None), ("two", 2, None)]
        elif fmt in ("date", "date-time"):
            edges = (
                ["0001-01-01", "9999-12-31"]
                if fmt == "date"
                else [
                    "0001-01-01T00:00:00+01:00",
                    "9999-12-31T23:59:59-14:00",
                ]
            )
            values += [(f"edge-{v[:4]}", v, None) for v in edges]
        elif kind == "string":
            values.append(("nul", "a\x00b", None))
        for label, value, raw in values:
            # A lone surrogate may be refused with the whole body (the JSON decoder's refusal).
            names = (prop, "body") if label == "surrogate" else (prop,)
            yield Case(
                f"body {prop}={label}",
                names=names,
                body=raw_json({**base, prop: value}, raw),
                content_type="application/json",
            )


def body_cases(path: str, op: dict[str, Any]) -> Iterator[Case]:
    content = op.get("requestBody", {}).get("content", {})
    if not content:
        return
    found = body_example(op)
    base = found[1] if found else [{"a": 1}]
    text = json.dumps(base, ensure_ascii=False)
    yield Case(
        "body utf-16", names=("body",), body=text.encode("utf-16"), content_type="application/json"
    )
    yield Case(
        "body utf-16 without BOM",
        names=("body",),
        body=text.encode("utf-16-le"),
        content_type="application/json",
    )
    yield Case(
        "body latin-1", names=("body",), body=b'{"x": "caf\xe9"}', content_type="application/json"
    )
    yield Case("body 5000 deep", body=b"[" * 5000 + b"]" * 5000, content_type="application/json")
    yield Case("body NaN", body=b"NaN", content_type="application/json")
    yield Case("body null", body=b"null", content_type="application/json")
    yield Case("body text/plain", body=text.encode(), content_type="text/plain")
    yield Case("body xml", body=b"<a/>", content_type="application/xml")
    yield Case("body form", body=b"a=1", content_type="application/x-www-form-urlencoded")
    if "text/csv" in content:
        yield Case(
            "csv 200k header", names=("body",), body=b"a" * 200_000 + b"\n", content_type="text/csv"
        )
        yield Case(
            "csv 150 columns", names=("body",), body=b"a," * 150 + b"\n1\n", content_type="text/csv"
        )
        yield Case(
            "csv utf-16",
            names=("body",),
            body="a,b\n1,2\n".encode("utf-16"),
            content_type="text/csv",
        )
        yield Case(
            "csv nul cell", body=b"slug,tag,source\n\x00,\x00,\x00\n", content_type="text/csv"
        )
    if found:
        yield from body_field_cases(path, *found)


def header_cases(method: str, op: dict[str, Any]) -> Iterator[Case]:
    yield Case(
        "X-Request-ID nul", names=("header.x-request-id",), headers={"X-Request-ID": b"r\x00"}
    )
    yield Case(
        "Idempotency-Key latin-1",
        names=("header.idempotency-key",),
        headers={"Idempotency-Key": b"caf\xe9"},
    )
    yield Case(
        "Authorization control",
        names=("header.authorization",),
        headers={"Authorization": b"Bearer \x01"},
    )
    declared = {p["name"].lower() for p in op.get("parameters", []) if p["in"] == "header"}
    if "if-match" in declared:
        yield Case("If-Match tampered", statuses=frozenset({412}), headers={"If-Match": b'"x"'})
        yield Case("If-Match weak", statuses=frozenset({412}), headers={"If-Match": b'W/"1"'})
        yield Case("If-Match latin-1", names=("header.if-match",), headers={"If-Match": b"\xe9"})


def cases_for(method: str, path: str, op: dict[str, Any]) -> list[Case]:
    params = op.get("parameters", [])
    out: list[Case] = []
    for param in params:
        if param["in"] == "query":
            out += query_cases(path, param)
        elif param["in"] == "path":
            out += path_cases(param)
    out += body_cases(path, op)
    out += header_cases(method, op)
    return out


def baseline(method: str, path: str, op: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """Path and required query parameters a real caller would send."""
    query = {}
    for param in op.get("parameters", []):
        if param["in"] == "query" and param.get("required"):
            schema = resolve(param["schema"])
            example = (param.get("examples") or schema.get("examples") or [None])[0]
            query[param["name"]] = str(example or (schema.get("enum") or ["1000"])[0])
    return BASELINE_PATH, query


async def send(
    client: httpx.AsyncClient, method: str, path: str, op: dict[str, Any], case: Case
) -> httpx.Response:
    path_params, query = baseline(method, path, op)
    url = path
    for name, value in {**path_params, **case.path}.items():
        url = url.replace("{" + name + "}", value if name in case.path else enc(value))
    query = {**{k: enc(v) for k, v in query.items()}, **case.query}
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    headers: dict[str, bytes] = {}
    if method in ("PUT", "PATCH", "DELETE"):
        headers["If-Match"] = b"*"
    body = case.body
    if body is None and op.get("requestBody"):
        found = body_example(op)
        body = raw_json(found[1] if found else [{"slug": "x"}])
    if body is not None:
        headers["Content-Type"] = (case.content_type or "application/json").encode()
    headers.update(case.headers)
    # httpx takes str and bytes header values alike at run time; its types want one kind.
    return await client.request(method, url, content=body, headers=headers)  # type: ignore[arg-type]


def judge(case: Case, response: httpx.Response) -> str | None:
    """Why the answer to ``case`` is wrong, or None."""
    if response.status_code not in case.statuses:
        return f"{response.status_code} (expected {sorted(case.statuses)}): {response.text[:300]}"
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return f"not problem+json: {response.headers.get('content-type')}"
    problem = response.json()
    if problem.get("status") != response.status_code or not problem.get("detail"):
        return f"not a problem: {problem}"
    if response.status_code == 422 and case.names:
        named = [e["field"] for e in problem.get("errors", [])]
        if not any(n in f for n in case.names for f in named):
            return f"422 names {named}, not {case.names}"
    return None


@pytest.fixture
async def hostile_app(db_url: str) -> Any:
    from tests import support

    app: FastAPI = create_app(support.settings_for(db_url))
    async with app.router.lifespan_context(app):
        yield app


@pytest.mark.parametrize(
    ("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
async def test_every_malformed_parameter_is_refused_and_nothing_is_written(
    admin_client: httpx.AsyncClient, engine: Engine, method: str, path: str, op: dict[str, Any]
) -> None:
    cases = cases_for(method, path, op)
    assert cases, f"{method} {path}: no hostile cases (every operation takes headers)"
    if "{asset_id}" in path:  # the baseline's asset exists, so a refusal is the input's doing
        created = await admin_client.post("/assets", json=ASSET)
        assert created.json()["id"] == int(BASELINE_PATH["asset_id"]), created.text
    before = snapshot(engine)
    wrong = []
    for case in cases:
        verdict = judge(case, await send(admin_client, method, path, op, case))
        if verdict:
            wrong.append(f"{case.label}: {verdict}")
    assert not wrong, f"{method} {path}: {len(wrong)} of {len(cases)} cases\n" + "\n".join(wrong)
    assert snapshot(engine) == before


def test_the_table_covers_every_operation_and_many_cases() -> None:
    counts = {f"{m} {p}": len(cases_for(m, p, op)) for m, p, op in OPERATIONS}
    assert len(counts) == sum(len(ops) for ops in SPEC["paths"].values())
    assert all(n >= 3 for n in counts.values()), counts
    assert sum(counts.values()) > 1000, sum(counts.values())
