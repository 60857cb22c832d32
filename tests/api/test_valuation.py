"""/quote and /residual over HTTP: the contract other services depend on."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.app import create_app
from service.state import resources
from service.valuation.service import months_in_service
from tests.support import HGX_ASSET, assert_problem, make_client, settings_for

pytestmark = pytest.mark.anyio

A100 = "nvidia-a100-sxm4-80gb"
H100 = "nvidia-h100-sxm5-80gb"
V100 = "nvidia-v100-sxm2-32gb"
QUOTE_FIELDS = {
    "model",
    "as_of",
    "term",
    "currency",
    "rate_per_gpu_hour",
    "rate_per_gpu_month",
    "rate_total_per_hour",
    "low",
    "high",
    "regime",
    "frontier_precision",
    "fp8",
    "fp4",
    "components",
    "observations_used",
    "assumptions",
    "engine_version",
    "inputs_digest",
}
RESIDUAL_FIELDS = {
    "model",
    "as_of",
    "age_months",
    "value_per_gpu",
    "residual_fraction",
    "reference_price",
    "low",
    "high",
    "economic_life_months",
    "remaining_life_months",
    "regime",
    "approaches",
    "premise",
    "assumptions",
    "engine_version",
    "inputs_digest",
}


async def get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a100_in_mid_2024_is_behind_the_frontier_at_a_market_rate(
    client: httpx.AsyncClient,
) -> None:
    q = await get(client, "/quote", model=A100, term="on_demand", as_of="2024-06-01")
    assert set(q) >= QUOTE_FIELDS
    assert q["regime"] == "behind" and q["frontier_precision"] == "fp8" and q["fp8"] is False
    # The public data's median on-demand list price for this part was $1.59-1.79 (2023Q3-2024Q4).
    assert 1.2 < q["rate_per_gpu_hour"] < 2.6
    assert q["low"] < q["rate_per_gpu_hour"] < q["high"]
    assert q["rate_per_gpu_month"] == pytest.approx(q["rate_per_gpu_hour"] * 730.5, rel=1e-3)
    assert q["observations_used"] > 0 and q["assumptions"]["utilisation"] > 0
    what_if = await get(
        client, "/quote", model=A100, term="on_demand", as_of="2024-06-01", fp8="true"
    )
    assert what_if["rate_per_gpu_hour"] > q["rate_per_gpu_hour"]
    assert what_if["regime"] == "frontier"


async def test_h100_term_structure_follows_the_data(client: httpx.AsyncClient) -> None:
    factors = []
    for term in ("on_demand", "1y", "3y"):
        q = await get(client, "/quote", model=H100, term=term, as_of="2025-06-01")
        factors.append(q["components"]["term_factor"])
    # Like for like (one seller), commitments list below on-demand in the observations.
    assert factors[0] == 1.0 and factors[2] < factors[1] < 1.0
    eight = await get(client, "/quote", model=H100, term="1y", as_of="2025-06-01", gpus=8)
    # each rate is shown to 4 decimals on its own: the total is within 8 half-units of 8 × rate
    assert eight["rate_total_per_hour"] == pytest.approx(8 * eight["rate_per_gpu_hour"], abs=45e-5)


async def test_v100_residual_is_a_small_fraction_and_the_curve_never_rises(
    client: httpx.AsyncClient,
) -> None:
    r = await get(client, "/residual", model=V100, as_of="2026-01-01", include="curve")
    assert set(r) >= RESIDUAL_FIELDS
    assert r["reference_price_basis"] == "launch_price" and r["reference_price"] == 11458
    assert r["residual_fraction"] < 0.3
    values = [p["value_per_gpu"] for p in r["curve"]]
    assert len(values) > 1 and all(b < a for a, b in itertools.pairwise(values))
    at_24 = await get(client, "/residual", model=V100, as_of="2026-01-01", age_months=24)
    assert r["curve"][24]["value_per_gpu"] == pytest.approx(at_24["value_per_gpu"], rel=1e-9)


@pytest.mark.parametrize("term", ["3m", "1y", "3y"])
async def test_quote_and_residual_agree_by_the_lease_identity(
    client: httpx.AsyncClient, term: str
) -> None:
    """R = (V(a) − V(a+T)·e^(−rT)) / (H·(1 − e^(−rT))/r) + C on the income approach's value
    path (full utilisation, no failures): the contract path is bootstrapped from the quotes.
    The answer shows the rate to 4 decimals (±5e-5) and values to the cent (±0.01 over an
    annuity of 2,000+ hours, ±5e-6), so the identity holds over HTTP to 6e-5."""
    import math

    as_of, age = "2025-06-01", 12
    years = {"3m": 0.25, "1y": 1.0, "3y": 3.0}[term]
    knobs = {"utilisation": 1, "failure_hazard_per_year": 0}
    q = await get(client, "/quote", model=A100, term=term, as_of=as_of, age_months=age, **knobs)
    v = await get(
        client, "/residual", model=A100, as_of=as_of, age_months=age, include="path", **knobs
    )
    r, opex = q["assumptions"]["discount_rate"], q["components"]["opex_per_gpu_hour"]
    scale = v["approaches"]["income"] / v["value_per_gpu"]
    path = v["path"]
    start, end = path[0]["value_per_gpu"] * scale, path[round(years * 12)]["value_per_gpu"] * scale
    annuity = 8760 * (1 - math.exp(-r * years)) / r
    expected = (start - end * math.exp(-r * years)) / annuity + opex
    assert abs(q["rate_per_gpu_hour"] - expected) <= 6e-5


async def test_same_request_same_numbers_and_digest(client: httpx.AsyncClient) -> None:
    params = {"model": H100, "term": "1y", "as_of": "2025-06-01", "utilisation": 0.7}
    first, second = await get(client, "/quote", **params), await get(client, "/quote", **params)
    assert first == second
    other = await get(client, "/quote", **{**params, "utilisation": 0.8})
    assert other["inputs_digest"] != first["inputs_digest"]
    assert other["assumptions"]["utilisation"] == 0.8


async def test_known_at_answers_ignore_later_records(client: httpx.AsyncClient) -> None:
    params = {
        "model": H100,
        "term": "on_demand",
        "as_of": "2025-06-01",
        "known_at": "2025-07-01T00:00:00Z",
    }
    before = await get(client, "/quote", **params)
    rows = [
        {
            "observed_on": "2025-05-30",
            "model": H100,
            "kind": "lease",
            "price": 9.99,
            "term": "on_demand",
            "provider": f"late-{i}",
            "source": "test",
        }
        for i in range(20)
    ]
    assert (await client.post("/observations/import", json=rows)).status_code == 201
    assert await get(client, "/quote", **params) == {
        **before,
        "provenance": {
            **before["provenance"],
            "data_version": before["provenance"]["data_version"] + 1,
        },
    }
    now = await get(client, "/quote", **{k: v for k, v in params.items() if k != "known_at"})
    assert now["rate_per_gpu_hour"] != before["rate_per_gpu_hour"]


async def test_currency_converts_at_the_as_of_month(client: httpx.AsyncClient) -> None:
    usd = await get(client, "/residual", model=H100, as_of="2025-03-15", age_months=12)
    eur = await get(
        client, "/residual", model=H100, as_of="2025-03-15", age_months=12, currency="EUR"
    )
    fx = eur["provenance"]["fx"]
    assert fx["month_used"] == "2025-03" and not fx["extrapolated"]
    assert eur["value_per_gpu"] == pytest.approx(usd["value_per_gpu"] / fx["usd_per_unit"])
    assert eur["inputs_digest"] != usd["inputs_digest"]
    late = await get(client, "/quote", model=H100, as_of="2026-06-01", currency="CNY")
    assert late["provenance"]["fx"]["extrapolated"] is True


async def test_post_quote_inline_spec_and_batch(client: httpx.AsyncClient) -> None:
    spec = {
        "slug": "acme-x1-96gb",
        "vendor": "Acme",
        "architecture": "X",
        "form_factor": "OAM",
        "release_date": "2025-01-01",
        "memory_gb": 96,
        "memory_bw_tbps": 4,
        "tdp_w": 700,
        "bf16_tflops": 900,
        "fp8_tflops": 1800,
    }
    single = await client.post(
        "/quote", json={"spec": spec, "term": "on_demand", "as_of": "2025-06-01"}
    )
    assert single.status_code == 200, single.text
    assert single.json()["model"] == "acme-x1-96gb" and single.json()["rate_per_gpu_hour"] > 0
    batch = await client.post(
        "/quote",
        json={
            "items": [
                {"model": H100, "as_of": "2025-06-01", "term": t} for t in ("on_demand", "1y", "3y")
            ]
        },
    )
    assert batch.status_code == 200
    rates = [i["rate_per_gpu_hour"] for i in batch.json()["items"]]
    assert len(rates) == 3 and rates[2] < rates[0]
    bad = await client.post(
        "/quote",
        json={
            "items": [{"model": H100}, {"model": "nvidia-x999"}, {"model": H100, "currency": "XYZ"}]
        },
    )
    body = assert_problem(bad, 422)
    assert {e["line"] for e in body["errors"]} == {2, 3}
    assert_problem(await client.post("/quote", json={"model": H100, "spec": spec}), 422)
    assert_problem(await client.post("/quote", json={"items": [{"model": H100}] * 1001}), 422)


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/quote", {"model": "nvidia-x999"}, 404, None),
        ("/quote", {"model": H100, "term": "5y"}, 422, "term"),
        ("/quote", {"model": H100, "currency": "XYZ"}, 422, "currency"),
        ("/quote", {"model": H100, "as_of": "2010-01-01"}, 422, "as_of"),
        ("/quote", {"model": H100, "as_of": "2025-02-30"}, 422, "as_of"),
        ("/quote", {"model": H100, "age_months": -1}, 422, "age_months"),
        ("/quote", {"model": H100, "utilisation": 2}, 422, "utilisation"),
        ("/quote", {"model": H100, "gpus": 0}, 422, "gpus"),
        ("/quote", {"model": H100, "known_at": "2025-01-01T00:00:00"}, 422, "known_at"),
        ("/quote", {"model": H100, "modle": "typo"}, 422, "modle"),
        ("/residual", {"model": H100, "premise": "fire-sale"}, 422, "premise"),
        ("/residual", {"model": H100, "age_months": 601}, 422, "age_months"),
        (
            "/residual",
            {"model": H100, "age_months": 3, "in_service_on": "2024-01-01"},
            422,
            "in_service_on",
        ),
        (
            "/residual",
            {"model": H100, "as_of": "2025-01-01", "in_service_on": "2025-06-01"},
            422,
            "in_service_on",
        ),
    ],
)
async def test_bad_requests_are_problems(
    client: httpx.AsyncClient, path: str, params: dict[str, Any], status: int, field: str | None
) -> None:
    assert_problem(await client.get(path, params=params), status, *([field] if field else []))


async def test_premises_order_values(client: httpx.AsyncClient) -> None:
    values = [
        (await get(client, "/residual", model=A100, as_of="2025-06-01", premise=p))["value_per_gpu"]
        for p in ("market", "orderly", "forced")
    ]
    assert values[0] > values[1] > values[2] > 0


async def test_a_write_through_one_replica_changes_the_next_quote_from_another(
    db_url: str, app: FastAPI
) -> None:
    """Two app instances on one database: the data version is read per request."""
    other = create_app(settings_for(db_url))
    async with (
        other.router.lifespan_context(other),
        make_client(app, "write") as one,
        make_client(other, "write") as two,
    ):
        params = {"model": H100, "term": "on_demand", "as_of": "2026-01-01"}
        before = await get(two, "/quote", **params)
        model = await one.get(f"/models/{H100}")
        changed = await one.patch(
            f"/models/{H100}", json={"memory_gb": 160}, headers={"If-Match": model.headers["etag"]}
        )
        assert changed.status_code == 200
        after = await get(two, "/quote", **params)
        assert after["provenance"]["data_version"] == before["provenance"]["data_version"] + 1
        assert after["rate_per_gpu_hour"] != before["rate_per_gpu_hour"]
        assert after["inputs_digest"] != before["inputs_digest"]


async def test_an_asset_write_refits_nothing_and_an_observation_write_refits_the_market(
    app: FastAPI,
) -> None:
    """A fleet's assets are not market evidence: writing one moves the data version (fleets,
    memos) but keeps the calibration; a new price moves both and refits."""
    cache = resources(app).valuer.cache
    params = {"model": H100, "term": "on_demand", "as_of": "2026-01-01"}
    async with make_client(app, "write") as client:
        before = await get(client, "/quote", **params)
        fitted = cache.calibrations
        asset = {**HGX_ASSET, "tag": "EVIDENCE-0001"}
        assert (await client.post("/assets", json=asset)).status_code == 201
        after_asset = await get(client, "/quote", **params)
        assert after_asset["provenance"]["data_version"] == before["provenance"]["data_version"] + 1
        assert cache.calibrations == fitted
        assert after_asset["rate_per_gpu_hour"] == before["rate_per_gpu_hour"]
        price = {
            "observed_on": "2025-12-01",
            "model": H100,
            "kind": "lease",
            "price": 9.99,
            "currency": "USD",
            "term": "on_demand",
            "provider": "Test Cloud",
            "region": "US",
            "source": "https://example.test/pricing captured 2025-12-01",
        }
        assert (await client.post("/observations", json=price)).status_code == 201
        after_price = await get(client, "/quote", **params)
        assert cache.calibrations == fitted + 1
        assert after_price["rate_per_gpu_hour"] != before["rate_per_gpu_hour"]


async def test_start_up_warms_todays_calibration(db_url: str) -> None:
    import anyio

    warm = create_app(settings_for(db_url, warm_calibration=True))
    async with warm.router.lifespan_context(warm), make_client(warm, None) as client:
        cache = resources(warm).valuer.cache
        with anyio.fail_after(120):
            while cache.calibrations == 0:
                await anyio.sleep(0.05)
        assert (await client.get("/quote", params={"model": H100})).status_code == 200
        assert cache.calibrations == 1


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"as_of": "0001-01-01"}, "Answers are available from 2023-"),
        ({"as_of": "1999-12-31"}, "Answers are available from 2023-"),
        ({"as_of": "2000-01-01"}, "Answers are available from 2023-"),
        ({"as_of": "2100-12-31"}, "projections reach"),
        ({"as_of": "9999-12-31"}, "projections reach"),
        ({"as_of": "9999-12-31", "in_service_on": "2024-01-31"}, "projections reach"),
        ({"model": "nvidia-b200-sxm-180gb", "as_of": "2024-06-01"}, "released on 2024-11-01"),
    ],
)
async def test_dates_without_an_answer_are_422_saying_which_dates_work(
    client: httpx.AsyncClient, params: dict[str, str], reason: str
) -> None:
    paths = ("/residual",) if "in_service_on" in params else ("/quote", "/residual")
    for path in paths:
        response = await client.get(path, params={"model": A100, **params})
        assert_problem(response, 422)
        body = response.json()
        assert reason in body["detail"] + " ".join(e["reason"] for e in body["errors"])
        assert [e["field"] for e in body["errors"]] == ["query.as_of"]
    if "in_service_on" not in params:  # the same refusal for a quote in a body
        body = assert_problem(await client.post("/quote", json={"model": A100, **params}), 422)
        assert reason in body["detail"] + " ".join(e["reason"] for e in body["errors"])
        assert [e["field"] for e in body["errors"]] == ["body.as_of"]


async def test_a_date_after_the_evidence_is_a_projection(client: httpx.AsyncClient) -> None:
    at = await get(client, "/quote", model=A100, as_of="2026-06-25")
    later = await get(client, "/quote", model=A100, as_of="2027-06-25")
    assert at["projection"] is None and at["level"] == "market"
    assert later["projection"] == {"evidence_on": "2026-06-25", "horizon_months": 12.0}
    assert later["high"] / later["low"] > at["high"] / at["low"]


async def test_segment_and_provider_levels(client: httpx.AsyncClient) -> None:
    market = await get(client, "/quote", model=H100, as_of="2026-06-25")
    hyperscaler = await get(client, "/quote", model=H100, as_of="2026-06-25", segment="hyperscaler")
    lambda_ = await get(client, "/quote", model=H100, as_of="2026-06-25", provider="Lambda")
    assert hyperscaler["level"] == "segment" and lambda_["level"] == "provider"
    assert hyperscaler["rate_per_gpu_hour"] > market["rate_per_gpu_hour"]
    assert lambda_["components"]["level_name"] == "lambda"
    unknown = await client.get("/quote", params={"model": H100, "provider": "nobody"})
    assert_problem(unknown, 422)
    assert unknown.json()["errors"][0]["field"] == "query.provider"


async def test_a_batch_answers_each_item_as_a_single_request_does(
    client: httpx.AsyncClient,
) -> None:
    """Items differing only in GPUs, asked twice, in another currency or with an assumption:
    each answer of the batch is byte for byte the answer to that item alone."""
    items = [
        {"model": model, "as_of": "2026-06-01", "term": term, "gpus": gpus, **extra}
        for model in (H100, "nvidia-a100-sxm4-80gb")
        for term in ("on_demand", "1y")
        for gpus in (1, 8, 8)
        for extra in ({}, {"currency": "EUR"}, {"assumptions": {"discount_rate": 0.09}})
    ]
    batch = await client.post("/quote", json={"items": items})
    assert batch.status_code == 200, batch.text
    answers = batch.json()["items"]
    assert len(answers) == len(items)
    for item, answer in zip(items, answers, strict=True):
        alone = await client.post("/quote", json=item)
        assert alone.status_code == 200, alone.text
        assert answer == alone.json()
    totals = {(a["gpus"], a["rate_total_per_hour"], a["rate_per_gpu_hour"]) for a in answers}
    assert {gpus for gpus, _, _ in totals} == {1, 8}
    # both rates shown to 4 decimals (half a unit each, the per-GPU one times the GPUs)
    assert all(abs(total - gpus * rate) <= 5e-5 * (gpus + 1) for gpus, total, rate in totals)


@pytest.mark.parametrize(
    ("in_service_on", "as_of", "months"),
    [
        ("2018-04-15", "2026-02-15", 94.0),
        ("2018-04-30", "2026-02-28", 94.0),  # the day clamps to the shorter month's end
        ("2018-04-30", "2026-03-30", 95.0),  # each anniversary counts from the start date
        ("2024-01-31", "2024-02-29", 1.0),
        ("2024-01-31", "2024-03-31", 2.0),
        ("2024-01-31", "2024-03-15", 1 + 15 / 31),  # 2024-02-29 → 2024-03-31 has 31 days
        ("2025-02-01", "2025-02-15", 14 / 28),
        ("2025-06-01", "2025-06-01", 0.0),
        ("2025-06-02", "2025-06-01", 0.0),  # not in service yet
    ],
)
def test_age_from_an_in_service_date_counts_calendar_months(
    in_service_on: str, as_of: str, months: float
) -> None:
    got = months_in_service(date.fromisoformat(in_service_on), date.fromisoformat(as_of))
    assert got == pytest.approx(months, abs=1e-12)


async def test_residual_age_is_exact_for_an_exact_in_service_date(
    client: httpx.AsyncClient,
) -> None:
    r = await get(client, "/residual", model=A100, as_of="2026-02-28", in_service_on="2018-04-30")
    assert r["age_months"] == 94
    by_age = await get(client, "/residual", model=A100, as_of="2026-02-28", age_months=94)
    assert r["value_per_gpu"] == by_age["value_per_gpu"]


def _places(x: float) -> int:
    text = repr(x)  # what the JSON answer carries
    return len(text.split(".")[1]) if "." in text else 0


async def test_answers_show_rates_to_4_decimals_and_money_to_the_cent(
    client: httpx.AsyncClient,
) -> None:
    q = await get(client, "/quote", model=A100, term="1y", as_of="2025-06-01", gpus=3)
    rates = [q[k] for k in ("rate_per_gpu_hour", "rate_per_gpu_month", "rate_total_per_hour")]
    assert all(_places(x) <= 4 for x in [*rates, q["low"], q["high"]]), q
    r = await get(
        client, "/residual", model=A100, as_of="2025-06-01", age_months=13.7, include="curve,path"
    )
    a = r["approaches"]
    money = [r[k] for k in ("value_per_gpu", "reference_price", "low", "high")]
    money += [a[k] for k in ("income", "cost", "reconciled") if a[k] is not None]
    money += [p[k] for p in r["curve"] for k in ("value_per_gpu", "income_value")]
    money += [p["value_per_gpu"] for p in r["path"]]
    assert all(_places(x) <= 2 for x in money), money
    # an age is not money: it stays as given
    assert r["age_months"] == 13.7
