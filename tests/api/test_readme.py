"""The README's examples work as written: every GET it shows answers 200 on the seeded catalogue,
and the sample files under examples/ import as its import examples say."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
EXAMPLES = ROOT / "examples"

# `curl 'localhost:8000/…'`, `curl -i '…'` and `curl localhost:8000/…`: the README's reads.
_GET = re.compile(r"curl (?:-i )?'?localhost:8000(/[^'\s;]*)'?")


def _readme_gets() -> list[str]:
    return [
        path
        for line in README.splitlines()
        if "curl" in line and "-X " not in line
        for path in _GET.findall(line)
    ]


def test_the_readme_shows_reads_to_check() -> None:
    paths = _readme_gets()
    # A change of the README's curl style that this parser misses must fail here, not pass.
    assert len(paths) >= 15, paths
    assert {"/healthz", "/frontier", "/assets/1/schedule"} <= set(paths)


async def _import(client: httpx.AsyncClient, path: str, name: str) -> httpx.Response:
    body = (EXAMPLES / name).read_bytes()
    return await client.post(path, content=body, headers={"content-type": "text/csv"})


async def test_every_get_in_the_readme_answers_200(client: httpx.AsyncClient) -> None:
    # The README creates assets before it reads /assets/1/schedule; the sample file does here.
    assert (await _import(client, "/assets/import", "assets.csv")).status_code == 201
    failures = {}
    for path in _readme_gets():
        response = await client.get(path)
        if response.status_code != 200:
            failures[path] = (response.status_code, response.text[:300])
    assert not failures, failures


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


async def test_example_observations_are_reference_rows_that_import(
    client: httpx.AsyncClient,
) -> None:
    rows = _rows(EXAMPLES / "observations.csv")
    reference = _rows(ROOT / "service" / "data" / "observations.csv")
    assert rows and all(row in reference for row in rows), "a price not in the reference file"
    response = await _import(client, "/observations/import", "observations.csv")
    assert response.status_code == 201, response.text
    assert response.json()["created"] == len(rows)


async def test_example_assets_import(client: httpx.AsyncClient) -> None:
    rows = _rows(EXAMPLES / "assets.csv")
    response = await _import(client, "/assets/import", "assets.csv")
    assert response.status_code == 201, response.text
    assert response.json()["created"] == len(rows)
    listed = (await client.get("/assets")).json()["items"]
    assert {a["tag"] for a in listed} >= {row["tag"] for row in rows}
    for path in ("examples/observations.csv", "examples/assets.csv"):
        assert f"@{path}" in README, f"the README does not use {path}"
