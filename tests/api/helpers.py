"""Small assertions shared by the API tests."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine, inspect, text


def assert_problem(response: httpx.Response, status: int, *fields: str) -> dict[str, Any]:
    """The response is RFC 9457 problem+json with this status, naming these failing fields."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:gpuval:problem:")
    assert body["title"] and body["detail"]
    named = {e["field"] for e in body.get("errors", [])}
    for field in fields:
        assert any(field in name for name in named), f"{field!r} not in {named}"
    return body


H100_FIELDS: dict[str, Any] = {
    "vendor": "NVIDIA",
    "family": "H100",
    "variant": "SXM5 80GB test",
    "architecture": "Hopper",
    "segment": "datacenter",
    "release_date": "2023-03-01",
    "launch_price_usd": 30000,
    "memory_gb": 80,
    "memory_bw_tbps": 3.35,
    "tdp_w": 700,
    "bf16_tflops": 989,
    "fp8_tflops": 1979,
    "fp4_tflops": 0,
    "form_factor": "SXM5",
    "source": "NVIDIA H100 datasheet",
}


# Tables that hold data; idempotency claims and the schema version are bookkeeping.
_BOOKKEEPING = frozenset({"idempotency_keys", "alembic_version"})


def snapshot(engine: Engine) -> dict[str, int]:
    """Rows per data table. Every change is also audited, so a write that slipped through a
    refusal (an update too) changes this."""
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
            for table in sorted(set(inspect(engine).get_table_names()) - _BOOKKEEPING)
        }
