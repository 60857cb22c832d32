"""Alembic from Python: where the database stands against the migrations shipped with us.

``alembic.ini`` and ``migrations/`` are package data of ``service``, found with
``importlib.resources``, so an installed wheel migrates from any working directory.

Knowing where the database stands needs no Alembic: its revision is the row of
``alembic_version``, and the head is read from the ``revision`` / ``down_revision`` lines of the
revision files. So a server or a command on a current schema starts without importing Alembic
(a quarter of a second of start-up); only migrating imports it, and so does reading a history
this module cannot follow (a branch or a merge), where Alembic answers instead.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

from service.db import normalise_url

if TYPE_CHECKING:
    from alembic.config import Config

#: The directory holding ``alembic.ini`` and ``migrations/``: the installed package itself
#: (wheels install unzipped, so it is a real directory).
ROOT = Path(str(files("service")))
VERSIONS = ROOT / "migrations" / "versions"
#: Alembic's default version table, which ``migrations/env.py`` keeps.
VERSION_TABLE = "alembic_version"

_HEADER = re.compile(
    r"""^(?P<name>down_revision|revision)\s*(?::[^=\n]*)?=\s*"""
    r"""(?:"(?P<double>[^"\n]*)"|'(?P<single>[^'\n]*)'|(?P<none>None))\s*$""",
    re.MULTILINE,
)


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def shipped_revisions() -> dict[str, str | None] | None:
    """Each shipped revision and the one it revises, from the files' header lines; None when a
    file says it otherwise (a merge's tuple, say): then only Alembic can read the history."""
    graph: dict[str, str | None] = {}
    for path in sorted(VERSIONS.glob("*.py")):
        found: dict[str, str | None] = {}
        for match in _HEADER.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(match["name"], match["double"] or match["single"])
        if set(found) != {"revision", "down_revision"} or found["revision"] is None:
            return None
        graph[found["revision"]] = found["down_revision"]
    return graph


def head_revision(url: str) -> str | None:
    graph = shipped_revisions()
    if graph:
        heads = set(graph) - set(graph.values())
        if len(heads) == 1:
            return heads.pop()
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        if len(found) <= 1:
            return str(found[0][0]) if found else None
        from alembic.runtime.migration import MigrationContext

        # Several heads stored: Alembic's own refusal says so.
        return MigrationContext.configure(connection).get_current_revision()


def pending(engine: Engine, url: str) -> bool:
    return current_revision(engine) != head_revision(url)


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)
