"""Where the database stands, read without Alembic, agrees with Alembic; and a server or a
command on a current schema starts without importing Alembic."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from service import schema
from service.db import make_engine
from tests.support import Backend, create_empty_database, drop_database


@pytest.fixture
def empty_url(backend: Backend, tmp_path: Path) -> Iterator[str]:
    url = create_empty_database(backend, tmp_path)
    yield url
    drop_database(backend, url)


def test_the_head_read_from_the_files_is_alembics(empty_url: str) -> None:
    graph = schema.shipped_revisions()
    assert graph is not None and len(graph) == len(list(schema.VERSIONS.glob("*.py")))
    script = ScriptDirectory.from_config(schema.alembic_config(empty_url))
    assert graph == {r.revision: r.down_revision for r in script.walk_revisions()}
    assert schema.head_revision(empty_url) == script.get_current_head()


def test_the_revision_read_from_the_table_is_alembics(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        for step in (None, "0002", "head"):
            if step is not None:
                schema.upgrade(empty_url, step)
            with engine.connect() as connection:
                expected = MigrationContext.configure(connection).get_current_revision()
            assert schema.current_revision(engine) == expected
            assert schema.pending(engine, empty_url) == (step != "head")
    finally:
        engine.dispose()


def test_starting_imports_no_alembic() -> None:
    code = (
        "import sys, service.cli, service.app\n"
        "print(sorted(m for m in sys.modules if m.startswith('alembic')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
