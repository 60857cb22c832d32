"""Database faults on real PostgreSQL: dropped connections and an unreachable server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.app import create_app
from service.registry.orm import Observation
from tests import support
from tests.support import Backend, assert_problem, make_client

pytestmark = pytest.mark.anyio

OBSERVATION: dict[str, Any] = {
    "observed_on": "2025-10-01",
    "model": "nvidia-h100-sxm5-80gb",
    "kind": "lease",
    "price": 2.49,
    "currency": "USD",
    "term": "on_demand",
    "region": "US",
    "source": "https://example.test/faults",
}
WRITERS = 4
RUN_S = 8.0


class Terminator(threading.Thread):
    """Terminates every backend of the service's database, again and again, from outside."""

    def __init__(self, backend: Backend, database: str) -> None:
        super().__init__(daemon=True)
        assert backend.admin_url is not None
        self.admin = create_engine(backend.admin_url, isolation_level="AUTOCOMMIT")
        self.database = database
        self.stop = threading.Event()
        self.terminated = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        query = text(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = :db AND pid <> pg_backend_pid()"
        )
        try:
            with self.admin.connect() as connection:
                while not self.stop.wait(0.05):
                    self.terminated += connection.scalar(query, {"db": self.database}) or 0
        except BaseException as exc:
            self.error = exc
        finally:
            self.admin.dispose()


def stored_providers(engine: Engine) -> set[str]:
    with Session(engine) as session:
        stmt = select(Observation.provider).where(Observation.provider.like("Fault %"))
        return set(session.scalars(stmt))


async def test_terminated_connections_lose_no_acknowledged_write_and_recover(
    backend: Backend, db_url: str, app: FastAPI, client: httpx.AsyncClient, engine: Engine
) -> None:
    assert backend.name == "postgresql"
    acknowledged: set[str] = set()
    unavailable: list[httpx.Response] = []
    deadline = time.monotonic() + RUN_S

    async def write(writer: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            provider = f"Fault {writer}-{n}"
            n += 1
            # Half the writers send an Idempotency-Key: its claim and answer use the database too.
            headers = {"Idempotency-Key": provider} if writer % 2 else {}
            response = await client.post(
                "/observations", json={**OBSERVATION, "provider": provider}, headers=headers
            )
            if response.status_code == 201:
                assert response.json()["provider"] == provider
                acknowledged.add(provider)
            else:
                assert response.status_code == 503, response.text
                unavailable.append(response)

    terminator = Terminator(backend, make_url(db_url).database or "")
    terminator.start()
    try:
        await asyncio.gather(*(write(w) for w in range(WRITERS)))
    finally:
        terminator.stop.set()
        terminator.join(10)
    assert terminator.error is None, terminator.error
    assert terminator.terminated > 0, "no connection was terminated: the test proved nothing"
    assert acknowledged, "no write succeeded while connections were being terminated"
    for response in unavailable:
        assert_problem(response, 503)
        assert response.headers["retry-after"].isdigit()

    # Recovery without a restart: the very next requests succeed.
    for n in range(10):
        response = await client.post(
            "/observations", json={**OBSERVATION, "provider": f"Fault after-{n}"}
        )
        assert response.status_code == 201, response.text
        acknowledged.add(f"Fault after-{n}")
    assert (await client.get("/readyz")).status_code == 200

    missing = acknowledged - stored_providers(engine)
    assert not missing, f"acknowledged writes lost: {sorted(missing)[:5]}"
    listed = await client.get("/observations", params={"provider": "Fault ", "limit": 1000})
    assert {o["provider"] for o in listed.json()["items"]} >= acknowledged


@pytest.fixture
async def unreachable(request: pytest.FixtureRequest) -> AsyncIterator[FastAPI]:
    url = request.param
    app = create_app(support.settings_for(url, db_connect_timeout_s=1))
    async with app.router.lifespan_context(app):
        yield app


@pytest.mark.parametrize(
    "unreachable",
    [
        "postgresql://postgres@127.0.0.1:1/gpuval",  # nothing listens: refused at once
        "postgresql://postgres@192.0.2.1:5432/gpuval",  # TEST-NET-1: nothing answers at all
    ],
    ids=["refused", "blackhole"],
    indirect=True,
)
async def test_an_unreachable_database_is_503_quickly(unreachable: FastAPI) -> None:
    async with make_client(unreachable, None) as caller:
        # Any key: checking it needs the database, which is the point.
        caller.headers["Authorization"] = "Bearer gv_0ddba11a_" + "s" * 43
        assert (await caller.get("/healthz")).status_code == 200
        offline = {**OBSERVATION, "provider": "Fault offline"}
        for method, path, body, headers in (
            ("GET", "/readyz", None, {}),
            ("GET", "/models", None, {}),
            ("POST", "/observations", offline, {}),
            ("POST", "/observations", offline, {"Idempotency-Key": "offline-1"}),
        ):
            started = time.monotonic()
            response = await caller.request(method, path, json=body, headers=headers)
            elapsed = time.monotonic() - started
            assert_problem(response, 503)
            assert response.headers["retry-after"].isdigit(), path
            assert elapsed < 5, f"{method} {path} took {elapsed:.1f} s"
        assert (await caller.get("/healthz")).status_code == 200


async def test_the_terminator_reaches_the_services_connections(
    backend: Backend, db_url: str, engine: Engine
) -> None:
    """Guards the fault test itself: the query does terminate a connection of that database."""
    with engine.connect() as victim:
        victim.execute(text("SELECT 1"))
        terminator = Terminator(backend, make_url(db_url).database or "")
        terminator.start()
        deadline = time.monotonic() + 5
        while terminator.terminated == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        terminator.stop.set()
        terminator.join(5)
        assert terminator.terminated >= 1
        with pytest.raises(Exception, match="terminat"):
            victim.execute(text("SELECT 1"))
    with engine.connect() as fresh:
        assert fresh.scalar(select(func.count()).select_from(Observation))
