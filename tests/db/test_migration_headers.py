"""A migration's header, where it states them, says what its code does: its id and the revision
it revises (Alembic reads only the code, so a wrong header misleads people alone)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from service import schema

VERSIONS = sorted((schema.ROOT / "migrations" / "versions").glob("*.py"))


def _assigned(tree: ast.Module, name: str) -> object:
    for node in tree.body:
        target: ast.expr
        value: ast.expr
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name:
            return ast.literal_eval(value)
    raise AssertionError(f"no {name}")


@pytest.mark.parametrize("path", VERSIONS, ids=lambda p: p.name)
def test_the_header_names_the_revision_and_its_parent(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    header = dict(
        line.split(": ", 1)
        for line in (ast.get_docstring(tree) or "").splitlines()
        if line.startswith(("Revision ID: ", "Revises: "))
    )
    parent = _assigned(tree, "down_revision")
    stated = {"Revision ID": _assigned(tree, "revision"), "Revises": parent or ""}
    for key, value in header.items():
        assert value.strip() == stated[key], f"{path.name}: {key}: {value} (code: {stated[key]})"


def test_there_are_migrations() -> None:
    assert len(VERSIONS) >= 3
