"""The precision frontier, valuation assumptions, FX and the data version."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from service.db import current_data_version, make_sessionmaker
from tests.support import assert_problem

pytestmark = pytest.mark.anyio


def version(engine: Engine) -> int:
    with make_sessionmaker(engine)() as session:
        return current_data_version(session)


async def test_frontier_timeline_is_seeded_in_order(client: httpx.AsyncClient) -> None:
    response = await client.get("/frontier")
    items = response.json()["items"]
    assert [i["precision"] for i in items] == ["bf16", "fp8", "fp4"]
    assert all(i["source"] for i in items)
    assert response.headers["etag"]


async def test_frontier_replace_is_guarded_and_validated(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    current = await client.get("/frontier")
    items: list[dict[str, Any]] = [
        {k: v for k, v in i.items() if k != "revision"} for i in current.json()["items"]
    ]
    items[2]["effective_from"] = "2025-10-01"
    v0 = version(engine)

    backwards = [dict(i) for i in items]
    backwards[1]["effective_from"] = "2027-01-01"
    tag = {"If-Match": current.headers["etag"]}
    assert_problem(await client.put("/frontier", json={"items": items}), 428)
    assert_problem(
        await client.put("/frontier", json={"items": backwards}, headers=tag), 422, "effective_from"
    )
    twice = [items[0], items[1], {**items[1]}]
    assert_problem(
        await client.put("/frontier", json={"items": twice}, headers=tag), 422, "precision"
    )
    assert version(engine) == v0

    ok = await client.put(
        "/frontier", json={"items": items}, headers={"If-Match": current.headers["etag"]}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["items"][2]["effective_from"] == "2025-10-01"
    assert version(engine) == v0 + 1
    assert_problem(
        await client.put(
            "/frontier", json={"items": items}, headers={"If-Match": current.headers["etag"]}
        ),
        412,
    )

    only_two = await client.put("/frontier", json={"items": items[:2]}, headers={"If-Match": "*"})
    assert [i["precision"] for i in only_two.json()["items"]] == ["bf16", "fp8"]
    assert_problem(await client.post("/frontier", json=items[1]), 409)
    added = await client.post("/frontier", json={**items[2], "effective_from": "2025-08-05"})
    assert added.status_code == 201
    assert_problem(
        await client.post("/frontier", json={**items[2], "precision": "int4"}), 422, "precision"
    )


async def test_assumptions_have_units_bounds_and_reasons(client: httpx.AsyncClient) -> None:
    items = (await client.get("/assumptions")).json()["items"]
    names = {a["name"] for a in items}
    for required in ("utilisation", "discount_rate", "power_price_usd_per_kwh", "pue"):
        assert required in names
    for a in items:
        assert a["unit"] and a["reason"] and a["minimum"] <= a["value"] <= a["maximum"]


async def test_assumption_updates(client: httpx.AsyncClient, engine: Engine) -> None:
    got = await client.get("/assumptions/utilisation")
    v0 = version(engine)
    assert_problem(await client.put("/assumptions/utilisation", json={"value": 0.8}), 428)
    assert_problem(
        await client.put("/assumptions/utilisation", json={"value": 7}, headers={"If-Match": "*"}),
        422,
        "value",
    )
    assert_problem(
        await client.put(
            "/assumptions/utilisation", json={"value": 0.8}, headers={"If-Match": '"0"'}
        ),
        412,
    )
    assert_problem(
        await client.put("/assumptions/nope", json={"value": 1}, headers={"If-Match": "*"}), 404
    )
    assert version(engine) == v0
    ok = await client.put(
        "/assumptions/utilisation",
        json={"value": 0.8, "reason": "fleet actual"},
        headers={"If-Match": got.headers["etag"]},
    )
    assert (
        ok.status_code == 200
        and ok.json()["value"] == 0.8
        and ok.json()["reason"] == "fleet actual"
    )
    assert version(engine) == v0 + 1

    star = {"If-Match": "*"}
    bad = await client.put(
        "/assumptions",
        json={"values": {"utilisation": 0.7, "discount_rate": -1, "nope": 1}},
        headers=star,
    )
    assert_problem(bad, 422, "discount_rate", "nope")
    assert (await client.get("/assumptions/utilisation")).json()["value"] == 0.8
    listed = await client.get("/assumptions")
    stale = await client.put(
        "/assumptions", json={"values": {"utilisation": 0.7}}, headers={"If-Match": '"x"'}
    )
    assert_problem(stale, 412)
    many = await client.put(
        "/assumptions",
        json={"values": {"utilisation": 0.7, "discount_rate": 0.1}},
        headers={"If-Match": listed.headers["etag"]},
    )
    assert many.status_code == 200, many.text
    values = {a["name"]: a["value"] for a in many.json()["items"]}
    assert values["utilisation"] == 0.7 and values["discount_rate"] == 0.1


async def test_fx_lists_monthly_rates(client: httpx.AsyncClient) -> None:
    body = (
        await client.get(
            "/fx", params={"currency": "EUR", "month_from": "2024-01", "month_to": "2024-12"}
        )
    ).json()
    assert [r["month"] for r in body["items"]] == [f"2024-{m:02d}" for m in range(1, 13)]
    assert all(1.0 < r["usd_per_unit"] < 1.2 for r in body["items"])
    assert_problem(await client.get("/fx", params={"month_from": "2024-13"}), 422, "month_from")


async def test_every_registry_write_bumps_the_data_version_once(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    v0 = version(engine)
    patched = await client.patch(
        "/models/nvidia-h100-sxm5-80gb", json={"tdp_w": 699}, headers={"If-Match": "*"}
    )
    assert patched.status_code == 200
    assert version(engine) == v0 + 1
    rows = [
        {
            "observed_on": "2025-01-01",
            "model": "nvidia-h100-sxm5-80gb",
            "kind": "lease",
            "price": 2 + i / 100,
            "source": "t",
        }
        for i in range(10)
    ]
    assert (await client.post("/observations/import", json=rows)).status_code == 201
    assert version(engine) == v0 + 2
    await client.get("/models/nvidia-h100-sxm5-80gb")
    assert version(engine) == v0 + 2
