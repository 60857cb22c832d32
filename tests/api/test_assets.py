"""The asset register over HTTP: CRUD, filters, ETags, all-or-nothing import, book schedules."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.support import H100_FIELDS, assert_problem

pytestmark = pytest.mark.anyio

ASSET: dict[str, Any] = {
    "tag": "TEST-0001",
    "model": "nvidia-h100-sxm5-80gb",
    "gpu_count": 8,
    "in_service_on": "2024-02-29",
    "acquisition_cost": 250000,
    "currency": "USD",
    "salvage": 0,
    "book_method": "straight_line",
    "life_months": 60,
    "location": "Frankfurt DC1",
    "status": "active",
    "notes": "",
}


async def create(client: httpx.AsyncClient, **change: Any) -> httpx.Response:
    response = await client.post("/assets", json={**ASSET, **change})
    assert response.status_code == 201, response.text
    return response


async def total(client: httpx.AsyncClient, **params: Any) -> int:
    response = await client.get("/assets", params={"limit": 1, **params})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def schedule(client: httpx.AsyncClient, asset_id: int, **params: Any) -> dict[str, Any]:
    response = await client.get(f"/assets/{asset_id}/schedule", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cents(value: float) -> Decimal:
    return Decimal(repr(value))


# --- CRUD and ETags ---------------------------------------------------------------------------


async def test_create_read_replace_patch_delete(client: httpx.AsyncClient) -> None:
    created = await create(client)
    body = created.json()
    assert created.headers["location"] == f"/assets/{body['id']}"
    assert body["model"] == ASSET["model"] and body["acquisition_cost"] == 250000
    assert body["changes"] == [] and body["current_life_months"] == 60
    tag = created.headers["etag"]

    got = await client.get(created.headers["location"])
    assert got.json() == body and got.headers["etag"] == tag

    url = created.headers["location"]
    replaced = await client.put(
        url, json={**ASSET, "gpu_count": 4, "notes": "half a server"}, headers={"If-Match": tag}
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["gpu_count"] == 4 and replaced.headers["etag"] != tag

    stale = await client.patch(url, json={"status": "idle"}, headers={"If-Match": tag})
    assert_problem(stale, 412)
    assert (await client.get(url)).json()["status"] == "active"

    patched = await client.patch(
        url,
        json={"status": "idle", "location": "Frankfurt DC2"},
        headers={"If-Match": replaced.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "idle" and patched.json()["gpu_count"] == 4
    assert patched.json()["changes"] == []

    stale_delete = await client.delete(url, headers={"If-Match": tag})
    assert_problem(stale_delete, 412)
    deleted = await client.delete(url, headers={"If-Match": patched.headers["etag"]})
    assert deleted.status_code == 204
    assert_problem(await client.get(url), 404)


async def test_money_is_kept_to_the_cent(client: httpx.AsyncClient) -> None:
    body = (await create(client, acquisition_cost=1234.565, salvage=100.004)).json()
    assert body["acquisition_cost"] == 1234.57 and body["salvage"] == 100.0


async def test_duplicate_tag_is_409_and_changes_nothing(client: httpx.AsyncClient) -> None:
    await create(client)
    assert_problem(await client.post("/assets", json={**ASSET, "gpu_count": 1}), 409)
    assert await total(client) == 1
    other = await create(client, tag="TEST-0002")
    taken = await client.put(
        other.headers["location"],
        json={**ASSET, "tag": "TEST-0001"},
        headers={"If-Match": other.headers["etag"]},
    )
    assert_problem(taken, 409)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tag": ""}, "tag"),
        ({"model": "nvidia-x999"}, "model"),
        ({"model": "Not A Slug"}, "model"),
        ({"gpu_count": 0}, "gpu_count"),
        ({"in_service_on": "2024-02-30"}, "in_service_on"),
        ({"in_service_on": "1999-12-31"}, "in_service_on"),
        ({"acquisition_cost": -1}, "acquisition_cost"),
        ({"acquisition_cost": "1e999"}, "acquisition_cost"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "us"}, "currency"),
        ({"salvage": -5}, "salvage"),
        ({"salvage": 250000.01}, "salvage"),
        ({"book_method": "units_of_production"}, "book_method"),
        ({"life_months": 0}, "life_months"),
        ({"life_months": 601}, "life_months"),
        ({"status": "lost"}, "status"),
        ({"book_method": "macrs", "salvage": 1000}, "salvage"),
        ({"book_method": "macrs", "life_months": 48}, "life_months"),
        ({"colour": "green"}, "colour"),
    ],
)
async def test_bad_assets_are_refused_and_change_nothing(
    client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    assert_problem(await client.post("/assets", json={**ASSET, **change}), 422, field)
    assert await total(client) == 0


async def test_non_finite_cost_in_raw_json_is_refused(client: httpx.AsyncClient) -> None:
    raw = json.dumps({**ASSET, "acquisition_cost": 1.5}).replace("1.5", "NaN")
    response = await client.post(
        "/assets", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await total(client) == 0


async def test_unknown_asset_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/assets/999999"), 404)
    assert_problem(await client.get("/assets/999999/schedule"), 404)
    assert_problem(await client.get("/assets/0"), 422)


async def test_a_model_with_assets_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    model = await client.post("/models", json={"slug": "test-gpu-asset", **H100_FIELDS})
    assert model.status_code == 201, model.text
    asset = await create(client, model="test-gpu-asset")
    refused = await client.delete(
        "/models/test-gpu-asset", headers={"If-Match": model.headers["etag"]}
    )
    assert "asset" in assert_problem(refused, 409)["detail"]
    assert (await client.get("/models/test-gpu-asset")).status_code == 200
    assert (await client.get(asset.headers["location"])).status_code == 200

    gone = await client.delete(
        asset.headers["location"], headers={"If-Match": asset.headers["etag"]}
    )
    assert gone.status_code == 204
    deleted = await client.delete(
        "/models/test-gpu-asset", headers={"If-Match": model.headers["etag"]}
    )
    assert deleted.status_code == 204


# --- lists ------------------------------------------------------------------------------------


def fleet(count: int) -> list[dict[str, Any]]:
    models = ["nvidia-h100-sxm5-80gb", "nvidia-a100-sxm4-80gb"]
    statuses = ["active", "idle", "retired", "sold"]
    return [
        {
            **ASSET,
            "tag": f"FLEET-{i:04d}",
            "model": models[i % 2],
            "status": statuses[i % 4],
            "location": "Oslo" if i % 3 == 0 else "Dallas",
            "in_service_on": f"2023-{i % 12 + 1:02d}-15",
        }
        for i in range(count)
    ]


async def test_filters_combine(client: httpx.AsyncClient) -> None:
    rows = fleet(48)
    assert (await client.post("/assets/import", json=rows)).status_code == 201
    assert await total(client) == 48

    def expected(keep: Any) -> list[str]:
        return sorted(r["tag"] for r in rows if keep(r))

    params: dict[str, Any] = {
        "model": "nvidia-a100-sxm4-80gb",
        "status": "idle",
        "location": "dallas",
        "limit": 1000,
    }
    body = (await client.get("/assets", params=params)).json()
    assert [a["tag"] for a in body["items"]] == expected(
        lambda r: (
            r["model"] == params["model"] and r["status"] == "idle" and r["location"] == "Dallas"
        )
    )
    assert body["total"] == len(body["items"]) > 0

    dated = (
        await client.get(
            "/assets",
            params={"in_service_from": "2023-03-01", "in_service_to": "2023-05-31", "limit": 1000},
        )
    ).json()
    assert [a["tag"] for a in dated["items"]] == expected(
        lambda r: "2023-03-01" <= r["in_service_on"] <= "2023-05-31"
    )
    tagged = (await client.get("/assets", params={"tag": "fleet-001"})).json()
    assert [a["tag"] for a in tagged["items"]] == [f"FLEET-001{i}" for i in range(10)]


async def test_pagination_walks_every_asset_once(client: httpx.AsyncClient) -> None:
    assert (await client.post("/assets/import", json=fleet(50))).status_code == 201
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/assets", params=params)).json()
        assert body["total"] == 50
        seen += [a["id"] for a in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(set(seen)) and len(seen) == 50


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyJ4Il0"}, "cursor"),  # ["x"]
        ({"status": "lost"}, "status"),
        ({"model": "Not A Slug"}, "model"),
        ({"in_service_from": "2024-13-01"}, "in_service_from"),
        ({"in_service_from": "2025-01-01", "in_service_to": "2024-01-01"}, "in_service_from"),
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    assert_problem(await client.get("/assets", params=params), 422, field)


# --- import -----------------------------------------------------------------------------------


async def test_import_of_a_thousand_with_one_bad_row_writes_nothing(
    client: httpx.AsyncClient,
) -> None:
    rows = fleet(1000)
    rows[636] = {**rows[636], "salvage": 300000}
    body = assert_problem(await client.post("/assets/import", json=rows), 422, "salvage")
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(637, "salvage")]
    assert await total(client) == 0

    rows[636] = {**rows[636], "salvage": 0}
    ok = await client.post("/assets/import", json={"items": rows})
    assert ok.status_code == 201 and ok.json() == {"created": 1000, "skipped": 0}
    assert await total(client) == 1000


async def test_csv_import_names_every_bad_row_by_line(client: httpx.AsyncClient) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["model_slug", *(k for k in ASSET if k != "model")])
    writer.writeheader()
    for row in fleet(6):
        writer.writerow({"model_slug": row.pop("model"), **row})
    lines = out.getvalue().splitlines()
    good = "\n".join(lines) + "\n"
    ok = await client.post("/assets/import", content=good, headers={"content-type": "text/csv"})
    assert ok.status_code == 201, ok.text

    bad = [lines[0], lines[1].replace("FLEET-0000", "NEW-1"), lines[2].replace("FLEET", "NEW")]
    bad += [lines[3].replace("FLEET-0002", "NEW-1").replace("USD", "XYZ")]
    bad += [lines[4].replace("FLEET-0003", "NEW-4").replace("straight_line", "linear")]
    response = await client.post(
        "/assets/import", content="\n".join(bad) + "\n", headers={"content-type": "text/csv"}
    )
    body = assert_problem(response, 422)
    named = {(e["line"], e["field"]) for e in body["errors"]}
    assert named == {(4, "tag"), (4, "currency"), (5, "book_method")}
    assert await total(client) == 6

    clash = [lines[0], lines[1]]
    response = await client.post(
        "/assets/import", content="\n".join(clash) + "\n", headers={"content-type": "text/csv"}
    )
    assert [(e["line"], e["field"]) for e in assert_problem(response, 422)["errors"]] == [
        (2, "tag")
    ]


async def test_import_refuses_what_it_cannot_read(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.post(
            "/assets/import", content=b"tag\n", headers={"content-type": "text/plain"}
        ),
        422,
        "content-type",
    )
    assert_problem(
        await client.post(
            "/assets/import", content=b"[1, ", headers={"content-type": "application/json"}
        ),
        422,
    )
    assert_problem(await client.post("/assets/import", json=[{**ASSET, "model": "x-1"}]), 422)
    assert await total(client) == 0


# --- schedules --------------------------------------------------------------------------------


async def test_leap_day_asset_sums_to_cost_less_salvage(client: httpx.AsyncClient) -> None:
    asset = (await create(client)).json()
    body = await schedule(client, asset["id"])
    rows = body["schedule"]
    assert body["currency"] == "USD" and body["book_method"] == "straight_line"
    assert len(rows) == 61
    assert rows[0]["month"] == "2024-02" and rows[-1]["month"] == "2029-02"
    assert rows[0]["depreciation"] == 143.68  # one day of February 2024's 29
    assert {r["depreciation"] for r in rows[1:-1]} == {4166.67}
    assert sum(cents(r["depreciation"]) for r in rows) == Decimal(250000)
    assert rows[-1]["accumulated"] == 250000 and rows[-1]["book_value"] == 0
    assert {(r["life_months"], r["salvage"]) for r in rows} == {(60, 0)}

    with_salvage = (await create(client, tag="TEST-0002", salvage=10000.5)).json()
    rows = (await schedule(client, with_salvage["id"]))["schedule"]
    assert sum(cents(r["depreciation"]) for r in rows) == Decimal("239999.50")
    assert rows[-1]["book_value"] == 10000.5


async def test_schedule_through_a_month(client: httpx.AsyncClient) -> None:
    asset = (await create(client, currency="EUR")).json()
    body = await schedule(client, asset["id"], through="2024-12")
    assert body["currency"] == "EUR"
    assert [r["month"] for r in body["schedule"]][-1] == "2024-12"
    assert len(body["schedule"]) == 11
    assert (await schedule(client, asset["id"], through="2023-12"))["schedule"] == []
    assert_problem(
        await client.get(f"/assets/{asset['id']}/schedule", params={"through": "2024-13"}),
        422,
        "through",
    )


async def test_a_change_of_life_applies_from_its_month_on(client: httpx.AsyncClient) -> None:
    created = await create(client, in_service_on="2024-01-01", acquisition_cost=120000)
    url = created.headers["location"]
    before = (await schedule(client, created.json()["id"]))["schedule"]
    assert len(before) == 60 and {r["depreciation"] for r in before} == {2000}

    patched = await client.patch(
        url,
        json={"life_months": 72, "effective_from": "2025-01"},
        headers={"If-Match": created.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["life_months"] == 60 and body["current_life_months"] == 72
    assert body["changes"] == [{"effective_from": "2025-01", "life_months": 72, "salvage": None}]
    assert patched.headers["etag"] != created.headers["etag"]

    rows = (await schedule(client, body["id"]))["schedule"]
    assert len(rows) == 72
    assert rows[:12] == before[:12], "nothing already booked is restated"
    assert {r["depreciation"] for r in rows[12:]} == {1600}  # 96,000 over the 60 months left
    assert {r["life_months"] for r in rows[:12]} == {60}
    assert {r["life_months"] for r in rows[12:]} == {72}
    assert sum(cents(r["depreciation"]) for r in rows) == Decimal(120000)

    salvage = await client.patch(
        url,
        json={"salvage": 6000, "effective_from": "2026-01"},
        headers={"If-Match": patched.headers["etag"]},
    )
    assert salvage.status_code == 200, salvage.text
    assert salvage.json()["current_salvage"] == 6000 and salvage.json()["salvage"] == 0
    rows = (await schedule(client, body["id"]))["schedule"]
    assert rows[-1]["book_value"] == 6000 and rows[-1]["salvage"] == 6000
    assert {r["depreciation"] for r in rows[24:]} == {1475}  # (76,800 - 6,000) / 48
    assert sum(cents(r["depreciation"]) for r in rows) == Decimal(114000)


async def test_patching_the_same_month_amends_its_change(client: httpx.AsyncClient) -> None:
    created = await create(client, in_service_on="2024-01-01", acquisition_cost=120000)
    url, tag = created.headers["location"], created.headers["etag"]
    first = await client.patch(
        url, json={"life_months": 72, "effective_from": "2025-01"}, headers={"If-Match": tag}
    )
    second = await client.patch(
        url,
        json={"salvage": 1000, "effective_from": "2025-01"},
        headers={"If-Match": first.headers["etag"]},
    )
    assert second.json()["changes"] == [
        {"effective_from": "2025-01", "life_months": 72, "salvage": 1000}
    ]
    same = await client.patch(
        url,
        json={"life_months": 60, "salvage": 0, "effective_from": "2025-01"},
        headers={"If-Match": second.headers["etag"]},
    )
    assert same.json()["changes"] == [], "back to the terms in force: nothing to record"


async def test_a_change_in_the_in_service_month_corrects_the_terms(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client)
    patched = await client.patch(
        created.headers["location"],
        json={"life_months": 48, "effective_from": "2024-02"},
        headers={"If-Match": created.headers["etag"]},
    )
    assert patched.json()["life_months"] == 48 and patched.json()["changes"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"life_months": 72, "effective_from": "2023-12"}, "effective_from"),
        ({"effective_from": "2025-01"}, "effective_from"),
        ({"life_months": 72, "effective_from": "2025-13"}, "effective_from"),
        ({"life_months": 6, "effective_from": "2025-01"}, "life_months"),
        ({"salvage": 200000, "effective_from": "2026-01"}, "salvage"),
        ({"life_months": 72, "effective_from": "2031-01"}, "effective_from"),
        ({"salvage": 300000}, "salvage"),
        ({"acquisition_cost": -1}, "acquisition_cost"),
        ({"book_method": "macrs", "life_months": 48, "effective_from": "2024-01"}, "life_months"),
        ({"model": "nvidia-x999"}, "model"),
        ({"gpu_count": None}, "gpu_count"),
    ],
)
async def test_bad_patches_are_refused_and_change_nothing(
    client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    created = await create(client, in_service_on="2024-01-01", acquisition_cost=120000)
    response = await client.patch(
        created.headers["location"], json=change, headers={"If-Match": created.headers["etag"]}
    )
    assert_problem(response, 422, field)
    after = await client.get(created.headers["location"])
    assert after.json() == created.json() and after.headers["etag"] == created.headers["etag"]


async def test_macrs_asset_schedule_follows_the_tax_years(client: httpx.AsyncClient) -> None:
    asset = (
        await create(client, book_method="macrs", in_service_on="2024-01-01", salvage=0)
    ).json()
    rows = (await schedule(client, asset["id"]))["schedule"]
    by_year: dict[str, Decimal] = {}
    for r in rows:
        by_year[r["month"][:4]] = by_year.get(r["month"][:4], Decimal(0)) + cents(r["depreciation"])
    # 20.00 % and 32.00 %, to the cents that monthly rounding leaves (the engine's tolerance)
    assert abs(by_year["2024"] - 50000) <= Decimal("0.12")
    assert abs(by_year["2025"] - 80000) <= Decimal("0.12")
    assert sum(by_year.values()) == Decimal(250000)
    refused = await client.patch(
        f"/assets/{asset['id']}",
        json={"life_months": 84, "effective_from": "2026-01"},
        headers={"If-Match": f'"{asset["revision"]}"'},
    )
    assert_problem(refused, 422)


async def test_a_model_in_the_register_cannot_be_deleted(client: httpx.AsyncClient) -> None:
    """The foreign key refuses the delete; the answer names the assets that hold the model."""
    slug = "test-held-gpu"
    made = await client.post("/models", json={**H100_FIELDS, "slug": slug})
    assert made.status_code == 201, made.text
    first = (await create(client, tag="HELD-1", model=slug)).json()["id"]
    second = (await create(client, tag="HELD-2", model=slug)).json()["id"]
    refused = assert_problem(await client.delete(f"/models/{slug}", headers={"If-Match": "*"}), 409)
    assert f"assets {first}, {second}" in refused["detail"]
    assert (await client.get(f"/models/{slug}")).status_code == 200
    for asset_id in (first, second):
        gone = await client.delete(f"/assets/{asset_id}", headers={"If-Match": "*"})
        assert gone.status_code == 204, gone.text
    deleted = await client.delete(f"/models/{slug}", headers={"If-Match": "*"})
    assert deleted.status_code == 204, deleted.text
