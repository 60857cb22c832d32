"""Fixtures for the database and API tiers.

The backend is SQLite unless ``TEST_DATABASE_URL`` names a PostgreSQL database. A migrated and
seeded *template* is built once per session; every test gets its own copy (a file copy on
SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL), so tests commit for real and never see
each other. With ``CI=true`` an unreachable PostgreSQL fails the run: nothing is skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service import schema
from service.app import create_app
from service.auth.keys import SCOPES, create_key
from service.db import make_engine, make_sessionmaker, normalise_url, unit_of_work
from service.registry.seed import seed_all
from tests.support import (
    KEYS,
    TEST_DATABASE_URL,
    TEST_SECRET,
    Backend,
    _admin,
    _counter,
    create_empty_database,
    drop_database,
    make_client,
    settings_for,
)

# No per-example time limit: hypothesis's default 200 ms deadline is a timed assertion, and on
# a shared, loaded machine a slow example is load, not a defect.
hypothesis_settings.register_profile("gpuval", deadline=None)
hypothesis_settings.load_profile("gpuval")


@pytest.fixture(scope="session")
def backend() -> Backend:
    if not TEST_DATABASE_URL:
        return Backend("sqlite", None)
    url = normalise_url(TEST_DATABASE_URL)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}", pytrace=False)
    finally:
        engine.dispose()
    return Backend("postgresql", url)


@pytest.fixture(scope="session")
def template_url(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database holding the reference catalogue and one key per scope."""
    url = create_empty_database(backend, tmp_path_factory.mktemp("template"))
    schema.upgrade(url)
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as session:
        seed_all(session)
        for scope in SCOPES:
            _, KEYS[scope] = create_key(
                session, TEST_SECRET.encode(), name=f"test-{scope}", scopes=scope
            )
    engine.dispose()
    yield url
    drop_database(backend, url)


@pytest.fixture
def db_url(backend: Backend, template_url: str, tmp_path: Path) -> Iterator[str]:
    """A private copy of the seeded template for one test."""
    if backend.name == "sqlite":
        target = tmp_path / "test.db"
        shutil.copyfile(make_url(template_url).database or "", target)
        yield f"sqlite:///{target}"
        return
    template = make_url(template_url).database
    name = f"{template}_t{next(_counter)}"
    admin = _admin(backend)
    with admin.connect() as connection:
        connection.execute(
            text(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        )
    admin.dispose()
    url = backend.url_for(name)
    yield url
    drop_database(backend, url)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the test's database for arranging and inspecting; the caller commits."""
    with make_sessionmaker(engine)() as session:
        yield session


@pytest.fixture
async def app(db_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(settings_for(db_url))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A caller with a `write` key."""
    async with make_client(app, "write") as client:
        yield client


@pytest.fixture
async def admin_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app, "admin") as client:
        yield client


@pytest.fixture
async def anon_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app, None) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
