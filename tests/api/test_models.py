"""The GPU model registry over HTTP."""

from __future__ import annotations

import csv
import json
from importlib import resources

import httpx
import pytest

from tests.support import H100_FIELDS, assert_problem

pytestmark = pytest.mark.anyio


def catalogue() -> list[dict[str, str]]:
    text = resources.files("service.data").joinpath("gpu_models.csv").read_text()
    return list(csv.DictReader(text.splitlines()))


async def test_fp8_filter_lists_exactly_the_fp8_models_of_the_catalogue(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/models", params={"fp8": "true", "limit": 1000})
    assert response.status_code == 200
    body = response.json()
    expected = sorted(r["slug"] for r in catalogue() if float(r["fp8_tflops"]) > 0)
    assert [m["slug"] for m in body["items"]] == expected
    assert body["total"] == len(expected)
    assert body["next_cursor"] is None
    assert "nvidia-h100-sxm5-80gb" in expected and "nvidia-a100-sxm4-80gb" not in expected


async def test_filters_combine(client: httpx.AsyncClient) -> None:
    body = (
        await client.get(
            "/models", params={"vendor": "nvidia", "fp8": "false", "segment": "datacenter"}
        )
    ).json()
    assert body["items"], "the catalogue has non-FP8 NVIDIA datacenter parts"
    for m in body["items"]:
        assert m["vendor"] == "NVIDIA" and not m["fp8"] and m["segment"] == "datacenter"
    search = (await client.get("/models", params={"q": "H100"})).json()
    assert search["items"] and all("h100" in m["slug"] for m in search["items"])
    arch = (await client.get("/models", params={"architecture": "hopper"})).json()
    assert {m["architecture"] for m in arch["items"]} == {"Hopper"}


async def test_pagination_walks_every_model_once(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/models", params=params)).json()
        assert body["total"] == len(catalogue())
        seen += [m["slug"] for m in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(r["slug"] for r in catalogue())


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 1001}, "limit"),
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"fp8": "maybe"}, "fp8"),
        ({"segment": "edge"}, "segment"),
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, params: dict[str, str | int], field: str
) -> None:
    assert_problem(await client.get("/models", params=params), 422, field)


async def test_unknown_slug_is_404(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/models/nvidia-x999"), 404)
    assert "nvidia-x999" in body["detail"]


async def test_create_read_replace_patch_delete(client: httpx.AsyncClient) -> None:
    created = await client.post("/models", json={"slug": "test-gpu-80gb", **H100_FIELDS})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/models/test-gpu-80gb"
    assert created.json()["fp8"] is True and created.json()["fp4"] is False
    tag = created.headers["etag"]

    got = await client.get("/models/test-gpu-80gb")
    assert got.json() == created.json() and got.headers["etag"] == tag

    replaced = await client.put(
        "/models/test-gpu-80gb", json={**H100_FIELDS, "fp8_tflops": 0}, headers={"If-Match": tag}
    )
    assert replaced.status_code == 200 and replaced.json()["fp8"] is False
    assert replaced.headers["etag"] != tag

    stale = await client.patch(
        "/models/test-gpu-80gb", json={"tdp_w": 1}, headers={"If-Match": tag}
    )
    assert_problem(stale, 412)
    patched = await client.patch(
        "/models/test-gpu-80gb", json={"tdp_w": 650}, headers={"If-Match": replaced.headers["etag"]}
    )
    assert patched.status_code == 200 and patched.json()["tdp_w"] == 650
    assert patched.json()["memory_gb"] == 80

    assert_problem(await client.delete("/models/test-gpu-80gb"), 428)
    latest = {"If-Match": patched.headers["etag"]}
    assert (await client.delete("/models/test-gpu-80gb", headers=latest)).status_code == 204
    assert_problem(await client.get("/models/test-gpu-80gb"), 404)


async def test_duplicate_slug_is_409_and_changes_nothing(client: httpx.AsyncClient) -> None:
    before = (await client.get("/models/nvidia-h100-sxm5-80gb")).json()
    response = await client.post(
        "/models", json={"slug": "nvidia-h100-sxm5-80gb", **H100_FIELDS, "tdp_w": 1}
    )
    assert_problem(response, 409)
    assert (await client.get("/models/nvidia-h100-sxm5-80gb")).json() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"slug": "Bad Slug"}, "slug"),
        ({"launch_price_usd": -5}, "launch_price_usd"),
        ({"memory_gb": 0}, "memory_gb"),
        ({"release_date": "2024-02-30"}, "release_date"),
        ({"release_date": "1850-01-01"}, "release_date"),
        ({"segment": "edge"}, "segment"),
        ({"fp8": False}, "body"),
        ({"colour": "green"}, "colour"),
    ],
)
async def test_invalid_models_are_refused(
    client: httpx.AsyncClient, change: dict[str, object], field: str
) -> None:
    body = {"slug": "test-gpu-bad", **H100_FIELDS, **change}
    assert_problem(await client.post("/models", json=body), 422, field)
    assert_problem(
        await client.get(
            f"/models/{body['slug']}" if body["slug"] == "test-gpu-bad" else "/models/test-gpu-bad"
        ),
        404,
    )


async def test_patch_that_would_make_the_model_inconsistent_is_422(
    client: httpx.AsyncClient,
) -> None:
    before = (await client.get("/models/nvidia-h100-sxm5-80gb")).json()
    response = await client.patch(
        "/models/nvidia-h100-sxm5-80gb",
        json={"bf16_tflops": 0, "fp8_tflops": 0, "fp4_tflops": 0},
        headers={"If-Match": "*"},
    )
    assert_problem(response, 422)
    assert (await client.get("/models/nvidia-h100-sxm5-80gb")).json() == before


async def test_non_finite_numbers_are_refused(client: httpx.AsyncClient) -> None:
    fields = {**H100_FIELDS, "slug": "test-nan", "memory_gb": 1.5, "bf16_tflops": 2.5}
    raw = json.dumps(fields).replace("1.5", "NaN").replace("2.5", "Infinity")
    response = await client.post(
        "/models", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert_problem(await client.get("/models/test-nan"), 404)


async def test_delete_with_observations_needs_cascade(client: httpx.AsyncClient) -> None:
    slug = "nvidia-a100-sxm4-80gb"
    count = (await client.get("/observations", params={"model": slug, "limit": 1})).json()["total"]
    assert count > 0
    star = {"If-Match": "*"}
    assert_problem(await client.delete(f"/models/{slug}", headers=star), 409)
    assert (await client.get(f"/models/{slug}")).status_code == 200
    deleted = await client.delete(f"/models/{slug}", params={"cascade": "true"}, headers=star)
    assert deleted.status_code == 204
    assert (await client.get("/observations", params={"model": slug})).json()["total"] == 0


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/models", content=b'{"slug": ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400)


async def test_model_import_is_all_or_nothing(client: httpx.AsyncClient) -> None:
    rows = [{"slug": f"test-bulk-{i}", **H100_FIELDS} for i in range(50)]
    rows[37] = {**rows[37], "tdp_w": -1}
    response = await client.post("/models/import", json=rows)
    body = assert_problem(response, 422, "tdp_w")
    assert [e["line"] for e in body["errors"]] == [38]
    assert (await client.get("/models", params={"q": "test-bulk"})).json()["total"] == 0

    rows[37] = {**rows[37], "tdp_w": 700}
    ok = await client.post("/models/import", json={"items": rows})
    assert ok.status_code == 201 and ok.json() == {"created": 50, "skipped": 0}
    again = await client.post("/models/import", json=rows)
    assert_problem(again, 422, "slug")
    skipped = await client.post("/models/import", json=rows, params={"on_conflict": "skip"})
    assert skipped.json() == {"created": 0, "skipped": 50}


async def test_model_import_accepts_the_catalogue_csv_format(client: httpx.AsyncClient) -> None:
    text = resources.files("service.data").joinpath("gpu_models.csv").read_text()
    response = await client.post(
        "/models/import",
        content=text,
        headers={"content-type": "text/csv"},
        params={"on_conflict": "skip"},
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"created": 0, "skipped": len(catalogue())}
