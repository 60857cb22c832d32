"""The engine is pure: stdlib + NumPy only, no clock, no file or network I/O (STYLE.md habit 1)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "service" / "engine"
#: Every module of the engine, no exemptions.
MODULES = sorted(ENGINE.glob("*.py"))
FORBIDDEN_PACKAGES = {
    "fastapi",
    "sqlalchemy",
    "pydantic",
    "httpx",
    "starlette",
    "alembic",
    "psycopg",
    "uvicorn",
    "requests",
    "urllib3",
    "tqdm",
    "pandas",
}
FORBIDDEN_IMPORTS = FORBIDDEN_PACKAGES | {
    "os",
    "pathlib",
    "io",
    "socket",
    "subprocess",
    "urllib",
    "http",
    "time",
    "random",
    "csv",
    "sqlite3",
    "shutil",
    "tempfile",
}
FORBIDDEN_CALLS = {"open", "input", "print", "now", "today", "utcnow", "time", "perf_counter"}


def test_importing_the_engine_loads_no_web_orm_or_io_package() -> None:
    names = [f"service.engine.{p.stem}" for p in MODULES if p.stem != "__init__"]
    code = (
        "import importlib, json, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not loaded & FORBIDDEN_PACKAGES


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_has_no_forbidden_import_or_call_and_declares_all(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots = {(node.module or "").split(".")[0]}
        else:
            roots = set()
        assert not roots & FORBIDDEN_IMPORTS, f"{path.name}: imports {roots & FORBIDDEN_IMPORTS}"
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {name}()"
    assigned = {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    assert "__all__" in assigned, f"{path.name} has no explicit __all__"
