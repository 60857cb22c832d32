"""JSON encoders for large answers: what FastAPI does now against orjson, msgspec and stdlib.

Builds real answers in process on a fresh seeded SQLite file (every model with ``limit=1000``;
a residual with its curve and path; a 200-item batch quote), turns each back into its response
model, then times encoding it to JSON bytes, best of 5 runs of N:

- **pydantic dump_json**: the response model's TypeAdapter straight to bytes (Rust), which is
  what FastAPI 0.165 does for a route with a response model and the default response class;
- **stdlib / orjson / msgspec**: ``model_dump(mode="json")`` to Python objects (what any of them
  needs first), then that encoder; the dump alone is shown too.

    python bench/json_encoding.py          # orjson and msgspec must be importable
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, TypeAdapter

H100 = "nvidia-h100-sxm5-80gb"


async def answers(url: str) -> dict[str, tuple[type[BaseModel], bytes]]:
    from service.api import Page
    from service.app import create_app
    from service.config import Settings
    from service.registry.schemas import GpuModelRead
    from service.valuation.schemas import QuoteBatchRead, ResidualRead

    app = create_app(Settings(database_url=url, warm_calibration=False, json_logs=False))
    batch = {"items": [{"model": H100, "term": t, "as_of": "2026-06-01"} for t in ["1y"] * 200]}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client,
    ):
        models = await client.get("/models?limit=1000")
        residual = await client.get(
            f"/residual?model={H100}&age_months=12&as_of=2026-06-01&include=curve,path"
        )
        quotes = await client.post("/quote", json=batch)
    for r in (models, residual, quotes):
        r.raise_for_status()
    return {
        "GET /models?limit=1000": (Page[GpuModelRead], models.content),
        "GET /residual (curve, path)": (ResidualRead, residual.content),
        "POST /quote (200 items)": (QuoteBatchRead, quotes.content),
    }


def best(fn: Callable[[], Any], number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def main() -> int:
    import msgspec
    import orjson

    from service.cli import main as gpuval

    workdir = Path(tempfile.mkdtemp(prefix="gpuval-json-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    os.environ.update(DATABASE_URL=url, SECRET_FILE=str(workdir / "secret"), LOG_LEVEL="warning")
    gpuval(["migrate"])
    gpuval(["seed"])
    encoder = msgspec.json.Encoder()
    print(f"{'answer':<30} {'bytes':>8} {'encoder':<28} {'µs':>9} {'× pydantic':>10}")
    for name, (model, body) in asyncio.run(answers(url)).items():
        value = model.model_validate_json(body)
        adapter = TypeAdapter(model)
        plain = value.model_dump(mode="json")
        runs: dict[str, Callable[[], Any]] = {
            "pydantic dump_json (now)": lambda a=adapter, v=value: a.dump_json(v),
            "model_dump only": lambda v=value: v.model_dump(mode="json"),
            "model_dump + stdlib json": lambda v=value: json.dumps(
                v.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")
            ).encode(),
            "model_dump + orjson": lambda v=value: orjson.dumps(v.model_dump(mode="json")),
            "model_dump + msgspec": lambda v=value: encoder.encode(v.model_dump(mode="json")),
            "orjson (dict given)": lambda p=plain: orjson.dumps(p),
            "msgspec (dict given)": lambda p=plain: encoder.encode(p),
            "stdlib (dict given)": lambda p=plain: json.dumps(p, separators=(",", ":")).encode(),
        }
        number = max(1, 20_000 // max(1, len(body) // 100))
        base = 0.0
        for label, fn in runs.items():
            t = best(fn, number)
            base = base or t
            print(f"{name:<30} {len(body):>8} {label:<28} {t * 1e6:>9.1f} {t / base:>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
