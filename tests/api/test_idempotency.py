"""``Idempotency-Key`` on creates: one row per key, the first answer replayed, never a duplicate."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from service.auth.keys import digest
from service.auth.orm import ApiKey
from service.db import utcnow
from service.idempotency import IdempotencyRecord, fingerprint_of, namespace_of
from service.registry.orm import Observation
from tests.support import KEYS, TEST_SECRET, assert_problem, make_client

pytestmark = pytest.mark.anyio

OBSERVATION: dict[str, Any] = {
    "observed_on": "2025-10-01",
    "model": "nvidia-h100-sxm5-80gb",
    "kind": "lease",
    "price": 2.49,
    "currency": "USD",
    "term": "on_demand",
    "provider": "Idempotent Cloud",
    "region": "US",
    "source": "https://example.test/idempotency",
}


def key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": name}


def raw(name: str) -> dict[str, str]:
    """Headers for a body sent as exact bytes (the fingerprint covers the bytes)."""
    return {"content-type": "application/json", **key(name)}


def rows(engine: Engine, provider: str) -> int:
    with Session(engine) as session:
        stmt = select(func.count()).select_from(Observation).where(Observation.provider == provider)
        return int(session.scalar(stmt) or 0)


def records(engine: Engine, name: str) -> list[IdempotencyRecord]:
    with Session(engine) as session:
        return list(session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.key == name)))


def body_bytes(payload: Any) -> bytes:
    return json.dumps(payload).encode()


async def test_the_same_post_twice_creates_one_row_and_replays_the_first_answer(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    first = await client.post("/observations", content=body_bytes(OBSERVATION), headers=raw("k-1"))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    second = await client.post("/observations", content=body_bytes(OBSERVATION), headers=raw("k-1"))
    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    for header in ("location", "etag", "content-type"):
        assert second.headers[header] == first.headers[header]
    assert rows(engine, "Idempotent Cloud") == 1
    (record,) = records(engine, "k-1")
    assert record.status == "done" and record.response_status == 201


async def test_the_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    assert (await client.post("/observations", json=OBSERVATION, headers=key("k-2"))).is_success
    other = {**OBSERVATION, "price": 9.99}
    body = assert_problem(await client.post("/observations", json=other, headers=key("k-2")), 422)
    assert "different request" in body["detail"]
    elsewhere = await client.post("/observations/import", json=[OBSERVATION], headers=key("k-2"))
    assert_problem(elsewhere, 422)
    assert rows(engine, "Idempotent Cloud") == 1


async def test_parallel_copies_create_exactly_one_row(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    """The app's endpoints and the key claim run in worker threads: this is real concurrency."""
    payload = body_bytes({**OBSERVATION, "provider": "Parallel Cloud"})

    async def post() -> httpx.Response:
        return await client.post("/observations", content=payload, headers=raw("k-parallel"))

    responses = await asyncio.gather(*(post() for _ in range(10)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201]
    assert created, statuses
    assert len({r.json()["id"] for r in created}) == 1
    for busy in (r for r in responses if r.status_code == 409):
        assert_problem(busy, 409)
        assert busy.headers["retry-after"] == "1"
        assert "still being processed" in busy.json()["detail"]
    assert rows(engine, "Parallel Cloud") == 1
    again = await post()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == created[0].json()["id"]


async def test_parallel_imports_write_their_rows_once(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    batch = [{**OBSERVATION, "provider": "Parallel Import", "price": 1 + i} for i in range(5)]

    async def post() -> httpx.Response:
        return await client.post("/observations/import", json=batch, headers=key("k-pimport"))

    responses = await asyncio.gather(*(post() for _ in range(8)))
    assert {r.status_code for r in responses} <= {201, 409}
    assert any(r.status_code == 201 for r in responses)
    assert rows(engine, "Parallel Import") == 5


async def test_an_import_with_a_key_is_replayed(client: httpx.AsyncClient, engine: Engine) -> None:
    batch = [{**OBSERVATION, "provider": "Import Cloud", "price": 1 + i} for i in range(3)]
    first = await client.post("/observations/import", json=batch, headers=key("k-import"))
    assert first.status_code == 201 and first.json() == {"created": 3, "skipped": 0}
    second = await client.post("/observations/import", json=batch, headers=key("k-import"))
    assert second.status_code == 201 and second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    assert rows(engine, "Import Cloud") == 3
    csv = "observed_on,model,kind,price,currency,term,provider,region,source\n" + (
        "2025-10-01,nvidia-h100-sxm5-80gb,lease,2.5,USD,on_demand,Csv Cloud,US,x\n"
    )
    headers = {"content-type": "text/csv", **key("k-csv")}
    for _ in range(2):
        response = await client.post("/observations/import", content=csv, headers=headers)
        assert response.status_code == 201, response.text
    assert response.headers["idempotent-replayed"] == "true"
    assert rows(engine, "Csv Cloud") == 1


async def test_keys_belong_to_the_credential_that_sent_them(
    app: FastAPI, client: httpx.AsyncClient, engine: Engine
) -> None:
    first = await client.post("/observations", json=OBSERVATION, headers=key("k-shared"))
    async with make_client(app, "admin") as admin:
        other = await admin.post("/observations", json=OBSERVATION, headers=key("k-shared"))
    assert first.status_code == other.status_code == 201
    assert "idempotent-replayed" not in other.headers
    assert other.json()["id"] != first.json()["id"]
    assert rows(engine, "Idempotent Cloud") == 2
    assert len(records(engine, "k-shared")) == 2
    bearer = await client.post("/observations", json=OBSERVATION, headers=key("k-shared"))
    assert bearer.headers["idempotent-replayed"] == "true"
    header_key = {"X-API-Key": KEYS["write"], "Authorization": "", **key("k-shared")}
    async with make_client(app, None) as anonymous:
        by_header = await anonymous.post("/observations", json=OBSERVATION, headers=header_key)
    assert by_header.status_code == 201 and "idempotent-replayed" not in by_header.headers


async def test_a_401_does_not_burn_the_key(
    anon_client: httpx.AsyncClient, engine: Engine, session: Session
) -> None:
    """The same credential and key, refused while the credential is unknown, then accepted."""
    plaintext = "gv_0ddba11a_" + "s" * 43
    headers = {"Authorization": f"Bearer {plaintext}", **key("k-401")}
    for _ in range(2):
        refused = await anon_client.post("/observations", json=OBSERVATION, headers=headers)
        assert_problem(refused, 401)
        assert "idempotent-replayed" not in refused.headers
    assert records(engine, "k-401") == []

    session.add(
        ApiKey(
            name="late",
            prefix="0ddba11a",
            key_hash=digest(TEST_SECRET.encode(), plaintext),
            scopes="write",
        )
    )
    session.commit()
    accepted = await anon_client.post("/observations", json=OBSERVATION, headers=headers)
    assert accepted.status_code == 201, accepted.text
    assert "idempotent-replayed" not in accepted.headers
    assert rows(engine, "Idempotent Cloud") == 1


async def test_a_403_does_not_burn_the_key(app: FastAPI, engine: Engine) -> None:
    async with make_client(app, "read") as reader:
        for _ in range(2):
            refused = await reader.post("/observations", json=OBSERVATION, headers=key("k-403"))
            assert_problem(refused, 403)
            assert "idempotent-replayed" not in refused.headers
    assert records(engine, "k-403") == []


async def test_an_expired_key_runs_anew(
    client: httpx.AsyncClient, engine: Engine, session: Session
) -> None:
    first = await client.post("/observations", json=OBSERVATION, headers=key("k-old"))
    assert first.status_code == 201
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.key == "k-old")
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    second = await client.post("/observations", json=OBSERVATION, headers=key("k-old"))
    assert second.status_code == 201 and "idempotent-replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]
    assert rows(engine, "Idempotent Cloud") == 2
    (record,) = records(engine, "k-old")
    assert record.expires_at > utcnow() + timedelta(hours=23)


def _claim(session: Session, name: str, payload: bytes, *, locked_for: timedelta) -> None:
    """A claim as a first request still running (or crashed) would have left it."""
    scope = {"method": "POST", "path": "/observations", "query_string": b"", "headers": []}
    credential = [(b"authorization", f"Bearer {KEYS['write']}".encode())]
    session.add(
        IdempotencyRecord(
            namespace=namespace_of({"headers": credential}),
            key=name,
            fingerprint=fingerprint_of(scope, payload),
            status="in_progress",
            locked_until=utcnow() + locked_for,
            expires_at=utcnow() + timedelta(hours=24),
        )
    )
    session.commit()


async def test_a_retry_while_the_first_is_running_is_409(
    client: httpx.AsyncClient, engine: Engine, session: Session
) -> None:
    payload = body_bytes(OBSERVATION)
    _claim(session, "k-busy", payload, locked_for=timedelta(minutes=5))
    busy = await client.post("/observations", content=payload, headers=raw("k-busy"))
    assert_problem(busy, 409)
    assert busy.headers["retry-after"] == "1"
    assert rows(engine, "Idempotent Cloud") == 0


async def test_a_claim_whose_lock_lapsed_is_taken_over(
    client: httpx.AsyncClient, engine: Engine, session: Session
) -> None:
    payload = body_bytes(OBSERVATION)
    _claim(session, "k-crashed", payload, locked_for=timedelta(seconds=-1))
    response = await client.post("/observations", content=payload, headers=raw("k-crashed"))
    assert response.status_code == 201, response.text
    assert rows(engine, "Idempotent Cloud") == 1
    (record,) = records(engine, "k-crashed")
    assert record.status == "done"


@pytest.mark.parametrize("bad", ["x" * 300, "  "], ids=["300-chars", "blank"])
async def test_an_invalid_key_is_400(client: httpx.AsyncClient, engine: Engine, bad: str) -> None:
    response = await client.post("/observations", json=OBSERVATION, headers=key(bad))
    assert_problem(response, 400)
    assert rows(engine, "Idempotent Cloud") == 0


async def test_the_longest_valid_key_is_accepted(client: httpx.AsyncClient) -> None:
    name = "k" * 255
    for _ in range(2):
        response = await client.post("/observations", json=OBSERVATION, headers=key(name))
        assert response.status_code == 201
    assert response.headers["idempotent-replayed"] == "true"


async def test_refusals_are_replayed_too(client: httpx.AsyncClient, engine: Engine) -> None:
    """A 422 is the answer to that request: a retry gets the same answer, not a second try."""
    bad = {**OBSERVATION, "price": -1}
    first = await client.post("/observations", json=bad, headers=key("k-bad"))
    second = await client.post("/observations", json=bad, headers=key("k-bad"))
    assert_problem(first, 422)
    assert second.status_code == 422 and second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content


async def test_writes_without_a_key_and_reads_are_not_affected(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    for _ in range(2):
        assert (await client.post("/observations", json=OBSERVATION)).status_code == 201
    assert rows(engine, "Idempotent Cloud") == 2
    read = await client.get("/models", headers=key("k-read"))
    assert read.status_code == 200 and "idempotent-replayed" not in read.headers
    assert records(engine, "k-read") == []
