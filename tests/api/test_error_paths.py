"""Errors name fields one way, and input is read forgivingly where nothing is ambiguous (issue 11).

Every problem's `errors[].field` is where the caller sent the value: `query.x`, `path.x`,
`body.items.3.spec.memory_gb`; never a union member's or validator's name, never a bare
`x` for a query parameter. Currencies and slugs are case-insensitive. A bad CSV row has every
one of its problems listed in one answer.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import assert_problem

pytestmark = pytest.mark.anyio

H100 = "nvidia-h100-sxm5-80gb"
ASSET: dict[str, Any] = {
    "tag": "PATHS-0001",
    "model": H100,
    "gpu_count": 8,
    "in_service_on": "2024-02-29",
    "acquisition_cost": 250000,
    "currency": "USD",
    "life_months": 60,
}


def fields(response: httpx.Response, status: int = 422) -> set[str]:
    body = assert_problem(response, status)
    return {e["field"] for e in body["errors"]}


async def test_a_bad_query_parameter_is_named_under_query(client: httpx.AsyncClient) -> None:
    response = await client.get("/quote", params={"model": H100, "gpus": "many"})
    assert fields(response) == {"query.gpus"}


async def test_a_domain_refusal_of_a_query_parameter_is_named_under_query(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/quote", params={"model": H100, "currency": "XYZ"})
    assert fields(response) == {"query.currency"}


async def test_a_bad_nested_field_of_a_quote_batch_is_named_by_its_path(
    client: httpx.AsyncClient,
) -> None:
    spec = {
        "vendor": "Acme",
        "architecture": "Blackwell",
        "form_factor": "SXM",
        "release_date": "2025-01-01",
        "memory_gb": "lots",
        "memory_bw_tbps": 8,
        "tdp_w": 1000,
        "bf16_tflops": 2250,
    }
    items = [{"model": H100}] * 3 + [{"spec": spec}]
    response = await client.post("/quote", json={"items": items})
    assert fields(response) == {"body.items.3.spec.memory_gb"}


async def test_a_bad_field_of_a_single_quote_body_has_no_union_member_in_its_path(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/quote", json={"model": H100, "gpus": 0})
    assert fields(response) == {"body.gpus"}


async def test_a_bad_asset_field_is_named_under_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/assets", json={**ASSET, "gpu_count": "eight"})
    assert fields(response) == {"body.gpu_count"}
    response = await client.post("/assets", json={**ASSET, "currency": "XYZ"})
    assert fields(response) == {"body.currency"}


async def test_a_bad_path_parameter_is_named_under_path(client: httpx.AsyncClient) -> None:
    response = await client.get("/models/not_a_slug")
    assert fields(response) == {"path.slug"}


async def test_currencies_and_slugs_are_read_in_either_case_in_a_query(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/quote", params={"model": H100.upper(), "currency": "eur"})
    assert response.status_code == 200, response.text
    assert response.json()["model"] == H100
    assert response.json()["currency"] == "EUR"
    same = await client.get("/quote", params={"model": H100, "currency": "EUR"})
    assert response.json()["rate_per_gpu_hour"] == same.json()["rate_per_gpu_hour"]
    model = await client.get(f"/models/{H100.upper()}")
    assert model.status_code == 200, model.text
    assert model.json()["slug"] == H100


async def test_currencies_and_slugs_are_read_in_either_case_in_a_body(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/assets", json={**ASSET, "model": H100.upper(), "currency": "eur"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["model"] == H100
    assert response.json()["currency"] == "EUR"
    quote = await client.post("/quote", json={"model": "NVIDIA-H100-SXM5-80GB", "currency": "gbp"})
    assert quote.status_code == 200, quote.text
    assert (quote.json()["model"], quote.json()["currency"]) == (H100, "GBP")


async def test_a_csv_row_has_every_problem_listed_at_once(client: httpx.AsyncClient) -> None:
    header = "tag,model_slug,gpu_count,in_service_on,acquisition_cost,currency,life_months"
    rows = [
        header,
        f"CSV-1,{H100},8,2024-02-29,250000,USD,60",
        "CSV-2,nvidia-nope,8,2024-02-29,lots,XYZ,60",
    ]
    response = await client.post(
        "/assets/import", content="\n".join(rows) + "\n", headers={"content-type": "text/csv"}
    )
    body = assert_problem(response, 422)
    named = {(e["line"], e["field"]) for e in body["errors"]}
    assert named == {(3, "acquisition_cost"), (3, "model"), (3, "currency")}
    assert (await client.get("/assets")).json()["total"] == 0


async def test_an_observation_csv_row_has_every_problem_listed_at_once(
    admin_client: httpx.AsyncClient,
) -> None:
    rows = [
        "observed_on,model_slug,kind,price,currency,provider,region,source",
        "2025-10-01,nvidia-nope,lease,-2,XYZ,Acme,US,acme.example",
    ]
    response = await admin_client.post(
        "/observations/import",
        content="\n".join(rows) + "\n",
        headers={"content-type": "text/csv"},
    )
    body = assert_problem(response, 422)
    named = {(e["line"], e["field"]) for e in body["errors"]}
    assert named == {(2, "price"), (2, "model"), (2, "currency")}


async def test_a_domain_refusal_of_a_single_quote_body_is_named_under_body(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/quote", json={"model": H100, "currency": "XYZ"})
    assert fields(response) == {"body.currency"}
    batch = await client.post("/quote", json={"items": [{"model": H100, "currency": "XYZ"}]})
    assert fields(batch) == {"body.items.0.currency"}
