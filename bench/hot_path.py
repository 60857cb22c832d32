"""The hot path under wrk: /quote, /residual and /models beside /healthz and a bare FastAPI app.

Everything in one run, on this machine, loopback only:

1. **cold start**: ``gpuval serve`` on an empty SQLite file (it migrates and seeds it), timed
   from the process start to the first 200 from ``/quote``;
2. a **bare FastAPI app** (one ``/healthz`` route, no middleware, same uvicorn settings) in its
   own process, as the ceiling of what the framework and server can do;
3. **wrk** (``wrk -t1 -cC -dDs --latency``) against each URL in turn, after a short warm-up, one
   server process each; throughput, p50 and p99, and the ratios the service is held to.

    python bench/hot_path.py --seconds 10 --connections 32

Needs ``wrk`` on PATH (Debian: ``apt-get install wrk``). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

QUOTE = "/quote?model=nvidia-h100-sxm5-80gb&term=1y&as_of=2026-06-01"
RESIDUAL = "/residual?model=nvidia-h100-sxm5-80gb&age_months=24&as_of=2026-06-01"
MODELS = "/models?limit=10"
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


UVICORN = [sys.executable, "-m", "uvicorn", "--no-access-log"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, *, timeout_s: float = 60.0) -> float:
    """Seconds until ``url`` answers 200."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.01)
    raise SystemExit(f"{url} did not answer within {timeout_s} s")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, *, seconds: float, connections: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": float(non_2xx.group(1)) if non_2xx else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=2.0)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    workdir = Path(tempfile.mkdtemp(prefix="gpuval-hot-"))
    port, bare_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "SECRET_FILE": str(workdir / "secret"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "warning"),
        "SHUTDOWN_DRAIN_S": "0",
    }
    gpuval = Path(sys.executable).with_name("gpuval")
    (workdir / "bare_app.py").write_text(BARE_APP)
    started = time.perf_counter()
    server = subprocess.Popen(
        [str(gpuval), "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bare = None
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + QUOTE)
        cold = time.perf_counter() - started
        bare = subprocess.Popen(
            [*UVICORN, "bare_app:app", "--port", str(bare_port), "--log-level", "warning"],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(f"http://127.0.0.1:{bare_port}/healthz")
        targets = {
            "bare FastAPI /healthz": f"http://127.0.0.1:{bare_port}/healthz",
            "/healthz": base + "/healthz",
            "/quote": base + QUOTE,
            "/residual": base + RESIDUAL,
            "/models?limit=10": base + MODELS,
        }
        rows = {}
        for name, url in targets.items():
            wrk(url, seconds=args.warmup, connections=args.connections)
            rows[name] = wrk(url, seconds=args.seconds, connections=args.connections)
    finally:
        for process in (server, bare):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    loop = "uvloop" if _has("uvloop") else "asyncio"
    http = "httptools" if _has("httptools") else "h11"
    print(f"cold start (spawn, migrate, seed, first /quote): {cold:.2f} s")
    print(
        f"wrk -t1 -c{args.connections} -d{args.seconds:g}s, one server process each, "
        f"uvicorn loop={loop} http={http}, {os.cpu_count()} cores"
    )
    print(f"{'endpoint':<24} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, r in rows.items():
        print(
            f"{name:<24} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['non_2xx']:>8.0f}"
        )
    health = rows["/healthz"]["rps"]
    print(f"/healthz / bare FastAPI:  {health / rows['bare FastAPI /healthz']['rps']:.2f}")
    for name in ("/quote", "/residual", "/models?limit=10"):
        print(f"{name + ' / /healthz:':<26}{rows[name]['rps'] / health:.2f}")
    return 0


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    raise SystemExit(main())
