#!/usr/bin/env python3
"""Set up and run the project with nothing but Python: ``python3 tasks.py TASK [ARGS]``.

Tasks: run, test, lint (ruff, mypy, import contracts), openapi, and gpuval (the command line:
``tasks.py gpuval keys list``).

Creates ``.venv`` (once, and again when pyproject.toml changes), installs the project with its
test extras, then runs the task inside it. The README's two commands and CI both use this file.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("GPUVAL_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".gpuval-installed"


def _run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def setup() -> None:
    """A virtual environment with the project and its test extras, reinstalled on change."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[test]")
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TASKS:
        print(__doc__)
        print("tasks:", ", ".join(TASKS))
        return 2
    setup()
    task, rest = argv[0], argv[1:]
    command = TASKS[task](rest)
    if not command:
        return 0
    for step in command[:-1]:
        _run(*step)
    final = [str(c) for c in command[-1]]
    print("+", " ".join(final), flush=True)
    return subprocess.call(final, cwd=ROOT)


TASKS = {
    "setup": lambda rest: [],
    # byte-compile the package first (quick when nothing changed): where the environment sets
    # PYTHONDONTWRITEBYTECODE, every start would otherwise compile ~120 modules from source
    "run": lambda rest: [
        [BIN / "python", "-m", "compileall", "-q", "service"],
        [BIN / "gpuval", "serve", *rest],
    ],
    "test": lambda rest: [[BIN / "python", "-m", "pytest", *rest]],
    "lint": lambda rest: [
        [BIN / "ruff", "check", "."],
        [BIN / "ruff", "format", "--check", "."],
        [BIN / "mypy"],
        [BIN / "lint-imports"],
    ],
    "openapi": lambda rest: [[BIN / "gpuval", "openapi", *rest]],
    "gpuval": lambda rest: [[BIN / "gpuval", *rest]],
}

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
