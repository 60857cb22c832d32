"""Time ``POST /quote`` with 1,000 items beside one item and beside 1,000 single requests.

Builds a fresh SQLite database (migrated and seeded), calibrates once, then drives the app in
process through httpx's ASGITransport, each shape ``--repeat`` times (best and median):

- ``single``: one ``POST /quote`` of one item (what one answer costs end to end);
- ``batch, price list``: 1,000 distinct items (9 models × 4 terms × 28 GPU counts), every one
  a different answer;
- ``batch, repeated``: 1,000 items cycling over 108 distinct ones (9 models × 4 terms × 3 GPU
  counts), as a client asking for the same rates across many lines sends them;
- ``1,000 singles``: the price list sent item by item, for the ratio.

Nothing here is a test; the target is a 1,000-item batch in at most 150 ms.

    python bench/batch_quote.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from service import schema
from service.app import create_app
from service.config import Settings
from service.db import make_engine, make_sessionmaker, unit_of_work
from service.registry.seed import seed_all

AS_OF = "2026-06-30"
MODELS = [
    "nvidia-v100-sxm2-32gb",
    "nvidia-a100-sxm4-40gb",
    "nvidia-a100-sxm4-80gb",
    "nvidia-h100-pcie-80gb",
    "nvidia-h100-sxm5-80gb",
    "nvidia-h200-sxm-141gb",
    "nvidia-b200-sxm-180gb",
    "nvidia-l40s-48gb",
    "amd-mi300x-192gb",
]
TERMS = ["on_demand", "spot", "1y", "3y"]


def _items(gpu_counts: list[int]) -> list[dict[str, Any]]:
    shapes = itertools.cycle(itertools.product(MODELS, TERMS, gpu_counts))
    return [
        {"model": m, "term": t, "gpus": g, "as_of": AS_OF}
        for m, t, g in itertools.islice(shapes, 1000)
    ]


async def _time(repeat: int, run: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        seconds.append(time.perf_counter() - started)
    return min(seconds), statistics.median(seconds)


async def _drive(url: str, repeat: int) -> list[tuple[str, float, float]]:
    app = create_app(Settings(database_url=url, api_key_secret="bench", json_logs=False))
    price_list, repeated = _items(list(range(1, 29))), _items([1, 8, 64])
    assert len({str(i) for i in price_list}) == 1000
    out = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def post(body: dict[str, Any]) -> None:
                response = await client.post("/quote", json=body)
                assert response.status_code == 200, response.text

            await post({"items": price_list[:2]})  # calibrate, warm the route

            async def singles() -> None:
                for item in price_list:
                    await post(item)

            shapes: list[tuple[str, Callable[[], Awaitable[None]], int]] = [
                ("single", lambda: post(price_list[0]), repeat),
                ("batch, price list", lambda: post({"items": price_list}), repeat),
                ("batch, repeated", lambda: post({"items": repeated}), repeat),
                ("1,000 singles", singles, 1),
            ]
            for name, run, times in shapes:
                best, median = await _time(times, run)
                out.append((name, best, median))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gpuval-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'batch.db'}"
        schema.upgrade(url)
        db = make_engine(url)
        with unit_of_work(make_sessionmaker(db)) as session:
            seed_all(session)
        db.dispose()
        results = asyncio.run(_drive(url, args.repeat))
    print(f"{'shape':<20} {'best ms':>9} {'median ms':>10}")
    for name, best, median in results:
        print(f"{name:<20} {best * 1000:>9.1f} {median * 1000:>10.1f}")
    by = {name: median for name, _, median in results}
    print(
        f"1,000-item batch (price list) / single: {by['batch, price list'] / by['single']:.0f}x; "
        f"1,000 singles / batch: {by['1,000 singles'] / by['batch, price list']:.1f}x; "
        f"target: batch <= 150 ms"
    )
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
