"""Alembic owns the schema: one head, upgrade from empty, models match, down and up again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from service import schema
from service.db import Base, make_engine
from service.models import load_all_models
from tests.support import Backend, create_empty_database, drop_database


@pytest.fixture
def empty_url(backend: Backend, tmp_path: Path) -> Iterator[str]:
    url = create_empty_database(backend, tmp_path)
    yield url
    drop_database(backend, url)


def test_there_is_exactly_one_head(empty_url: str) -> None:
    heads = ScriptDirectory.from_config(schema.alembic_config(empty_url)).get_heads()
    assert len(heads) == 1


def test_upgrade_from_empty_matches_the_models_and_round_trips(empty_url: str) -> None:
    load_all_models()
    schema.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        assert not schema.pending(engine, empty_url)
        with engine.connect() as connection:
            diff = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
            )
        assert diff == [], f"models and migrations disagree: {diff}"
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables

        schema.downgrade(empty_url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        schema.upgrade(empty_url)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        assert not schema.pending(engine, empty_url)
    finally:
        engine.dispose()
