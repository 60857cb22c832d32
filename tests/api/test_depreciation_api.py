"""``GET /depreciation``: spreadsheet semantics (Microsoft's worked examples), IRS Pub 946 MACRS,
and a problem+json 422 naming the parameter for every input that does not make sense."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from service.engine import depreciation as dep
from service.engine import depreciation_tables as tables
from service.engine.types import cents
from service.finance.schemas import DepreciationRowRead
from tests.support import assert_problem

pytestmark = pytest.mark.anyio


async def table(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/depreciation", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def amounts(body: dict[str, Any]) -> list[float]:
    return [row["depreciation"] for row in body["schedule"]]


async def test_sln_and_syd_match_microsofts_examples(client: httpx.AsyncClient) -> None:
    sln = await table(client, method="sln", cost=30000, salvage=7500, life=10)
    assert sln["method"] == "sln" and "amount" not in sln
    assert amounts(sln) == pytest.approx([2250] * 10, abs=1e-6)
    assert sln["schedule"][-1] == {
        "period": 10,
        "depreciation": pytest.approx(2250),
        "accumulated": pytest.approx(22500),
        "book_value": pytest.approx(7500),
    }
    syd = await table(client, method="syd", cost=30000, salvage=7500, life=10)
    assert round(amounts(syd)[0], 2) == 4090.91 and round(amounts(syd)[9], 2) == 409.09
    assert syd["schedule"][-1]["book_value"] == pytest.approx(7500, abs=1e-6)


async def test_ddb_matches_microsofts_examples(client: httpx.AsyncClient) -> None:
    yearly = amounts(await table(client, method="ddb", cost=2400, salvage=300, life=10))
    assert yearly[0] == pytest.approx(480, abs=1e-6)
    assert round(yearly[9], 2) == 22.12
    monthly = amounts(await table(client, method="ddb", cost=2400, salvage=300, life=120))
    assert monthly[0] == pytest.approx(40, abs=1e-6)
    slower = amounts(await table(client, method="ddb", cost=2400, salvage=300, life=10, factor=1.5))
    assert slower[1] == pytest.approx(306, abs=1e-6)


async def test_db_matches_microsofts_example(client: httpx.AsyncClient) -> None:
    body = await table(client, method="db", cost=1000000, salvage=100000, life=6, month=7)
    expected = [186083.33, 259639.42, 176814.44, 120410.64, 81999.64, 55841.76, 15845.10]
    assert [round(a, 2) for a in amounts(body)] == expected
    assert [row["period"] for row in body["schedule"]] == list(range(1, 8))


async def test_vdb_matches_microsofts_examples(client: httpx.AsyncClient) -> None:
    monthly = await table(
        client, method="vdb", cost=2400, salvage=300, life=120, start_period=6, end_period=18
    )
    assert round(monthly["amount"], 2) == 396.31
    assert amounts(monthly)[0] == pytest.approx(40, abs=1e-6)
    assert monthly["schedule"][-1]["book_value"] == pytest.approx(300, abs=1e-6)
    slower = await table(
        client,
        method="vdb",
        cost=2400,
        salvage=300,
        life=120,
        start_period=6,
        end_period=18,
        factor=1.5,
    )
    assert round(slower["amount"], 2) == 311.81
    fractional = await table(
        client,
        method="vdb",
        cost=2400,
        salvage=300,
        life=10,
        start_period=0,
        end_period=0.875,
        factor=1.5,
    )
    assert round(fractional["amount"], 2) == 315.00
    no_amount = await table(client, method="vdb", cost=2400, salvage=300, life=10)
    assert "amount" not in no_amount


async def test_vdb_no_switch_stays_on_declining_balance(client: httpx.AsyncClient) -> None:
    switch = await table(client, method="vdb", cost=10000, salvage=100, life=5)
    stay = await table(client, method="vdb", cost=10000, salvage=100, life=5, no_switch="true")
    ddb = await table(client, method="ddb", cost=10000, salvage=100, life=5)
    assert amounts(stay) == pytest.approx(amounts(ddb), abs=1e-9)
    assert switch["schedule"][-1]["book_value"] == pytest.approx(100, abs=1e-6)
    assert stay["schedule"][-1]["book_value"] == pytest.approx(777.6, abs=1e-6)


@pytest.mark.parametrize(
    ("params", "percents"),
    [
        ({"recovery_years": 5}, [20.00, 32.00, 19.20, 11.52, 11.52, 5.76]),
        ({"recovery_years": 3, "convention": "half_year"}, [33.33, 44.45, 14.81, 7.41]),
        (
            {"recovery_years": 5, "convention": "mid_quarter", "quarter": 4},
            [5.00, 38.00, 22.80, 13.68, 10.94, 9.58],
        ),
    ],
)
async def test_macrs_reproduces_pub_946(
    client: httpx.AsyncClient, params: dict[str, Any], percents: list[float]
) -> None:
    body = await table(client, method="macrs", cost=10000, **params)
    assert body["method"] == "macrs" and "amount" not in body
    assert [row["percent"] for row in body["schedule"]] == percents
    assert amounts(body) == pytest.approx([100 * p for p in percents], abs=1e-6)
    assert body["schedule"][-1]["accumulated"] == pytest.approx(10000, abs=1e-6)
    assert body["schedule"][-1]["book_value"] == pytest.approx(0, abs=1e-6)


async def test_non_macrs_rows_carry_no_percent(client: httpx.AsyncClient) -> None:
    body = await table(client, method="sln", cost=100, life=4)
    assert all("percent" not in row for row in body["schedule"])
    assert body["schedule"][-1]["book_value"] == pytest.approx(0)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"method": "straight", "cost": 100, "life": 5}, "method"),
        ({"method": "sln", "life": 5}, "cost"),
        ({"method": "sln", "cost": 100}, "life"),
        ({"method": "sln", "cost": "nan", "life": 5}, "cost"),
        ({"method": "sln", "cost": "inf", "life": 5}, "cost"),
        ({"method": "sln", "cost": -1, "life": 5}, "cost"),
        ({"method": "sln", "cost": 100, "salvage": 200, "life": 5}, "salvage"),
        ({"method": "sln", "cost": 100, "life": 0}, "life"),
        ({"method": "sln", "cost": 100, "life": 1201}, "life"),
        ({"method": "sln", "cost": 100, "life": 2.5}, "life"),
        ({"method": "sln", "cost": 100, "life": 5, "factor": 2}, "factor"),
        ({"method": "sln", "cost": 100, "life": 5, "recovery_years": 5}, "recovery_years"),
        ({"method": "ddb", "cost": 100, "life": 5, "month": 6}, "month"),
        ({"method": "ddb", "cost": 100, "life": 5, "factor": 0}, "factor"),
        ({"method": "db", "cost": 100, "life": 5, "month": 13}, "month"),
        ({"method": "db", "cost": 0, "life": 5}, "cost"),
        ({"method": "vdb", "cost": 100, "life": 5, "start_period": 1}, "end_period"),
        ({"method": "vdb", "cost": 100, "life": 5, "end_period": 1}, "start_period"),
        (
            {"method": "vdb", "cost": 100, "life": 5, "start_period": 3, "end_period": 2},
            "start_period",
        ),
        (
            {"method": "vdb", "cost": 100, "life": 5, "start_period": 1, "end_period": 6},
            "end_period",
        ),
        ({"method": "vdb", "cost": 100, "life": 5, "no_switch": "maybe"}, "no_switch"),
        ({"method": "macrs", "cost": 100}, "recovery_years"),
        ({"method": "macrs", "cost": 100, "recovery_years": 4}, "recovery_years"),
        ({"method": "macrs", "cost": 100, "recovery_years": 5, "quarter": 2}, "quarter"),
        (
            {"method": "macrs", "cost": 100, "recovery_years": 5, "convention": "mid_quarter"},
            "quarter",
        ),
        (
            {
                "method": "macrs",
                "cost": 100,
                "recovery_years": 5,
                "convention": "mid_quarter",
                "quarter": 5,
            },
            "quarter",
        ),
        (
            {"method": "macrs", "cost": 100, "recovery_years": 5, "convention": "full_year"},
            "convention",
        ),
        ({"method": "macrs", "cost": 100, "recovery_years": 5, "salvage": 10}, "salvage"),
        ({"method": "macrs", "cost": 100, "recovery_years": 5, "life": 5}, "life"),
        ({"method": "sln", "cost": 100, "life": 5, "lfie": 6}, "lfie"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    body = assert_problem(await client.get("/depreciation", params=params), 422)
    assert f"query.{field}" in {e["field"] for e in body["errors"]}, body


def _decimals(x: float) -> int:
    """Digits after the point in the JSON number as sent (``repr`` is what ``json`` writes)."""
    text = repr(x)
    return len(text.split(".")[1]) if "." in text else 0


async def test_money_in_answers_is_rounded_to_the_cent(client: httpx.AsyncClient) -> None:
    # The engine's VDB rows here carry binary noise (1029.9999999999998, 1536.0000000000002).
    params = {"cost": 2400, "salvage": 300, "life": 10, "start_period": 1, "end_period": 3}
    exact = tables.vdb_schedule(2400, 300, 10, 2.0, False)
    assert any(_decimals(r.book_value) > 2 for r in exact)  # the test needs noisy input
    body = await table(client, method="vdb", **params)
    money = [row[k] for row in body["schedule"] for k in ("depreciation", "accumulated")]
    money += [row["book_value"] for row in body["schedule"]] + [body["amount"]]
    assert all(_decimals(x) <= 2 for x in money), money
    for row, want in zip(body["schedule"], exact, strict=True):
        assert row["book_value"] == float(cents(want.book_value))
        assert row["depreciation"] == float(cents(want.depreciation))
    assert body["amount"] == float(cents(dep.vdb(2400, 300, 10, 1, 3, 2.0, False)))


def test_only_the_json_answer_is_rounded() -> None:
    row = DepreciationRowRead(
        period=1, depreciation=1029.9999999999998, accumulated=0.125, book_value=2.675
    )
    assert row.model_dump()["depreciation"] == 1029.9999999999998  # the engine's number, kept
    shown = json.loads(row.model_dump_json())
    assert (shown["depreciation"], shown["accumulated"], shown["book_value"]) == (
        1030.0,
        0.13,
        2.68,
    )
