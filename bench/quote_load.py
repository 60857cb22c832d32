"""Drive GET /quote and GET /healthz side by side with the same load generator.

Starts `gpuval serve` on a fresh embedded SQLite database (migrated and seeded), warms the
calibration, then runs the same closed-loop load (C concurrent connections for D seconds,
bounded in requests) against each endpoint on 127.0.0.1 and prints throughput, p50 and p99,
and the quote/healthz throughput ratio. Nothing here is a test: numbers go in notes.

    python bench/quote_load.py --seconds 10 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

QUOTE = "/quote?model=nvidia-h100-sxm5-80gb&term=1y&as_of=2026-06-01"
VARIED = [
    f"/quote?model={m}&term={t}&as_of=2026-06-01"
    for m in ("nvidia-h100-sxm5-80gb", "nvidia-a100-sxm4-80gb", "nvidia-b200-sxm-180gb")
    for t in ("on_demand", "1y", "3y")
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive(
    base: str, paths: list[str], *, seconds: float, concurrency: int, cap: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal errors
        i = offset
        while time.perf_counter() < deadline and len(latencies) < cap:
            started = time.perf_counter()
            response = await client.get(paths[i % len(paths)])
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200
            i += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client, k) for k in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=200_000)
    args = parser.parse_args()

    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="gpuval-bench-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "SECRET_FILE": str(workdir / "secret"),
        "LOG_LEVEL": "warning",
        "SHUTDOWN_DRAIN_S": "0",
    }
    gpuval = Path(sys.executable).with_name("gpuval")
    server = subprocess.Popen(
        [str(gpuval), "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit("server did not start")
        t0 = time.perf_counter()
        assert httpx.get(base + QUOTE, timeout=120).status_code == 200
        print(f"first /quote after start-up: {1000 * (time.perf_counter() - t0):.0f} ms")
        for path in VARIED:
            httpx.get(base + path, timeout=120)
        rows = {}
        for name, paths in (
            ("healthz", ["/healthz"]),
            ("quote", [QUOTE]),
            ("quote (9 variants)", VARIED),
        ):
            rows[name] = asyncio.run(
                drive(
                    base,
                    paths,
                    seconds=args.seconds,
                    concurrency=args.concurrency,
                    cap=args.max_requests,
                )
            )
        print(
            f"{args.concurrency} connections, {args.seconds:g} s each, one uvicorn worker, loopback"
        )
        header = ("endpoint", "requests", "errors", "req/s", "p50 ms", "p99 ms")
        print("{:<20} {:>9} {:>7} {:>9} {:>8} {:>8}".format(*header))
        for name, r in rows.items():
            counts = f"{r['requests']:>9.0f} {r['errors']:>7.0f} {r['rps']:>9.0f}"
            print(f"{name:<20} {counts} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}")
        print(
            f"throughput ratio quote/healthz: {rows['quote']['rps'] / rows['healthz']['rps']:.2f}"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
