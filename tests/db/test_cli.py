"""``gpuval`` commands against a real database of the backend under test."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from service import cli, schema
from service.db import make_engine, make_sessionmaker
from service.registry.orm import GpuModel, Observation
from service.state import resources
from tests.support import Backend, create_empty_database, drop_database


@pytest.fixture
def empty_url(backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = create_empty_database(backend, tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_FILE", str(tmp_path / "secret"))
    yield url
    drop_database(backend, url)


def counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        result = (
            int(session.scalar(select(func.count()).select_from(GpuModel)) or 0),
            int(session.scalar(select(func.count()).select_from(Observation)) or 0),
        )
    engine.dispose()
    return result


def test_seed_refuses_before_migrate_then_loads_once(
    empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["seed"]) == 1
    assert "gpuval migrate" in capsys.readouterr().err
    assert cli.main(["migrate"]) == 0
    assert cli.main(["seed"]) == 0
    first = capsys.readouterr().out
    assert "observations" in first and "2727 inserted" in first
    assert cli.main(["seed"]) == 0
    assert "2727 inserted" not in capsys.readouterr().out
    assert counts(empty_url) == (37, 2727)


def test_import_is_all_or_nothing(
    empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["migrate"]) == 0
    assert cli.main(["seed"]) == 0
    rows = [
        {
            "observed_on": "2025-03-01",
            "model_slug": "nvidia-h100-sxm5-80gb",
            "kind": "lease",
            "price": 2.5 + i / 1000,
            "source": "cli test",
        }
        for i in range(300)
    ]
    rows[123]["price"] = "NaN"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(rows))
    capsys.readouterr()
    assert cli.main(["import", "observations", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 124: price" in err
    assert counts(empty_url) == (37, 2727)

    rows[123]["price"] = 2.0
    good = tmp_path / "good.json"
    good.write_text(json.dumps(rows))
    assert cli.main(["import", "observations", str(good)]) == 0
    assert "imported 300 observations" in capsys.readouterr().out
    assert counts(empty_url) == (37, 3027)
    assert cli.main(["import", "models", str(tmp_path / "missing.csv")]) == 2


def test_serve_prepares_the_embedded_default_or_refuses_pending_migrations(
    backend: Backend,
    empty_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started: list[object] = []
    monkeypatch.setattr(
        "service.app.GracefulServer.run", lambda self, sockets=None: started.append(self.config)
    )
    code = cli.main(["serve", "--port", "8765"])
    if backend.name == "sqlite":
        assert code == 0 and started and started[0].port == 8765  # type: ignore[attr-defined]
        engine = make_engine(empty_url)
        assert not schema.pending(engine, empty_url)
        engine.dispose()
        assert counts(empty_url) == (37, 2727)
    else:
        assert code == 1 and not started
        assert "gpuval migrate" in capsys.readouterr().err


def test_openapi_command_writes_the_served_document(tmp_path: Path) -> None:
    target = tmp_path / "spec.json"
    assert cli.main(["openapi", "--output", str(target)]) == 0
    from service.app import create_app

    assert json.loads(target.read_text()) == create_app().openapi()


def test_keys_are_shown_once_and_stored_only_as_hashes(
    empty_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["migrate"]) == 0
    capsys.readouterr()
    assert cli.main(["keys", "create", "--name", "ops", "--scopes", "write,read"]) == 0
    out = capsys.readouterr().out
    key = out.strip().splitlines()[-1]
    assert key.startswith("gv_") and "scopes read,write" in out
    engine = make_engine(empty_url)
    with engine.connect() as connection:
        stored = " ".join(
            str(v) for row in connection.execute(text("SELECT * FROM api_keys")) for v in row
        )
    engine.dispose()
    assert key not in stored and key.split("_")[1] in stored
    assert cli.main(["keys", "list"]) == 0
    assert "ops" in capsys.readouterr().out
    assert cli.main(["keys", "revoke", key.split("_")[1]]) == 0
    assert cli.main(["keys", "revoke", key.split("_")[1]]) == 2
    assert cli.main(["keys", "create", "--name", "x", "--scopes", "root"]) == 2


def test_backtest_prints_engine_and_baselines(
    empty_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["migrate"]) == 0
    assert cli.main(["seed"]) == 0
    capsys.readouterr()
    report = tmp_path / "backtest.json"
    args = ["backtest", "--start", "2026-01-01", "--no-leave-out", "--json", str(report)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "market" in out and "last_price" in out and "median_12m" in out
    data = json.loads(report.read_text())
    assert data["segments"]["all"]["n"] > 0
    assert {"engine", "last_price", "median_12m"} <= set(data["segments"]["all"]["mdape"])
    assert 0 < data["coverage"]["all"] <= 1


def test_an_all_digit_prefix_revokes_by_prefix_not_by_id(
    empty_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hex prefixes can be all digits (CI drew ``06456260``); one is never read as a row id."""
    assert cli.main(["migrate"]) == 0
    monkeypatch.setattr("service.auth.keys.secrets.token_hex", lambda n: "06456260")
    assert cli.main(["keys", "create", "--name", "digits", "--scopes", "read"]) == 0
    capsys.readouterr()
    assert cli.main(["keys", "revoke", "06456260"]) == 0
    assert "(06456260)" in capsys.readouterr().out
    assert cli.main(["keys", "revoke", "06456260"]) == 2


def test_serve_with_workers_hands_uvicorn_a_factory_per_process(
    backend: Backend, empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: calls.append((app, options)))
    code = cli.main(["serve", "--port", "8766", "--workers", "3"])
    if backend.name != "sqlite":  # the schema is not migrated: refused as without workers
        assert code == 1 and not calls
        return
    assert code == 0
    ((target, options),) = calls
    assert options["workers"] == 3 and options["factory"] is True and options["port"] == 8766
    module, _, name = target.partition(":")
    app = getattr(importlib.import_module(module), name)()  # what each worker process runs
    assert resources(app).settings.database_url == empty_url
    with pytest.raises(SystemExit):
        cli.main(["serve", "--workers", "0"])
