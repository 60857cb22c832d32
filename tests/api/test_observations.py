"""Market observations over HTTP: filters, validation, all-or-nothing bulk import."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pytest

from tests.support import assert_problem

pytestmark = pytest.mark.anyio

GOOD: dict[str, Any] = {
    "observed_on": "2025-10-01",
    "model": "nvidia-h100-sxm5-80gb",
    "kind": "lease",
    "price": 2.99,
    "currency": "USD",
    "term": "on_demand",
    "provider": "Test Cloud",
    "region": "US",
    "source": "https://example.test/pricing captured 2025-10-01",
}


async def total(client: httpx.AsyncClient, **params: Any) -> int:
    response = await client.get("/observations", params={"limit": 1, **params})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


async def test_filters_and_date_range(client: httpx.AsyncClient) -> None:
    params: dict[str, str | int] = {
        "model": "nvidia-h100-sxm5-80gb",
        "kind": "lease",
        "term": "on_demand",
        "from": "2025-01-01",
        "to": "2025-06-30",
        "limit": 1000,
    }
    body = (await client.get("/observations", params=params)).json()
    assert body["items"] and body["total"] == len(body["items"])
    for o in body["items"]:
        assert o["model"] == params["model"] and o["kind"] == "lease" and o["term"] == "on_demand"
        assert "2025-01-01" <= o["observed_on"] <= "2025-06-30"
    cny = (await client.get("/observations", params={"currency": "CNY"})).json()
    assert cny["total"] == 4 and {o["currency"] for o in cny["items"]} == {"CNY"}
    lambda_rows = (
        await client.get("/observations", params={"provider": "lambda", "limit": 5})
    ).json()
    assert lambda_rows["items"] and all(
        "lambda" in o["provider"].lower() for o in lambda_rows["items"]
    )


async def test_pagination_is_complete_and_in_date_order(client: httpx.AsyncClient) -> None:
    ids: list[int] = []
    dates: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"model": "nvidia-a100-sxm4-80gb", "limit": 37}
        if cursor:
            params["cursor"] = cursor
        body = (await client.get("/observations", params=params)).json()
        ids += [o["id"] for o in body["items"]]
        dates += [o["observed_on"] for o in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(ids) == len(set(ids)) == body["total"]
    assert dates == sorted(dates)


async def test_create_and_read_back(client: httpx.AsyncClient) -> None:
    before = await total(client)
    response = await client.post("/observations", json=GOOD)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["unit"] == "gpu_hour" and created["condition"] is None
    assert (await client.get(response.headers["location"])).json() == created
    assert await total(client) == before + 1


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"price": -1}, 422, "price"),
        ({"price": 0}, 422, "price"),
        ({"price": "1e999"}, 422, "price"),
        ({"currency": "XYZ"}, 422, "currency"),
        ({"currency": "us"}, 422, "currency"),
        ({"observed_on": "2025-02-30"}, 422, "observed_on"),
        ({"observed_on": "2999-01-01"}, 422, "observed_on"),
        ({"observed_on": "1999-12-31"}, 422, "observed_on"),
        ({"model": "nvidia-x999"}, 422, "model"),
        ({"kind": "rent"}, 422, "kind"),
        ({"term": "5y"}, 422, "term"),
        ({"condition": "used"}, 422, "body"),
        ({"unit": "gpu"}, 422, "body"),
        ({"source": ""}, 422, "source"),
    ],
)
async def test_bad_observations_are_refused_and_change_nothing(
    client: httpx.AsyncClient, change: dict[str, Any], status: int, field: str
) -> None:
    before = await total(client)
    assert_problem(await client.post("/observations", json={**GOOD, **change}), status, field)
    assert await total(client) == before


async def test_non_finite_price_in_raw_json_is_refused(client: httpx.AsyncClient) -> None:
    before = await total(client)
    raw = json.dumps({**GOOD, "price": 1.0}).replace("1.0", "Infinity")
    response = await client.post(
        "/observations", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await total(client) == before


async def test_sale_rules(client: httpx.AsyncClient) -> None:
    sale = {**GOOD, "kind": "sale", "price": 18000, "term": "unknown", "condition": "used"}
    response = await client.post("/observations", json=sale)
    assert response.status_code == 201, response.text
    assert response.json()["unit"] == "gpu"
    assert_problem(await client.post("/observations", json={**sale, "term": "1y"}), 422, "body")


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _thousand() -> list[dict[str, Any]]:
    return [{**GOOD, "price": round(1 + i / 1000, 4), "provider": f"bulk-{i}"} for i in range(1000)]


async def test_csv_import_with_one_bad_row_in_a_thousand_writes_nothing_and_names_it(
    client: httpx.AsyncClient,
) -> None:
    rows = _thousand()
    rows[616]["price"] = "-3"
    before = await total(client)
    response = await client.post(
        "/observations/import", content=_csv(rows), headers={"content-type": "text/csv"}
    )
    body = assert_problem(response, 422, "price")
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(618, "price")]  # header is line 1
    assert "nothing was written" in body["detail"]
    assert await total(client) == before


async def test_json_import_reports_every_bad_row(client: httpx.AsyncClient) -> None:
    rows = _thousand()
    rows[3]["model"] = "nvidia-x999"
    rows[500]["currency"] = "XYZ"
    rows[999]["observed_on"] = "2025-13-01"
    before = await total(client)
    body = assert_problem(await client.post("/observations/import", json=rows), 422)
    assert {(e["line"], e["field"]) for e in body["errors"]} == {
        (4, "model"),
        (501, "currency"),
        (1000, "observed_on"),
    }
    assert await total(client) == before


async def test_good_import_writes_every_row(client: httpx.AsyncClient) -> None:
    rows = _thousand()
    before = await total(client)
    response = await client.post(
        "/observations/import",
        content=_csv(rows),
        headers={"content-type": "text/csv; charset=utf-8"},
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"created": 1000, "skipped": 0}
    assert await total(client) == before + 1000
    assert await total(client, provider="bulk-999") == 1


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"", "text/csv", 422),
        (b"observed_on,model\n2025-01-01", "application/xml", 422),
        (b"\xff\xfe\x00", "text/csv", 422),
        (b"[1, 2", "application/json", 422),
        (b'{"not": "a list"}', "application/json", 422),
        (b"[1, 2]", "application/json", 422),
        (b"observed_on,model\n2025-01-01,a,b,c\n", "text/csv", 422),
    ],
)
async def test_unreadable_imports_are_refused(
    client: httpx.AsyncClient, content: bytes, content_type: str, status: int
) -> None:
    before = await total(client)
    assert_problem(
        await client.post(
            "/observations/import", content=content, headers={"content-type": content_type}
        ),
        status,
    )
    assert await total(client) == before


async def test_the_reference_file_imports_as_is(client: httpx.AsyncClient) -> None:
    from importlib import resources

    text = resources.files("service.data").joinpath("observations.csv").read_text()
    before = await total(client)
    response = await client.post(
        "/observations/import", content=text, headers={"content-type": "text/csv"}
    )
    assert response.status_code == 201, response.text
    assert await total(client) == 2 * before


async def test_delete_observation_with_if_match(client: httpx.AsyncClient) -> None:
    created = await client.post("/observations", json=GOOD)
    location, tag = created.headers["location"], created.headers["etag"]
    assert_problem(await client.delete(location, headers={"If-Match": '"999"'}), 412)
    assert (await client.delete(location, headers={"If-Match": tag})).status_code == 204
    assert_problem(await client.get(location), 404)


async def test_bad_list_parameters(client: httpx.AsyncClient) -> None:
    assert_problem(
        await client.get("/observations", params={"from": "2025-06-01", "to": "2025-01-01"}),
        422,
        "from",
    )
    assert_problem(await client.get("/observations", params={"from": "2025-02-30"}), 422, "from")
    assert_problem(await client.get("/observations", params={"limit": 100000}), 422, "limit")
    assert_problem(await client.get("/observations/0"), 422)
    assert_problem(await client.get("/observations/123456789"), 404)
