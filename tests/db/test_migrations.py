"""Alembic owns the schema: one head, upgrade from empty, models match, down and up again."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

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


def _load_migration(name: str) -> ModuleType:
    path = Path(schema.ROOT / "migrations" / "versions" / name)
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_database_seeded_before_method_v2_gets_the_v2_defaults_but_keeps_admin_edits(
    empty_url: str,
) -> None:
    """``gpuval seed`` inserts only what is missing, so the upgrade moves rows the seed wrote
    (revision 1) to v2; a row an admin changed (revision 2 here) stays theirs."""
    v2 = _load_migration("0004_assumption_defaults_v2.py")
    changes = {c.name: c for c in v2.CHANGES}
    edited = "utilisation"  # an admin set their own value and reason before the upgrade
    schema.upgrade(empty_url, "0003")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as connection:
            for change in changes.values():
                value, reason, revision = change.old_default, f"v1 reason of {change.name}", 1
                if change.name == edited:
                    value, reason, revision = 0.7, "Our fleet runs at 70%.", 2
                minimum, maximum, unit = change.bounds
                connection.execute(
                    text(
                        "INSERT INTO assumptions (name, value, unit, minimum, maximum, reason,"
                        " revision, updated_at) VALUES (:n, :v, :u, :lo, :hi, :r, :rev, :at)"
                    ),
                    {
                        "n": change.name,
                        "v": value,
                        "u": unit,
                        "lo": minimum,
                        "hi": maximum,
                        "r": reason,
                        "rev": revision,
                        "at": "2026-06-01 00:00:00",
                    },
                )
            before_version = connection.execute(text("SELECT version FROM data_version")).scalar()

        schema.upgrade(empty_url, "0004")
        with engine.connect() as connection:
            rows = {
                r.name: r
                for r in connection.execute(
                    text("SELECT name, value, reason, revision FROM assumptions")
                )
            }
            audited = {
                r.entity_id: r
                for r in connection.execute(
                    text(
                        "SELECT entity_id, actor, action FROM audit_log WHERE entity = 'assumption'"
                    )
                )
            }
            after_version = connection.execute(text("SELECT version FROM data_version")).scalar()
        assert rows[edited].value == 0.7 and rows[edited].reason == "Our fleet runs at 70%."
        assert rows[edited].revision == 2 and edited not in audited
        for name, change in changes.items():
            if name == edited:
                continue
            assert (rows[name].value, rows[name].reason) == change.new, name
            assert rows[name].revision == 2
            assert audited[name].actor == "migration 0004" and audited[name].action == "update"
        assert rows["physical_life_months"].value == 72.0
        assert before_version is not None and after_version == before_version + 1

        # 0005 moves on what 0004 moved (still the seed's), never the admin's row, and back
        survival = {c.name: c for c in _load_migration("0005_survival_life_defaults.py").CHANGES}
        schema.upgrade(empty_url)
        with engine.connect() as connection:
            moved = {
                r.name: r
                for r in connection.execute(text("SELECT name, value, reason FROM assumptions"))
            }
            actors = {
                r.entity_id
                for r in connection.execute(
                    text("SELECT entity_id FROM audit_log WHERE actor = 'migration 0005'")
                )
            }
        for name in changes:
            expected = survival[name].new if name in survival else changes[name].new
            if name == edited:
                expected = (0.7, "Our fleet runs at 70%.")
            assert (moved[name].value, moved[name].reason) == expected, name
        assert moved["physical_life_months"].value == 120.0
        assert actors == set(survival) & set(changes)
        schema.downgrade(empty_url, "0004")
        with engine.connect() as connection:
            life = connection.execute(
                text("SELECT value FROM assumptions WHERE name = 'physical_life_months'")
            ).scalar()
        assert life == 72.0

        schema.downgrade(empty_url, "0003")
        with engine.connect() as connection:
            back: dict[str, tuple[float, str]] = {
                name: (value, reason)
                for name, value, reason in connection.execute(
                    text("SELECT name, value, reason FROM assumptions")
                )
            }
        assert back == {
            n: (
                (0.7, "Our fleet runs at 70%.")
                if n == edited
                else (c.old_default, f"v1 reason of {n}")
            )
            for n, c in changes.items()
        }
        # and up again: rows the migration moved and put back count as the seed's
        schema.upgrade(empty_url)
        with engine.connect() as connection:
            again: dict[str, float] = {
                name: value
                for name, value in connection.execute(text("SELECT name, value FROM assumptions"))
            }
        latest = {**changes, **{n: c for n, c in survival.items() if n in changes}}
        assert again == {n: (0.7 if n == edited else c.new[0]) for n, c in latest.items()}
    finally:
        engine.dispose()


def test_the_migrations_of_defaults_carry_the_defaults_the_engine_ships() -> None:
    """The latest literal value of each default a migration moves is the engine's current
    default (else seed and upgrade disagree)."""
    from service.engine.assumptions import ASSUMPTIONS

    shipped = {a.name: a for a in ASSUMPTIONS}
    latest = {}
    for name in ("0004_assumption_defaults_v2.py", "0005_survival_life_defaults.py"):
        latest.update({c.name: c for c in _load_migration(name).CHANGES})
    for change in latest.values():
        spec = shipped[change.name]
        assert change.new == (spec.default, spec.reason), change.name
        assert change.bounds == (spec.minimum, spec.maximum, spec.unit), change.name


def test_a_move_of_defaults_never_leaves_a_row_outside_its_bounds_nor_undoes_an_admin(
    empty_url: str,
) -> None:
    """``assumption_defaults``: a seeded row whose own bounds exclude the new default stays; a
    row the step moved and an admin changed since is not put back by the downgrade; a name
    that was never seeded is skipped both ways."""
    from service.assumption_defaults import Change, downgrade, upgrade

    schema.upgrade(empty_url)
    engine = make_engine(empty_url)
    insert = text(
        "INSERT INTO assumptions (name, value, unit, minimum, maximum, reason, revision,"
        " updated_at) VALUES (:n, :v, 'u', :lo, :hi, 'seeded', 1, '2026-06-01 00:00:00')"
    )
    moves = (
        Change("narrow", 1.0, (5.0, "new"), (0.0, 2.0, "u")),  # 5 is outside its own [0, 2]
        Change("edited", 1.0, (1.5, "new"), (0.0, 2.0, "u")),
        Change("absent", 1.0, (1.5, "new"), (0.0, 2.0, "u")),
    )
    try:
        with engine.begin() as connection:
            for name in ("narrow", "edited"):
                connection.execute(insert, {"n": name, "v": 1.0, "lo": 0.0, "hi": 2.0})
            upgrade(connection, moves, "migration test")
            # an admin writes the moved row (PUT /assumptions audits it under its key's name)
            connection.execute(
                text(
                    "UPDATE assumptions SET value = 1.75, revision = revision + 1"
                    " WHERE name = 'edited'"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after)"
                    " VALUES ('2026-06-02 00:00:00', 'admin', 'update', 'assumption', 'edited',"
                    " '{}', '{}')"
                )
            )
            downgrade(connection, moves, "migration test")
            rows = {
                name: value
                for name, value in connection.execute(text("SELECT name, value FROM assumptions"))
            }
        assert rows == {"narrow": 1.0, "edited": 1.75}
    finally:
        engine.dispose()
