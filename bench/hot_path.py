"""The hot path under wrk: /quote, /residual and /models beside /healthz and a bare FastAPI app.

Everything in one run, on this machine, loopback only:

1. **cold start**: from an empty database to the first 200 from ``/quote`` (for today): on
   SQLite, ``gpuval serve`` on an empty file (it migrates and seeds it itself); with
   ``--postgres``, ``gpuval migrate``, ``gpuval seed`` and ``gpuval serve`` on a new database;
2. a **bare FastAPI app** (one ``/healthz`` route, no middleware, same uvicorn) in its own
   process, as the ceiling of what the framework and server can do;
3. **wrk** (``wrk -t1 -cC -dDs --latency``) against each URL in turn after a warm-up: one
   server process (one worker), throughput, p50 and p99, and the ratios the service is held to.
   ``/quote ×9`` rotates over nine queries (3 models × 3 terms); ``/quote, keyed`` sends a
   read key, so it is authenticated and computed every time (never from the memo). The targets
   run in interleaved rounds and each row shows its best round: on a shared machine a
   neighbour's load only ever slows a run down.

    python bench/hot_path.py --seconds 10 --connections 32
    python bench/hot_path.py --postgres postgresql://postgres@127.0.0.1/postgres

Needs ``wrk`` on PATH (Debian: ``apt-get install wrk``). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

H100 = "nvidia-h100-sxm5-80gb"
QUOTE = f"/quote?model={H100}&term=1y&as_of=2026-06-01"
RESIDUAL = f"/residual?model={H100}&age_months=24&as_of=2026-06-01"
MODELS = "/models?limit=10"
VARIANTS = [
    f"/quote?model={m}&term={t}&as_of=2026-06-01"
    for m in (H100, "nvidia-a100-sxm4-80gb", "nvidia-b200-sxm-180gb")
    for t in ("on_demand", "1y", "3y")
]
BARE_APP = """
from fastapi import FastAPI
from pydantic import BaseModel

class Health(BaseModel):
    status: str
    version: str

app = FastAPI()

@app.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok", version="0.1.0")
"""
ROTATE = """
paths = {%s}
i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
"""
UVICORN = [sys.executable, "-m", "uvicorn", "--no-access-log", "--log-level", "warning"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, *, timeout_s: float = 120.0) -> None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        try:
            if httpx.get(url, timeout=10).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.005)
    raise SystemExit(f"{url} did not answer within {timeout_s} s")


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    assert match, text
    return float(match[1]) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[match[2]]


def wrk(url: str, *, seconds: float, connections: int, extra: list[str]) -> dict[str, float]:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", *extra, url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found = {
        name: re.search(pattern, out)
        for name, pattern in {
            "rps": r"Requests/sec:\s+([\d.]+)",
            "p50": r"\s50%\s+(\S+)",
            "p99": r"\s99%\s+(\S+)",
        }.items()
    }
    assert all(found.values()), out
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": float(found["rps"][1]),  # type: ignore[index]
        "p50_ms": _ms(found["p50"][1]),  # type: ignore[index]
        "p99_ms": _ms(found["p99"][1]),  # type: ignore[index]
        "non_2xx": float(bad[1]) if bad else 0.0,
    }


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (``gpuval migrate``, ``gpuval seed``)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _process_cpu(pid: int) -> float:
    """CPU seconds a running process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gpuval(*args: str, env: dict[str, str], cwd: Path) -> str:
    exe = str(Path(sys.executable).with_name("gpuval"))
    done = subprocess.run([exe, *args], env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"gpuval {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def create_database(admin_url: str) -> str:
    import psycopg

    name = f"gv_hot_bench_{os.getpid()}"
    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3, help="report each row's best round")
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="bench on a new PostgreSQL db")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    workdir = Path(tempfile.mkdtemp(prefix="gpuval-hot-"))
    database = create_database(args.postgres) if args.postgres else f"sqlite:///{workdir}/b.db"
    port, bare_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "SECRET_FILE": str(workdir / "secret"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "warning"),
        "SHUTDOWN_DRAIN_S": "0",
    }
    (workdir / "bare_app.py").write_text(BARE_APP)
    (workdir / "rotate.lua").write_text(ROTATE % ", ".join(f'"{p}"' for p in VARIANTS))
    base = f"http://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        started = time.perf_counter()
        children_cpu = _children_cpu()
        if args.postgres:
            gpuval("migrate", env=env, cwd=workdir)
            gpuval("seed", env=env, cwd=workdir)
        exe = str(Path(sys.executable).with_name("gpuval"))
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        processes.append(
            subprocess.Popen([exe, "serve", "--port", str(port)], env=env, cwd=workdir, **quiet)
        )
        wait_for(f"{base}/quote?model={H100}&term=1y")
        cold = time.perf_counter() - started
        cold_cpu = _children_cpu() - children_cpu + _process_cpu(processes[0].pid)
        key = gpuval("keys", "create", "--name", "bench", "--scopes", "read", env=env, cwd=workdir)
        keyed = ["-H", f"Authorization: Bearer {key.strip().splitlines()[-1]}"]
        command = [*UVICORN, "bare_app:app", "--port", str(bare_port)]
        processes.append(subprocess.Popen(command, cwd=workdir, **quiet))
        wait_for(f"http://127.0.0.1:{bare_port}/healthz")
        rotate = ["-s", str(workdir / "rotate.lua")]
        targets = {
            "bare FastAPI /healthz": (f"http://127.0.0.1:{bare_port}/healthz", []),
            "/healthz": (base + "/healthz", []),
            "/quote": (base + QUOTE, []),
            "/quote ×9": (base + "/", rotate),
            "/quote, keyed": (base + QUOTE, keyed),
            "/residual": (base + RESIDUAL, []),
            "/models?limit=10": (base + MODELS, []),
        }
        for url, extra in targets.values():
            wrk(url, seconds=args.warmup, connections=args.connections, extra=extra)
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(args.rounds):  # interleaved, so that a neighbour's load hits every row
            for name, (url, extra) in targets.items():
                run = wrk(url, seconds=args.seconds, connections=args.connections, extra=extra)
                rounds[name].append(run)
        rows = {name: max(runs, key=lambda r: r["rps"]) for name, runs in rounds.items()}
        status = Path(f"/proc/{processes[0].pid}/status").read_text()
        peak_mb = int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) / 1024  # type: ignore[index]
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        if args.postgres:
            drop_database(args.postgres, database)
        shutil.rmtree(workdir, ignore_errors=True)

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    backend = "PostgreSQL" if args.postgres else "SQLite"
    steps = "migrate, seed, serve" if args.postgres else "serve (migrates and seeds)"
    print(
        f"cold start on {backend} ({steps}, first /quote): {cold:.2f} s wall, "
        f"{cold_cpu:.2f} s CPU (user + system, every process)"
    )
    print(f"server process peak RSS after the run: {peak_mb:.0f} MB")
    print(
        f"wrk -t1 -c{args.connections} -d{args.seconds:g}s, best of {args.rounds} interleaved "
        "rounds, one server process each, "
        f"uvicorn loop={loop} http={http}, {os.cpu_count()} cores shared with wrk"
    )
    print(f"| {'endpoint':<22} | {'req/s':>7} | {'p50 ms':>7} | {'p99 ms':>7} | {'non-2xx':>7} |")
    for name, r in rows.items():
        print(
            f"| {name:<22} | {r['rps']:>7.0f} | {r['p50_ms']:>7.2f} | {r['p99_ms']:>7.2f} "
            f"| {r['non_2xx']:>7.0f} |"
        )
    health = rows["/healthz"]["rps"]
    print(f"/healthz ÷ bare FastAPI: {health / rows['bare FastAPI /healthz']['rps']:.2f}")
    for name in ("/quote", "/quote ×9", "/quote, keyed", "/residual", "/models?limit=10"):
        print(f"{name} ÷ /healthz: {rows[name]['rps'] / health:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
