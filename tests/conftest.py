"""Fixtures for the database and API tiers.

The backend is SQLite unless ``TEST_DATABASE_URL`` names a PostgreSQL database. A migrated and
seeded *template* is built once per session; every test gets its own copy (a file copy on
SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL), so tests commit for real and never see
each other. With ``CI=true`` an unreachable PostgreSQL fails the run: nothing is skipped.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service import schema
from service.app import create_app
from service.config import Settings
from service.db import make_engine, make_sessionmaker, normalise_url, unit_of_work
from service.registry.seed import seed_all

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
_counter = itertools.count()


@dataclass(frozen=True)
class Backend:
    name: str
    admin_url: str | None  # PostgreSQL: a database to issue CREATE/DROP DATABASE from

    def url_for(self, database: str) -> str:
        assert self.admin_url is not None
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)


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


@pytest.fixture(scope="session")
def template_url(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database holding the reference catalogue."""
    url = create_empty_database(backend, tmp_path_factory.mktemp("template"))
    schema.upgrade(url)
    engine = make_engine(url)
    with unit_of_work(make_sessionmaker(engine)) as session:
        seed_all(session)
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
    app = create_app(Settings(database_url=db_url))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
