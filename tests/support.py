"""What the tests share besides fixtures: backends, databases, keys, clients and assertions.

``conftest.py`` holds the fixtures and builds on this module; test modules import from here.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url

from service.config import Settings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
_counter = itertools.count()


@dataclass(frozen=True)
class Backend:
    name: str
    admin_url: str | None  # PostgreSQL: a database to issue CREATE/DROP DATABASE from

    def url_for(self, database: str) -> str:
        assert self.admin_url is not None
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)


def _admin(backend: Backend) -> Engine:
    assert backend.admin_url is not None
    return create_engine(backend.admin_url, isolation_level="AUTOCOMMIT")


def create_empty_database(backend: Backend, tmp: Path) -> str:
    """A brand-new empty database of the backend under test; returns its URL."""
    n = next(_counter)
    if backend.name == "sqlite":
        return f"sqlite:///{tmp / f'empty-{n}.db'}"
    name = f"{make_url(backend.admin_url or '').database}_e{os.getpid()}_{n}"
    admin = _admin(backend)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return backend.url_for(name)


def drop_database(backend: Backend, url: str) -> None:
    if backend.name == "sqlite":
        return
    name = make_url(url).database
    admin = _admin(backend)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


TEST_SECRET = "test-secret-not-for-production"

#: A whole HGX H100 server booked straight line over five years: an asset every register test
#: can add (with its own ``tag``).
HGX_ASSET: dict[str, Any] = {
    "model": "nvidia-h100-sxm5-80gb",
    "gpu_count": 8,
    "in_service_on": "2024-02-29",
    "acquisition_cost": 250000,
    "currency": "USD",
    "book_method": "straight_line",
    "life_months": 60,
}
KEYS: dict[str, str] = {}  # scope -> plaintext key, issued in the template


def auth(scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[scope]}"}


def settings_for(db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {"warm_calibration": False, **overrides}
    return Settings(database_url=db_url, api_key_secret=TEST_SECRET, json_logs=False, **values)  # type: ignore[arg-type]


def make_client(app: FastAPI, scope: str | None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = auth(scope) if scope else {}
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


def assert_problem(response: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    """The response is RFC 9457 problem+json with this status, naming these failing fields."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:gpuval:problem:")
    assert body["title"] and body["detail"]
    named = {e["field"] for e in body.get("errors", [])}
    for field in fields:
        assert any(field in name for name in named), f"{field!r} not in {named}"
    return body


H100_FIELDS: dict[str, Any] = {
    "vendor": "NVIDIA",
    "family": "H100",
    "variant": "SXM5 80GB test",
    "architecture": "Hopper",
    "segment": "datacenter",
    "release_date": "2023-03-01",
    "launch_price_usd": 30000,
    "memory_gb": 80,
    "memory_bw_tbps": 3.35,
    "tdp_w": 700,
    "bf16_tflops": 989,
    "fp8_tflops": 1979,
    "fp4_tflops": 0,
    "form_factor": "SXM5",
    "source": "NVIDIA H100 datasheet",
}


# Tables that hold data; idempotency claims and the schema version are bookkeeping.
_BOOKKEEPING = frozenset({"idempotency_keys", "alembic_version"})


def snapshot(engine: Engine) -> dict[str, int]:
    """Rows per data table. Every change is also audited, so a write that slipped through a
    refusal (an update too) changes this."""
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
            for table in sorted(set(inspect(engine).get_table_names()) - _BOOKKEEPING)
        }
