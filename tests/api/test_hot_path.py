"""The hot path: memoised answers, the data version kept in process, two replicas on one DB."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from service.app import create_app
from service.db import (
    Base,
    DataVersion,
    make_engine,
    make_sessionmaker,
    mark_data_changed,
    unit_of_work,
    utcnow,
)
from service.freshness import DataVersionTracker
from service.memo import Answer, AnswerMemo, canonical_query
from service.state import resources
from tests.support import make_client, settings_for

pytestmark = pytest.mark.anyio

H100 = "nvidia-h100-sxm5-80gb"
READS = [
    f"/quote?model={H100}&term=1y&as_of=2026-06-01",
    f"/residual?model={H100}&age_months=24&as_of=2026-06-01&include=curve",
    "/models?limit=5&vendor=NVIDIA",
]


def observation(provider: str, price: float = 9.99) -> dict[str, Any]:
    return {
        "observed_on": "2026-05-30",
        "model": H100,
        "kind": "lease",
        "price": price,
        "currency": "USD",
        "term": "on_demand",
        "region": "US",
        "provider": provider,
        "source": "https://example.test/hot-path",
    }


def memo_count(app: FastAPI, outcome: str) -> float:
    value = resources(app).metrics.registry.get_sample_value(
        "gpuval_answer_memo_total", {"outcome": outcome}
    )
    return float(value or 0)


def without_request_id(response: httpx.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in response.headers.multi_items() if k != "x-request-id"]


@pytest.mark.parametrize("path", READS)
async def test_a_memoised_answer_is_byte_identical_to_the_computed_one(
    app: FastAPI, anon_client: httpx.AsyncClient, client: httpx.AsyncClient, path: str
) -> None:
    computed = await anon_client.get(path)
    hits = memo_count(app, "hit")
    memoised = await anon_client.get(path)
    assert memo_count(app, "hit") == hits + 1
    uncached = await client.get(path)  # with a key: never from the memo
    assert memo_count(app, "hit") == hits + 1
    assert computed.status_code == memoised.status_code == uncached.status_code == 200
    assert memoised.content == computed.content == uncached.content
    assert without_request_id(memoised) == without_request_id(computed)
    assert memoised.headers["x-request-id"] != computed.headers["x-request-id"]


async def test_parameters_in_another_order_share_one_answer(
    app: FastAPI, anon_client: httpx.AsyncClient
) -> None:
    first = await anon_client.get(f"/quote?model={H100}&term=3y&as_of=2026-06-01")
    hits = memo_count(app, "hit")
    again = await anon_client.get(f"/quote?as_of=2026-06-01&term=3y&model={H100}")
    assert memo_count(app, "hit") == hits + 1 and again.content == first.content
    other = await anon_client.get(f"/quote?as_of=2026-06-01&term=1y&model={H100}")
    assert memo_count(app, "hit") == hits + 1 and other.json()["term"] == "1y"


def test_canonical_query_sorts_by_name_and_keeps_the_order_of_repeats() -> None:
    assert canonical_query(b"b=2&a=1&&b=1") == (b"a=1", b"b=2", b"b=1")
    assert canonical_query(b"") == ()


async def test_errors_and_keyed_reads_are_not_memoised(
    app: FastAPI, anon_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    for _ in range(2):
        assert (await anon_client.get("/quote?model=no-such-gpu&term=1y")).status_code == 404
        assert (await client.get(f"/quote?model={H100}&term=1y&as_of=2026-06-02")).is_success
    assert memo_count(app, "hit") == 0


async def test_unknown_keys_are_refused_even_for_a_memoised_answer(
    anon_client: httpx.AsyncClient,
) -> None:
    path = READS[0]
    assert (await anon_client.get(path)).status_code == 200
    assert (await anon_client.get(path)).status_code == 200
    refused = await anon_client.get(path, headers={"Authorization": "Bearer gv_nope"})
    assert refused.status_code == 401


async def test_reads_that_need_a_key_are_never_memoised(db_url: str) -> None:
    app = create_app(settings_for(db_url, require_read_key=True))
    async with app.router.lifespan_context(app), make_client(app, None) as anon:
        for _ in range(2):
            assert (await anon.get(READS[0])).status_code == 401
        async with make_client(app, "read") as reader:
            assert (await reader.get(READS[0])).status_code == 200
            assert (await reader.get(READS[0])).status_code == 200
    assert memo_count(app, "hit") == memo_count(app, "miss") == 0


async def test_an_own_write_is_seen_by_the_next_request(
    app: FastAPI, anon_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    path = f"/quote?model={H100}&term=on_demand&as_of=2026-06-01"
    before = (await anon_client.get(path)).json()
    assert (await anon_client.get(path)).json() == before
    written = await client.post("/observations", json=observation("Own write"))
    assert written.status_code == 201, written.text
    after = (await anon_client.get(path)).json()
    assert after["provenance"]["data_version"] == before["provenance"]["data_version"] + 1
    assert after["rate_per_gpu_hour"] != before["rate_per_gpu_hour"]
    assert (await client.get(path)).json() == after


@asynccontextmanager
async def replica(db_url: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings_for(db_url))
    async with app.router.lifespan_context(app), make_client(app, None) as anon:
        yield app, anon


async def wait_for_version(app: FastAPI, version: int) -> None:
    """Until the replica's tracker holds ``version`` (no bound asserted: that is below)."""
    deadline = time.monotonic() + 30
    while (tracker := resources(app).versions) is None or tracker.current() != version:
        assert time.monotonic() < deadline, "the replica never learnt of the write"
        await anyio.sleep(0.02)


async def test_another_replicas_write_reaches_this_replica(db_url: str) -> None:
    path = f"/quote?model={H100}&term=on_demand&as_of=2026-06-01"
    async with replica(db_url) as (a, anon_a), replica(db_url) as (b, anon_b):
        before = await anon_b.get(path)
        assert (await anon_b.get(path)).content == before.content  # memoised in B
        version = before.json()["provenance"]["data_version"]
        async with make_client(a, "write") as writer_a:
            written = await writer_a.post("/observations", json=observation("Replica A"))
        assert written.status_code == 201, written.text
        tracker_b = resources(b).versions
        assert tracker_b is not None
        if tracker_b.mode == "postgresql":
            await wait_for_version(b, version + 1)  # NOTIFY, or the poll
        # SQLite: PRAGMA data_version is checked on every request, so B's next one sees it.
        seen_by_b = (await anon_b.get(path)).json()
        seen_by_a = (await anon_a.get(path)).json()
        assert seen_by_b["provenance"]["data_version"] == version + 1
        assert seen_by_b == seen_by_a
        assert seen_by_b["rate_per_gpu_hour"] != before.json()["rate_per_gpu_hour"]


async def test_a_tracker_that_cannot_vouch_for_its_version_defers_to_the_database(
    db_url: str,
) -> None:
    """The staleness bound, whatever becomes of notifications: a version not read within
    ``max_staleness_s`` is not used, and the answer is computed from the database's."""
    path = f"/quote?model={H100}&term=on_demand&as_of=2026-06-01"
    async with replica(db_url) as (a, _), replica(db_url) as (b, anon_b):
        before = (await anon_b.get(path)).json()
        state_b = resources(b)
        deaf = DataVersionTracker(state_b.database, max_staleness_s=0.05)
        deaf.advance(before["provenance"]["data_version"])  # known, but never confirmed
        state_b.versions = deaf
        state_b.session_factory = make_sessionmaker(state_b.database, tracker=deaf)
        async with make_client(a, "write") as writer_a:
            assert (await writer_a.post("/observations", json=observation("Deaf"))).is_success
        expected = before["provenance"]["data_version"] + 1
        if deaf.mode == "postgresql":
            assert deaf.current() is None  # never confirmed by a read
        assert (await anon_b.get(path)).json()["provenance"]["data_version"] == expected
        deaf.stop()


async def test_readiness_still_asks_the_database(
    app: FastAPI, anon_client: httpx.AsyncClient
) -> None:
    assert (await anon_client.get(READS[0])).status_code == 200
    assert (await anon_client.get("/readyz")).status_code == 200
    url = resources(app).database.url
    gone = (
        "sqlite:////nonexistent/dir/gone.db"
        if url.get_backend_name() == "sqlite"
        else url.set(database="gv_no_such_database").render_as_string(hide_password=False)
    )
    resources(app).engine = make_engine(gone, connect_timeout_s=2)
    try:
        assert (await anon_client.get("/readyz")).status_code == 503
    finally:
        resources(app).database.dispose()


def test_an_in_memory_database_works_with_a_tracker() -> None:
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[DataVersion.__table__])  # type: ignore[list-item]
    tracker = DataVersionTracker(engine)
    sessions = make_sessionmaker(engine, tracker=tracker)
    with unit_of_work(sessions) as session:
        session.add(DataVersion(id=1, version=7, changed_at=utcnow()))
    tracker.start()
    assert tracker.mode == "memory" and tracker.current() == 7
    with unit_of_work(sessions) as session:
        mark_data_changed(session)
    assert tracker.current() == 8
    with sessions() as session:
        assert session.scalar(select(DataVersion.version)) == 8
    tracker.stop()
    engine.dispose()


def test_the_memo_is_bounded_in_entries_and_bytes() -> None:
    memo = AnswerMemo(entries=3, total_bytes=64 * 1000)
    answer = Answer([(b"content-type", b"application/json")], b"x" * 100, None)
    for i in range(5):
        memo.put((1, 1, "/quote", (str(i).encode(),)), answer)
    assert len(memo) == 3 and memo.get((1, 1, "/quote", (b"0",))) is None
    assert memo.get((1, 1, "/quote", (b"4",))) is answer
    memo.put((1, 1, "/quote", (b"big",)), Answer([], b"x" * 2000, None))  # > total / 64
    assert memo.get((1, 1, "/quote", (b"big",))) is None
