"""The README is executable documentation: its shell and Python examples run as written.

Every ```` ```sh ```` block is run with bash (``set -euo pipefail``), in the README's order and in
one shell, as a new user would type them in a second terminal (a ```` ```python ```` block with
the checkout's ``.venv/bin/python`` from that shell): against ``gpuval serve`` started in
a fresh folder that holds only the checkout's ``.venv`` and ``examples/``, so the server and
``gpuval keys create`` share the default ``gpuval.db`` and ``.gpuval-secret`` there. The only
setting the test supplies is ``GPUVAL_URL``, the server's address, which the README reads
(``${GPUVAL_URL:-http://localhost:8000}``). ``curl`` is made to fail on an HTTP error
(``fail-with-body`` in a ``.curlrc``), so a 4xx or 5xx answer breaks its block.

A block that cannot run here carries ``<!-- readme-test: skip (reason) -->`` on the line before
its fence; the number of such blocks is pinned, so a new block is never skipped silently. The
PostgreSQL block (``<!-- readme-test: postgresql (...) -->``) runs on a new database of a unique
name, on the server of ``TEST_DATABASE_URL`` or else the README's own, and is dropped after.

Faster in-process checks on the backend under test: every URL the README shows answers 200 and
the sample files under ``examples/`` import as its import examples say.
"""

from __future__ import annotations

import csv
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from service.db import normalise_url
from tests import support
from tests.support import TEST_DATABASE_URL, Backend

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
EXAMPLES = ROOT / "examples"
VENV = Path(sys.executable).parent.parent

# Blocks the README marks as not runnable here, each with its reason. Changing this number is a
# decision to take in review, not a side effect of adding a block.
EXPECTED_SKIPPED = 6
START_TIMEOUT_S = 30.0
RUN_TIMEOUT_S = 60.0
# Settings a developer's shell may carry that a new user's has not.
_SERVER_SETTINGS = (
    "DATABASE_URL",
    "SECRET_FILE",
    "API_KEY_SECRET",
    "REQUIRE_READ_KEY",
    "HOST",
    "PORT",
    "GPUVAL_URL",
)

_FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"<!--\s*readme-test:\s*(\w+)\s*\((.+?)\)\s*-->\s*\n?\Z", re.DOTALL)


@dataclass(frozen=True)
class Block:
    number: int  # 1-based among the README's shell and Python blocks
    line: int  # of the opening fence
    language: str  # "sh" or "python"
    mode: str  # "run", "skip" or "postgresql"
    reason: str
    source: str


def readme_blocks(readme: str = README) -> list[Block]:
    """The README's ```` ```sh ```` and ```` ```python ```` blocks with the marker on the line
    before each, if any."""
    blocks: list[Block] = []
    for match in _FENCE.finditer(readme):
        if match[1] not in ("sh", "python"):
            continue
        before = readme[: match.start()].rstrip(" ")
        previous = before.splitlines(keepends=True)[-1] if before else ""
        marker = _MARKER.search(previous)
        mode, reason = (marker[1], marker[2].strip()) if marker else ("run", "")
        blocks.append(
            Block(
                number=len(blocks) + 1,
                line=readme.count("\n", 0, match.start()) + 1,
                language=match[1],
                mode=mode,
                reason=reason,
                source=match[2],
            )
        )
    return blocks


def test_every_shell_block_runs_or_is_marked_with_a_reason() -> None:
    blocks = readme_blocks()
    modes = [b.mode for b in blocks]
    assert set(modes) <= {"run", "skip", "postgresql"}, modes
    skipped = [b for b in blocks if b.mode == "skip"]
    assert all(len(b.reason) > 10 for b in skipped), [(b.line, b.reason) for b in skipped]
    assert len(skipped) == EXPECTED_SKIPPED, [(b.line, b.reason) for b in skipped]
    assert modes.count("postgresql") == 1
    assert [b.language for b in blocks if b.mode == "run"].count("python") == 1
    # The runnable part still covers the tour: keys, reads, writes and imports.
    runnable = "".join(b.source for b in blocks if b.mode == "run")
    assert "gpuval keys create" in runnable and runnable.count('"$GPUVAL_URL/') >= 20
    # Every marker sits right before a shell fence: none is left stranded by an edit.
    assert README.count("<!-- readme-test:") == EXPECTED_SKIPPED + 1


def test_the_block_parser_reads_markers_and_ignores_other_languages() -> None:
    text_ = (
        "a\n\n```sh\necho 1\n```\n\n<!-- readme-test: skip (opens a browser) -->\n"
        "```sh\nxdg-open x\n```\n\n```python\nprint(1)\n```\n\n```text\nx\n```\n"
    )
    blocks = readme_blocks(text_)
    assert [(b.language, b.mode, b.reason, b.source) for b in blocks] == [
        ("sh", "run", "", "echo 1\n"),
        ("sh", "skip", "opens a browser", "xdg-open x\n"),
        ("python", "run", "", "print(1)\n"),
    ]
    assert [b.line for b in blocks] == [3, 8, 12]


# --- The live run ----------------------------------------------------------------------------


def _user_environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_SETTINGS}
    (folder / ".curlrc").write_text("fail-with-body\nsilent\nshow-error\n")
    env["CURL_HOME"] = str(folder)
    return env


def _a_new_checkout(folder: Path) -> Path:
    """A folder as the README's commands expect the checkout: ``.venv`` and ``examples/``."""
    assert (VENV / "bin" / "gpuval").exists(), f"no gpuval command in {VENV}"
    folder.mkdir()
    (folder / ".venv").symlink_to(VENV, target_is_directory=True)
    (folder / "examples").symlink_to(EXAMPLES, target_is_directory=True)
    return folder


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """``.venv/bin/gpuval serve --port P`` in a fresh checkout folder; yields it and its URL."""
    folder = _a_new_checkout(tmp_path_factory.mktemp("readme") / "checkout")
    env = _user_environment(folder)
    port = _free_port()
    log = (folder.parent / "server.log").open("wb")
    server = subprocess.Popen(
        [".venv/bin/gpuval", "serve", "--port", str(port)],
        cwd=folder,
        env={**env, "SHUTDOWN_DRAIN_S": "0"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                log.flush()
                output = (folder.parent / "server.log").read_text()[-3000:]
                pytest.fail(f"gpuval serve did not start on port {port}:\n{output}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield folder, url
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _run_in_one_shell(
    blocks: list[Block], folder: Path, env: dict[str, str]
) -> tuple[list[int], subprocess.CompletedProcess[str]]:
    """Source each shell block in turn in one bash with ``set -euo pipefail`` (a Python block
    runs there with ``.venv/bin/python``); returns the numbers of the blocks that finished and
    the shell's result."""
    scripts = folder.parent / "blocks"
    scripts.mkdir(exist_ok=True)
    finished = folder.parent / "finished.txt"
    finished.write_text("")
    driver = ["set -euo pipefail"]
    for block in blocks:
        script = scripts / f"block-{block.number}.{block.language}"
        script.write_text(block.source)
        run = f"source {script}" if block.language == "sh" else f".venv/bin/python {script}"
        driver += [
            f"printf '\\n### README block {block.number} (line {block.line})\\n' >&2",
            run,
            f"echo {block.number} >> {finished}",
        ]
    result = subprocess.run(
        ["bash", "-c", "\n".join(driver)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    return [int(n) for n in finished.read_text().split()], result


def _failure(blocks: list[Block], ran: list[int], result: subprocess.CompletedProcess[str]) -> str:
    broken = next((b for b in blocks if b.number not in ran), None)
    where = f"block {broken.number} (README line {broken.line}):\n{broken.source}" if broken else ""
    return (
        f"the README's {where}\nexit {result.returncode}\n"
        f"stderr:\n{result.stderr[-4000:]}\nstdout:\n{result.stdout[-2000:]}"
    )


def test_the_readme_shell_blocks_run_as_written(served: tuple[Path, str]) -> None:
    folder, url = served
    blocks = [b for b in readme_blocks() if b.mode == "run"]
    env = {**_user_environment(folder), "GPUVAL_URL": url}
    ran, result = _run_in_one_shell(blocks, folder, env)
    assert result.returncode == 0, _failure(blocks, ran, result)
    assert ran == [b.number for b in blocks], _failure(blocks, ran, result)
    # What the blocks did is there: the key they created, the asset, the fleet export.
    assert "rack7-node3" in httpx.get(f"{url}/assets").raise_for_status().text
    fleet = (folder / "fleet.csv").read_text()
    assert fleet.splitlines()[0] and len(fleet.splitlines()) >= 4, fleet[:500]


# --- The PostgreSQL block --------------------------------------------------------------------

# The server the README names; the test runs the block there unless TEST_DATABASE_URL names one.
_README_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _postgresql_server() -> URL:
    url = make_url(normalise_url(TEST_DATABASE_URL or _README_SERVER))
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        if TEST_DATABASE_URL or os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is unreachable at {url!r}: {exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL at {url!r} to run the README's PostgreSQL block")
    finally:
        engine.dispose()
    return url


def _on_server(source: str, server: URL, name: str) -> str:
    """The block with the README's server and database name replaced; each must be found."""
    host, port, user = server.host or "127.0.0.1", str(server.port or 5432), server.username or ""
    credentials = user + (f":{server.password}" if server.password else "")
    replacements = {
        "-h 127.0.0.1 -p 5432 -U postgres gpuval": f"-h {host} -p {port} -U {user} {name}",
        "postgresql://postgres@127.0.0.1:5432/gpuval": (
            f"postgresql://{credentials}@{host}:{port}/{name}"
        ),
    }
    for old, new in replacements.items():
        assert source.count(old) == 1, f"the PostgreSQL block no longer says {old!r}"
        source = source.replace(old, new)
    return source


def test_the_readme_postgresql_block_creates_migrates_and_seeds(tmp_path: Path) -> None:
    (block,) = [b for b in readme_blocks() if b.mode == "postgresql"]
    server = _postgresql_server()
    name = f"gpuval_readme_{uuid.uuid4().hex[:12]}"
    folder = _a_new_checkout(tmp_path / "checkout")
    env = _user_environment(folder)
    if server.password:
        env["PGPASSWORD"] = server.password
    runnable = replace(block, mode="run", source=_on_server(block.source, server, name))
    backend = Backend("postgresql", server.render_as_string(hide_password=False))
    created = backend.url_for(name)
    try:
        ran, result = _run_in_one_shell([runnable], folder, env)
        assert result.returncode == 0 and ran == [block.number], _failure([block], ran, result)
        engine = create_engine(created)
        try:
            with engine.connect() as connection:
                models = connection.execute(text("SELECT count(*) FROM gpu_models")).scalar_one()
                head = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        finally:
            engine.dispose()
        assert models > 0 and len(head) == 1
    finally:
        support.drop_database(backend, created)


# --- In process, on the backend under test ---------------------------------------------------

# `curl "$GPUVAL_URL/…"`, `curl -i "…"` and `xdg-open "$GPUVAL_URL/…"`: the README's reads.
_GET = re.compile(r'(?:curl (?:-i )?|xdg-open )"\$GPUVAL_URL(/[^"]*)"')


def _readme_gets() -> list[str]:
    return [
        path
        for block in readme_blocks()
        if block.mode != "postgresql"
        for line in block.source.splitlines()
        if "-X " not in line
        for path in _GET.findall(line)
    ]


def test_the_readme_shows_reads_to_check() -> None:
    paths = _readme_gets()
    # A change of the README's curl style that this parser misses must fail here, not pass.
    assert len(paths) >= 18, paths
    assert {"/healthz", "/frontier", "/assets/1/schedule", "/docs", "/"} <= set(paths)


async def _import(client: httpx.AsyncClient, path: str, name: str) -> httpx.Response:
    body = (EXAMPLES / name).read_bytes()
    return await client.post(path, content=body, headers={"content-type": "text/csv"})


@pytest.mark.anyio
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


@pytest.mark.anyio
async def test_example_observations_are_reference_rows_that_import(
    client: httpx.AsyncClient,
) -> None:
    rows = _rows(EXAMPLES / "observations.csv")
    reference = _rows(ROOT / "service" / "data" / "observations.csv")
    assert rows and all(row in reference for row in rows), "a price not in the reference file"
    response = await _import(client, "/observations/import", "observations.csv")
    assert response.status_code == 201, response.text
    assert response.json()["created"] == len(rows)


@pytest.mark.anyio
async def test_example_assets_import(client: httpx.AsyncClient) -> None:
    rows = _rows(EXAMPLES / "assets.csv")
    response = await _import(client, "/assets/import", "assets.csv")
    assert response.status_code == 201, response.text
    assert response.json()["created"] == len(rows)
    listed = (await client.get("/assets")).json()["items"]
    assert {a["tag"] for a in listed} >= {row["tag"] for row in rows}
    for path in ("examples/observations.csv", "examples/assets.csv"):
        assert f"@{path}" in README, f"the README does not use {path}"
