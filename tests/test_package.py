"""The package installs whole: a wheel, in a fresh environment outside the checkout, migrates.

``alembic.ini`` and the migrations are package data, so ``pip install`` then ``gpuval migrate``
must work from any directory. The wheel is built from a copy of only what the build uses
(pyproject.toml, README.md, service/), without network access: the checkout's virtual
environment lends setuptools for the build and its installed dependencies to the fresh
environment (through a ``.pth`` file), never its own copy of ``service``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from service import schema

ROOT = Path(__file__).resolve().parents[1]
STEP_TIMEOUT_S = 300  # a bound on each step, so a hung build fails instead of stalling CI


def _run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "service", source / "service", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path_factory.mktemp("wheels")
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        out,
        source,
        cwd=source,
    )
    [built] = out.glob("gpuval-*.whl")
    return built


def test_the_wheel_carries_the_migrations_and_alembic_ini(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "service/alembic.ini" in names
    assert "service/migrations/env.py" in names
    assert "service/migrations/script.py.mako" in names
    shipped = {n.rsplit("/", 1)[-1] for n in names if n.startswith("service/migrations/versions/")}
    in_checkout = {p.name for p in (ROOT / "service" / "migrations" / "versions").glob("*.py")}
    assert shipped == in_checkout


def test_a_fresh_install_migrates_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        wheel,
        cwd=tmp_path,
    )
    fresh_site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path
        ).strip()
    )
    (fresh_site / "lent-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    database = elsewhere / "fresh.db"
    run_env = {**clean, "DATABASE_URL": f"sqlite:///{database}"}
    located = _run(
        python, "-c", "import service; print(service.__file__)", cwd=elsewhere, env=run_env
    )
    assert Path(located.strip()).is_relative_to(env_dir), "the checkout's copy was imported"

    said = _run(env_dir / "bin" / "gpuval", "migrate", cwd=elsewhere, env=run_env)
    head = schema.head_revision("sqlite://")
    assert head is not None and head in said
    with sqlite3.connect(database) as db:
        (stored,) = db.execute("SELECT version_num FROM alembic_version").fetchone()
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert stored == head
    assert {"gpu_models", "observations", "assets", "audit_log"} <= tables
