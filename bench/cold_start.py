"""Cold start: from an empty database to the first quote, and the charts page on a cold server.

Each run starts from nothing, in a new temporary directory, with ``LOG_LEVEL=warning``:

- **SQLite** (default): ``gpuval serve`` on an empty file, which migrates it, loads the
  reference catalogue and serves; **PostgreSQL** (``--postgres ADMIN_URL``): ``gpuval migrate``,
  ``gpuval seed`` and ``gpuval serve`` on a new database (dropped at the end).
- It polls ``/healthz`` and ``/quote`` (today, one model, term ``1y``, as a client would ask)
  every 5 ms and prints the wall time until the server first listens and until the first 200
  from ``/quote``, with the CPU time of every process involved.

``--phases`` also times, in one fresh interpreter, the steps of the SQLite cold start one after
the other (import of the command line, migrations, seeding, import of the app, the first
calibration), with no server and the garbage collector paused as ``gpuval serve`` pauses it:
where the time goes.

``--page`` also opens the charts page at ``/`` in headless Chromium (Debian's ``chromium`` and
``chromium-driver``, through Selenium), right after the first quote of each run: the page's own
load time (``data-loaded-ms``: from navigation until every chart is done), cold, then again on
the same server (warm); and, since the history chart fills in its quotes as they come, the time
until every chart shows something (``data-drawn-ms``). ``--page-delay S`` opens it S seconds
after the first quote instead of at once: a server that has been up a little while.

    python bench/cold_start.py                    # 5 runs on SQLite
    python bench/cold_start.py --runs 3 --phases --page
    python bench/cold_start.py --runs 3 --page --page-delay 5
    python bench/cold_start.py --postgres postgresql://postgres@127.0.0.1/postgres

Nothing here is a test; the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx

H100 = "nvidia-h100-sxm5-80gb"
QUOTE = f"/quote?model={H100}&term=1y"
PAGE_TIMEOUT_S = 300

PHASES = textwrap.dedent(
    """
    import gc
    import time
    gc.disable()  # as `gpuval serve` does for its start-up
    started = time.perf_counter()
    marks = []

    def mark(name):
        marks.append((name, time.perf_counter()))

    import service.cli as cli
    mark("import the command line")
    from service import schema
    from service.config import Settings
    settings = Settings()
    schema.upgrade(settings.database_url)
    mark("migrate an empty SQLite file")
    cli._seed(settings)
    mark("seed the reference catalogue")
    from service.app import create_app
    mark("import the app")
    app = create_app(settings)
    mark("create the app")
    from service.common.clock import today
    from service.db import make_engine, make_sessionmaker
    from service.state import resources
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine)() as session:
        resources(app).valuer.context(session, as_of=today(), known_at=None)
    mark("first calibration (today)")
    previous = started
    for name, at in marks:
        print(f"PHASE {name}\\t{at - previous:.3f}")
        previous = at
    print(f"PHASE total\\t{previous - started:.3f}")
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gpuval(*args: str, env: dict[str, str], cwd: Path) -> None:
    exe = str(Path(sys.executable).with_name("gpuval"))
    done = subprocess.run([exe, *args], env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"gpuval {' '.join(args)} failed: {done.stderr}")


def create_database(admin_url: str, run: int) -> str:
    import psycopg

    name = f"gv_cold_bench_{os.getpid()}_{run}"
    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _poll(base: str, started: float, timeout_s: float = 120.0) -> tuple[float, float]:
    """Seconds from ``started`` until ``/healthz`` and then ``/quote`` first answer 200."""
    listening = None
    with httpx.Client(timeout=60) as client:
        while time.perf_counter() - started < timeout_s:
            try:
                if listening is None:
                    if client.get(base + "/healthz").status_code == 200:
                        listening = time.perf_counter() - started
                    continue
                if client.get(base + QUOTE).status_code == 200:
                    return listening, time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.005)
    raise SystemExit(f"{base} gave no quote within {timeout_s} s")


def _browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (browser and driver):
        raise SystemExit("--page needs chromium and chromium-driver (apt-get install them)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,2100")
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    chrome.set_page_load_timeout(PAGE_TIMEOUT_S)
    chrome.get("about:blank")
    time.sleep(3)  # let the browser's own start-up settle before a cold start is timed
    return chrome


def _page_s(chrome: Any, url: str) -> tuple[float | None, float]:
    """Seconds from navigation until every chart shows something (None from a page that does
    not say), and until all are done."""
    from selenium.webdriver.support.ui import WebDriverWait

    chrome.get(url)
    WebDriverWait(chrome, PAGE_TIMEOUT_S).until(
        lambda d: d.execute_script("return document.documentElement.dataset.charts") == "done"
    )
    drawn, loaded = chrome.execute_script(
        "const d = document.documentElement.dataset; return [d.drawnMs, d.loadedMs];"
    )
    return (None if drawn is None else int(drawn) / 1000), int(loaded) / 1000


def one_run(args: argparse.Namespace, run: int, chrome: Any) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="gpuval-cold-"))
    database = create_database(args.postgres, run) if args.postgres else f"sqlite:///{workdir}/c.db"
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "SECRET_FILE": str(workdir / "secret"),
        "LOG_LEVEL": "warning",
        "SHUTDOWN_DRAIN_S": "0",
    }
    base = f"http://127.0.0.1:{port}"
    process = None
    try:
        children = _children_cpu()
        started = time.perf_counter()
        if args.postgres:
            gpuval("migrate", env=env, cwd=workdir)
            gpuval("seed", env=env, cwd=workdir)
        exe = str(Path(sys.executable).with_name("gpuval"))
        process = subprocess.Popen(
            [exe, "serve", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        listening, quoted = _poll(base, started)
        cpu = _children_cpu() - children + _process_cpu(process.pid)
        result = {"listening": listening, "quote": quoted, "cpu": cpu}
        if chrome is not None:
            time.sleep(args.page_delay)
            page = f"{base}/?model={H100}"
            for name in ("page", "page warm"):
                drawn, result[name] = _page_s(chrome, page)
                if drawn is not None:
                    result[f"{name} drawn"] = drawn
            chrome.get("about:blank")  # idle until the next run's cold start is measured
        return result
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        if args.postgres:
            drop_database(args.postgres, database)
        shutil.rmtree(workdir, ignore_errors=True)


def phases() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="gpuval-phases-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir}/p.db",
        "SECRET_FILE": str(workdir / "secret"),
        "LOG_LEVEL": "warning",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", PHASES], env=env, cwd=workdir, capture_output=True, text=True
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if done.returncode != 0:
        raise SystemExit(f"phases failed: {done.stderr}")
    print("phases of an SQLite cold start, one interpreter, no server:")
    for line in done.stdout.splitlines():
        if line.startswith("PHASE "):
            name, seconds = line[6:].split("\t")
            print(f"  {name:<32} {float(seconds):6.3f} s")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="cold start on a new PostgreSQL db")
    parser.add_argument("--phases", action="store_true", help="time the steps in one process")
    parser.add_argument("--page", action="store_true", help="time the charts page in Chromium")
    parser.add_argument(
        "--page-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="open the page S seconds after the first quote (default 0: at once)",
    )
    args = parser.parse_args()
    if args.phases:
        phases()
    chrome = _browser() if args.page else None
    try:
        runs = [one_run(args, run, chrome) for run in range(args.runs)]
    finally:
        if chrome is not None:
            chrome.quit()
    backend = "PostgreSQL (migrate, seed, serve)" if args.postgres else "SQLite (serve)"
    print(f"cold start on {backend}, {args.runs} runs, {os.cpu_count()} cores, seconds:")
    print(f"| {'measure':<34} | {'best':>6} | {'median':>6} | {'worst':>6} |")
    labels = {
        "listening": "first 200 from /healthz",
        "quote": "first 200 from /quote (today)",
        "cpu": "CPU, every process, to the quote",
        "page drawn": "page at /, every chart showing",
        "page": "page at /, every chart done",
        "page warm drawn": "again (warm), every chart showing",
        "page warm": "again (warm), every chart done",
    }
    for key, label in labels.items():
        values = [r[key] for r in runs if key in r]
        if values:
            print(
                f"| {label:<34} | {min(values):6.2f} | {statistics.median(values):6.2f} "
                f"| {max(values):6.2f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
