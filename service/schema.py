"""Alembic from Python: where the database stands against the migrations shipped with us.

``alembic.ini`` and ``migrations/`` are package data of ``service``, found with
``importlib.resources``, so an installed wheel migrates from any working directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from service.db import normalise_url

#: The directory holding ``alembic.ini`` and ``migrations/``: the installed package itself
#: (wheels install unzipped, so it is a real directory).
ROOT = Path(str(files("service")))


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def pending(engine: Engine, url: str) -> bool:
    return current_revision(engine) != head_revision(url)


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
