"""The reference catalogue (``service/data``) as engine inputs, with no database.

For benchmarks, tests and offline studies: the engine does no I/O, so this reads the CSV files
that ``gpuval seed`` loads and builds the engine's types from them.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any, cast

from service.engine import (
    Calibration,
    FrontierEntry,
    FxRate,
    ModelSpec,
    Observation,
    calibrate,
)

DATA = files("service") / "data"


def _rows(name: str) -> list[dict[str, str]]:
    text = (DATA / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


#: The timeline the service seeds (service/data/frontier.csv), so callers price what users see.
FRONTIER: tuple[FrontierEntry, ...] = tuple(
    FrontierEntry(date.fromisoformat(r["effective_from"]), cast(Any, r["precision"]))
    for r in _rows("frontier.csv")
)


@cache
def models() -> tuple[ModelSpec, ...]:
    return tuple(
        ModelSpec(
            slug=r["slug"],
            vendor=r["vendor"],
            architecture=r["architecture"],
            segment=r["segment"],
            form_factor=r["form_factor"],
            release_date=date.fromisoformat(r["release_date"]),
            launch_price_usd=float(r["launch_price_usd"]) if r["launch_price_usd"] else None,
            memory_gb=float(r["memory_gb"]),
            memory_bw_tbps=float(r["memory_bw_tbps"]),
            tdp_w=float(r["tdp_w"]),
            bf16_tflops=float(r["bf16_tflops"]),
            fp8_tflops=float(r["fp8_tflops"]),
            fp4_tflops=float(r["fp4_tflops"]),
            fp8=r["fp8"] == "true",
            fp4=r["fp4"] == "true",
        )
        for r in _rows("gpu_models.csv")
    )


@cache
def observations() -> tuple[Observation, ...]:
    return tuple(
        Observation(
            observed_on=date.fromisoformat(r["observed_on"]),
            model_slug=r["model_slug"],
            kind=cast(Any, r["kind"]),
            price=float(r["price"]),
            currency=r["currency"],
            term=cast(Any, r["term"]),
            condition=cast(Any, r["condition"] or None),
            provider=r["provider"],
            notes=r["notes"],
        )
        for r in _rows("observations.csv")
    )


@cache
def fx() -> tuple[FxRate, ...]:
    return tuple(
        FxRate(r["month"], r["currency"], float(r["usd_per_unit"])) for r in _rows("fx_usd.csv")
    )


def spec(slug: str) -> ModelSpec:
    return next(m for m in models() if m.slug == slug)


@cache
def calibration(as_of: date) -> Calibration:
    """One calibration per date, kept for the process (the engine is deterministic)."""
    return calibrate(models(), observations(), fx(), FRONTIER, as_of=as_of)
