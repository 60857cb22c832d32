"""``GET /valuations``: the fleet valued as of a date, book beside fair value, in JSON and CSV.

The read-only tests share one seeded fleet (and so one calibration per ``as_of``): a fit takes
seconds, and nothing here writes. Tests that write get their own database.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import AsyncIterator, Iterator, MutableMapping
from datetime import date
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.app import create_app
from service.db import make_engine
from service.finance.repository import AssetFilter
from service.valuation import fleet
from tests import support
from tests.support import assert_problem

pytestmark = pytest.mark.anyio

AS_OF = "2026-06-30"
CENT = Decimal("0.01")

# Bought near list price, 60-month straight line. Pairs of one vintage (same date, same life, so
# the same book fraction) differ only in what the market pays for their precision.
FLEET: list[dict[str, Any]] = [
    {"tag": "V100-2021-US", "model": "nvidia-v100-sxm2-32gb", "gpu_count": 8,
     "in_service_on": "2021-03-15", "acquisition_cost": 84_000, "salvage": 4_000},
    {"tag": "A100-2022-US", "model": "nvidia-a100-sxm4-80gb", "gpu_count": 4,
     "in_service_on": "2022-06-01", "acquisition_cost": 68_000},
    {"tag": "A100-2023-EU", "model": "nvidia-a100-sxm4-80gb", "gpu_count": 4,
     "in_service_on": "2023-06-01", "acquisition_cost": 60_000, "currency": "EUR"},
    {"tag": "H100-2023-EU", "model": "nvidia-h100-sxm5-80gb", "gpu_count": 4,
     "in_service_on": "2023-06-01", "acquisition_cost": 120_000, "currency": "EUR"},
    {"tag": "A100-2024-US", "model": "nvidia-a100-sxm4-80gb", "gpu_count": 8,
     "in_service_on": "2024-01-15", "acquisition_cost": 136_000},
    {"tag": "H100-2024-US", "model": "nvidia-h100-sxm5-80gb", "gpu_count": 8,
     "in_service_on": "2024-01-15", "acquisition_cost": 268_800},
    {"tag": "B200-2025-US", "model": "nvidia-b200-sxm-180gb", "gpu_count": 8,
     "in_service_on": "2025-03-01", "acquisition_cost": 280_000},
    {"tag": "B300-2026-US", "model": "nvidia-b300-sxm-270gb", "gpu_count": 8,
     "in_service_on": "2026-08-01", "acquisition_cost": 400_000},
]  # fmt: skip
VINTAGES = [("A100-2023-EU", "H100-2023-EU"), ("A100-2024-US", "H100-2024-US")]


def _asset(item: dict[str, Any]) -> dict[str, Any]:
    return {"currency": "USD", "salvage": 0, "book_method": "straight_line", "life_months": 60,
            **item}  # fmt: skip


def money(value: object) -> Decimal:
    return Decimal(str(value))


# --- one shared fleet -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def fleet_db(
    backend: support.Backend, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A copy of the seeded template for this module (as ``conftest.db_url`` makes per test)."""
    if backend.name == "sqlite":
        target = tmp_path_factory.mktemp("fleet") / "fleet.db"
        shutil.copyfile(make_url(template_url).database or "", target)
        yield f"sqlite:///{target}"
        return
    template = make_url(template_url).database
    name = f"{template}_fleet{os.getpid()}"
    admin = create_engine(backend.admin_url or "", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(
            text(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        )
    admin.dispose()
    url = backend.url_for(name)
    yield url
    support.drop_database(backend, url)


@pytest.fixture(scope="module")
async def fleet_app(fleet_db: str) -> AsyncIterator[FastAPI]:
    app = create_app(support.settings_for(fleet_db))
    async with app.router.lifespan_context(app):
        async with support.make_client(app, "write") as writer:
            await _seed(writer)
        yield app


async def _seed(client: httpx.AsyncClient) -> None:
    for item in FLEET:
        response = await client.post("/assets", json=_asset(item))
        assert response.status_code == 201, response.text
    changed = await client.get("/assets", params={"tag": "A100-2022-US"})
    (a100,) = changed.json()["items"]
    etag = (await client.get(f"/assets/{a100['id']}")).headers["etag"]
    longer = await client.patch(
        f"/assets/{a100['id']}",
        json={"life_months": 84, "effective_from": "2025-01"},
        headers={"If-Match": etag},
    )
    assert longer.status_code == 200, longer.text


@pytest.fixture
async def reader(fleet_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.make_client(fleet_app, None) as client:
        yield client


async def get_csv(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    response = await client.get("/valuations", params={"as_of": AS_OF, "format": "csv", **params})
    assert response.status_code == 200, response.text
    return response


def parse(body: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    rows = list(csv.DictReader(io.StringIO(body)))
    assets = [r for r in rows if r["record"] == "asset"]
    totals = [r for r in rows if r["record"] == "total"]
    assert len(assets) + len(totals) == len(rows)
    return assets, totals


async def get_json(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/valuations", params={"as_of": AS_OF, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def by_tag(client: httpx.AsyncClient, **params: Any) -> dict[str, dict[str, Any]]:
    body = await get_json(client, limit=1000, **params)
    return {item["tag"]: item for item in body["items"]}


# --- CSV ----------------------------------------------------------------------------------------


async def test_csv_has_one_row_per_asset_then_the_totals(reader: httpx.AsyncClient) -> None:
    response = await get_csv(reader)
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="valuations-{AS_OF}.csv"'
    )
    assert response.text.splitlines()[0] == ",".join(fleet.CSV_HEADER)
    assets, totals = parse(response.text)
    assert sorted(r["tag"] for r in assets) == sorted(item["tag"] for item in FLEET)
    assert [t["currency"] for t in totals] == ["EUR", "USD"]  # no currency asked: one per currency
    for t in totals:
        mine = [r for r in assets if r["currency"] == t["currency"]]
        assert int(t["count"]) == len(mine)
        assert int(t["impaired"]) == sum(r["impaired"] == "true" for r in mine)
        for column in ("acquisition_cost", "book_value", "fair_value", "difference"):
            assert money(t[column]) == sum(money(r[column]) for r in mine), column
    for r in assets:
        assert money(r["fair_value"]) == money(r["fair_value_per_gpu"]) * int(r["gpu_count"])
        assert money(r["difference"]) == money(r["fair_value"]) - money(r["book_value"])
        assert (r["impaired"] == "true") == (money(r["book_value"]) > money(r["fair_value"]))


async def test_csv_is_streamed_in_chunks(
    fleet_app: FastAPI, reader: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fleet.csv_export, "CSV_CHUNK_ROWS", 3)
    query = f"as_of={AS_OF}&format=csv".encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/valuations", "raw_path": b"/valuations",
        "query_string": query, "headers": [(b"host", b"testserver")], "client": ("test", 1),
        "server": ("testserver", 80), "root_path": "",
    }  # fmt: skip
    messages: list[MutableMapping[str, Any]] = []
    requested, done = False, anyio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    await fleet_app(scope, receive, send)
    bodies = [m for m in messages if m["type"] == "http.response.body" and m.get("body")]
    # the header line; assets 1-3; 4-6; 7-8 with the totals
    assert len(bodies) == 4
    streamed = b"".join(m["body"] for m in bodies).decode()
    assert streamed == (await get_csv(reader)).text


async def test_the_same_question_gets_the_same_bytes(reader: httpx.AsyncClient) -> None:
    first, second = await get_csv(reader), await get_csv(reader)
    assert first.content == second.content
    a = await reader.get("/valuations", params={"as_of": AS_OF, "premise": "orderly"})
    b = await reader.get("/valuations", params={"as_of": AS_OF, "premise": "orderly"})
    assert a.status_code == 200 and a.content == b.content


# --- JSON ---------------------------------------------------------------------------------------


async def test_json_pages_walk_every_asset_once(reader: httpx.AsyncClient) -> None:
    seen: list[int] = []
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = await get_json(reader, **params)
        pages.append(page)
        assert page["total"] == len(FLEET)
        seen.extend(item["asset_id"] for item in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(pages) == 3 and len(seen) == len(FLEET) == len(set(seen))
    assert seen == sorted(seen)
    # totals cover the whole fleet, once, and agree with the CSV's totals rows
    assert pages[0]["totals"]["count"] == len(FLEET)
    assert all(p["totals"] is None for p in pages[1:])
    _, csv_totals = parse((await get_csv(reader)).text)
    for mine, theirs in zip(pages[0]["totals"]["by_currency"], csv_totals, strict=True):
        assert mine["currency"] == theirs["currency"]
        assert money(mine["book_value"]) == money(theirs["book_value"])
        assert money(mine["fair_value"]) == money(theirs["fair_value"])
    assert pages[0]["provenance"]["calibrated_on"] <= AS_OF
    assert pages[0]["assumptions"]["discount_rate"] > 0


async def test_filters_narrow_the_fleet_and_its_totals(reader: httpx.AsyncClient) -> None:
    a100 = await get_json(reader, model="nvidia-a100-sxm4-80gb")
    assert {i["model"] for i in a100["items"]} == {"nvidia-a100-sxm4-80gb"}
    assert a100["total"] == a100["totals"]["count"] == 3
    idle = await get_json(reader, status="idle")
    assert idle["items"] == [] and idle["totals"] == {"count": 0, "impaired": 0, "by_currency": []}
    assets, totals = parse((await get_csv(reader, status="idle", currency="USD")).text)
    assert assets == [] and len(totals) == 1 and totals[0]["count"] == "0"


# --- what the numbers are -----------------------------------------------------------------------


async def test_book_values_are_the_schedules_closing_values(reader: httpx.AsyncClient) -> None:
    for as_of, closed in ((AS_OF, "2026-06"), ("2026-06-15", "2026-05")):
        for tag, item in (await by_tag(reader, as_of=as_of)).items():
            schedule = (await reader.get(f"/assets/{item['asset_id']}/schedule")).json()
            rows = {row["month"]: row for row in schedule["schedule"]}
            if tag == "B300-2026-US":  # not in service yet: at cost
                assert item["book_month"] is None
                assert item["book_value"] == item["acquisition_cost"] == 400_000
                assert item["age_months"] == 0
            elif tag == "V100-2021-US":  # life over: at salvage
                assert item["book_month"] == schedule["schedule"][-1]["month"] < closed
                assert item["book_value"] == 4_000
            else:  # the month closed on as_of (prospective changes applied)
                assert item["book_month"] == closed
                assert item["book_value"] == rows[closed]["book_value"], tag
    changed = (await by_tag(reader))["A100-2022-US"]
    assert changed["book_value"] > 68_000 * 12 / 60  # the longer life slowed the depreciation


async def test_fair_values_are_the_engine_residuals(reader: httpx.AsyncClient) -> None:
    for premise in ("market", "forced"):
        for tag, item in (await by_tag(reader, premise=premise)).items():
            if tag == "B300-2026-US":
                continue  # /residual refuses a unit not yet in service
            residual = await reader.get(
                "/residual",
                params={
                    "model": item["model"],
                    "as_of": AS_OF,
                    "in_service_on": item["in_service_on"],
                    "premise": premise,
                    "currency": item["currency"],
                },
            )
            assert residual.status_code == 200, residual.text
            r = residual.json()
            assert item["fair_value_per_gpu"] == pytest.approx(r["value_per_gpu"], abs=0.006)
            assert item["regime"] == r["regime"]
            assert item["frontier_precision"] == r["frontier_precision"]
            assert item["remaining_life_months"] == pytest.approx(
                r["remaining_life_months"], abs=0.006
            )
    market, forced = await by_tag(reader), await by_tag(reader, premise="forced")
    for tag in market:
        assert forced[tag]["fair_value"] < market[tag]["fair_value"]
        assert forced[tag]["book_value"] == market[tag]["book_value"]


async def test_regimes_and_impairment_flags_follow_the_engine(
    reader: httpx.AsyncClient,
) -> None:
    """Each line carries its model's regime on ``as_of`` (the A100s without FP8 behind the
    frontier, the B200 at it) and is flagged impaired exactly when its fair value is below its
    book value; the H100s of both vintages stay above book."""
    items = await by_tag(reader)

    def cover(tag: str) -> float:
        return float(items[tag]["fair_value"] / items[tag]["book_value"])

    for non_fp8, fp8 in VINTAGES:
        assert items[non_fp8]["regime"] == "behind"
        assert items[non_fp8]["fair_value_per_gpu"] < items[fp8]["fair_value_per_gpu"]
    for _, fp8 in VINTAGES:
        assert not items[fp8]["impaired"] and cover(fp8) > 1
    for item in items.values():
        assert item["impaired"] == (item["fair_value"] < item["book_value"])
    assert items["B200-2025-US"]["regime"] == "frontier"


async def test_a_requested_currency_divides_by_the_fx_rate(reader: httpx.AsyncClient) -> None:
    native = await by_tag(reader)
    body = await get_json(reader, currency="EUR", limit=1000)
    (rate,) = body["fx"]
    assert rate["currency"] == "EUR" and rate["month_used"] <= AS_OF[:7]
    usd_per_eur = rate["usd_per_unit"]
    assert [t["currency"] for t in body["totals"]["by_currency"]] == ["EUR"]
    for item in body["items"]:
        own = native[item["tag"]]
        assert item["currency"] == "EUR"
        if own["currency"] == "EUR":
            assert item == own
            continue
        for key in ("fair_value_per_gpu", "book_value", "acquisition_cost"):  # both rounded
            assert item[key] == pytest.approx(own[key] / usd_per_eur, abs=0.01), key
        assert item["impaired"] == own["impaired"]
    in_usd = await by_tag(reader, currency="USD")
    eur_asset = native["A100-2023-EU"]
    assert in_usd["A100-2023-EU"]["book_value"] == pytest.approx(
        eur_asset["book_value"] * usd_per_eur, abs=0.006
    )


async def test_the_currency_is_read_in_any_case(reader: httpx.AsyncClient) -> None:
    """``eur`` is ``EUR``, as every currency parameter of the API reads it (and a model slug
    in capitals is the slug)."""
    upper = await get_json(reader, currency="EUR", limit=1000)
    for asked in ("eur", "Eur"):
        lower = await get_json(reader, currency=asked, limit=1000)
        assert lower == upper and lower["currency"] == "EUR"
        assert (await get_csv(reader, currency=asked)).content == (
            await get_csv(reader, currency="EUR")
        ).content
    a100 = "nvidia-a100-sxm4-80gb"
    shouted = await get_json(reader, model=a100.upper(), currency="usd")
    assert shouted == await get_json(reader, model=a100, currency="USD")
    assert {item["model"] for item in shouted["items"]} == {a100}


# --- bad input ----------------------------------------------------------------------------------

BAD = [
    ({"as_of": "2026-02-30"}, 422, "as_of"),
    ({"as_of": "yesterday"}, 422, "as_of"),
    ({"as_of": "1999-12-31"}, 422, "as_of"),
    ({"as_of": "0001-01-01"}, 422, "as_of"),
    ({"as_of": "2005-01-01"}, 422, "as_of"),  # before the first observation
    ({"as_of": "9999-12-31"}, 422, "as_of"),  # past the projection horizon
    ({"known_at": "2026-01-01T00:00:00"}, 422, "query"),  # no time zone
    ({"known_at": "soon"}, 422, "known_at"),
    ({"known_at": "2001-01-01T00:00:00Z"}, 422, "as_of"),  # nothing recorded by then
    ({"premise": "fire_sale"}, 422, "premise"),
    ({"currency": "euro"}, 422, "currency"),
    ({"currency": "JPY"}, 422, "currency"),
    ({"format": "xlsx"}, 422, "format"),
    ({"status": "lost"}, 422, "status"),
    ({"model": "Not A Slug"}, 422, "model"),
    ({"limit": 0}, 422, "limit"),
    ({"limit": 1001}, 422, "limit"),
    ({"cursor": "not-a-cursor"}, 422, "cursor"),
    ({"cursor": "WyJ4Il0"}, 422, "cursor"),  # ["x"]
    ({"cursor": "WzEwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwXQ"}, 422, "cursor"),  # [10**25]
    ({"format": "csv", "limit": 10}, 422, "limit"),
    ({"unknown": "1"}, 422, "unknown"),
]


@pytest.mark.parametrize(("params", "status", "field"), BAD)
async def test_bad_input_is_a_problem_and_writes_nothing(
    fleet_db: str, reader: httpx.AsyncClient, params: dict[str, Any], status: int, field: str
) -> None:
    before = _data_version(fleet_db)
    response = await reader.get("/valuations", params={"as_of": AS_OF, **params})
    assert_problem(response, status, field)
    assert _data_version(fleet_db) == before
    assert (await reader.get("/assets", params={"limit": 1})).json()["total"] == len(FLEET)


def _data_version(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version FROM data_version")).scalar_one()
            audit = connection.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    finally:
        engine.dispose()
    return int(version), int(audit)


# --- reproducibility (writes: a database of its own) ------------------------------------------


async def test_a_known_at_answer_ignores_later_observations(client: httpx.AsyncClient) -> None:
    for item in FLEET[4:6]:
        assert (await client.post("/assets", json=_asset(item))).status_code == 201
    pinned = {"known_at": "2026-07-01T00:00:00Z"}
    before = await get_csv(client, **pinned)
    news = {
        "observed_on": "2026-06-29",
        "model": "nvidia-a100-sxm4-80gb",
        "kind": "lease",
        "price": 9.99,
        "term": "1y",
        "provider": "Test Cloud",
        "source": "test: a price recorded after known_at",
    }
    assert (await client.post("/observations", json=news)).status_code == 201
    assert (await get_csv(client, **pinned)).content == before.content
    latest = await get_csv(client)  # the new price is evidence for an answer without known_at
    assert parse(latest.text)[0] != parse(before.text)[0]


@pytest.mark.parametrize(
    ("as_of", "says"),
    [
        ("0001-01-01", "Answers are available from 2023-"),
        ("2005-01-01", "Answers are available from 2023-"),
        ("2101-01-01", "projections reach"),
        ("9999-12-31", "projections reach"),
    ],
)
async def test_a_date_without_an_answer_names_the_dates_that_work(
    reader: httpx.AsyncClient, as_of: str, says: str
) -> None:
    for fmt in ("json", "csv"):
        response = await reader.get("/valuations", params={"as_of": as_of, "format": fmt})
        assert says in assert_problem(response, 422, "as_of")["detail"]


async def test_a_model_without_a_price_on_as_of_is_refused_before_the_csv_starts(
    reader: httpx.AsyncClient,
) -> None:
    """B200s are in the register, but on 2024-06-30 the B200 was not released: CSV and JSON
    both answer the same problem, the CSV before a byte of it is sent."""
    params = {"as_of": "2024-06-30"}
    page = await reader.get("/valuations", params=params)
    csv_ = await reader.get("/valuations", params={**params, "format": "csv"})
    assert csv_.headers["content-type"].startswith("application/problem+json")
    assert assert_problem(csv_, 422) == assert_problem(page, 422)


async def test_totals_follow_a_write(client: httpx.AsyncClient) -> None:
    """The first page's totals are memoised per data version: a new asset shows at once."""
    for item in FLEET[4:6]:
        assert (await client.post("/assets", json=_asset(item))).status_code == 201
    params: dict[str, str | int] = {"as_of": AS_OF, "limit": 1}
    before = (await client.get("/valuations", params=params)).json()
    again = (await client.get("/valuations", params=params)).json()
    assert again == before
    assert (await client.post("/assets", json=_asset(FLEET[0]))).status_code == 201
    after = (await client.get("/valuations", params=params)).json()
    assert after["totals"]["count"] == before["totals"]["count"] + 1 == 3
    _, totals = parse((await get_csv(client)).text)
    by_currency = {t["currency"]: t for t in totals}
    for entry in after["totals"]["by_currency"]:
        row = by_currency[entry["currency"]]
        assert int(row["count"]) == entry["count"]
        assert money(row["book_value"]) == money(entry["book_value"]).quantize(CENT)
        assert money(row["fair_value"]) == money(entry["fair_value"]).quantize(CENT)


async def test_assets_come_once_with_all_their_changes_whatever_the_batch_size(
    client: httpx.AsyncClient, session: Session
) -> None:
    """Rows are fetched from the driver's cursor a part at a time; an asset with several
    changes (one row each) is never split between two batches, and filters with dates (which
    the driver gets through their type's bind processor) select what they say."""
    for item in FLEET:
        assert (await client.post("/assets", json=_asset(item))).status_code == 201
    (a100,) = (await client.get("/assets", params={"tag": "A100-2022-US"})).json()["items"]
    for change in ({"life_months": 84, "effective_from": "2025-01"},
                   {"life_months": 96, "effective_from": "2025-07"},
                   {"salvage": 1000, "effective_from": "2025-09"}):  # fmt: skip
        etag = (await client.get(f"/assets/{a100['id']}")).headers["etag"]
        patched = await client.patch(
            f"/assets/{a100['id']}", json=change, headers={"If-Match": etag}
        )
        assert patched.status_code == 200, patched.text

    def read(flt: AssetFilter, **kwargs: Any) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for batch in fleet.asset_batches(session, flt, **kwargs):
            ids = batch.id
            out += [(ids[i], batch.tag[i], batch.in_service_on[i]) for i in range(len(batch))]
            out += [(ids[c.index], c.effective_month, c.new_life_months, c.new_salvage)
                    for c in batch.changes]  # fmt: skip
        return sorted(out, key=str)

    whole = read(AssetFilter())
    assert sorted(r[1] for r in whole if len(r) == 3) == sorted(i["tag"] for i in FLEET)
    changes = [r[1:] for r in whole if len(r) == 4]
    assert changes == [("2025-01", 84, None), ("2025-07", 96, None), ("2025-09", None, 1000.0)]
    for size in (1, 2, 3):
        assert read(AssetFilter(), size=size) == whole
    assert read(AssetFilter(), after=a100["id"] - 1, limit=1, size=1) == [
        r for r in whole if r[0] == a100["id"]
    ]
    since = date(2024, 1, 15)
    recent = read(AssetFilter(in_service_from=since, status="active"), size=2)
    assert {r[1] for r in recent} == {
        i["tag"] for i in FLEET if date.fromisoformat(i["in_service_on"]) >= since
    }
    assert all(r[2] >= since for r in recent)
    tagged = read(AssetFilter(tag="100-20"), size=2)  # LIKE, its wildcards escaped
    assert {r[1] for r in tagged if len(r) == 3} == {
        i["tag"] for i in FLEET if "100-20" in i["tag"]
    }
    assert read(AssetFilter(tag="%")) == read(AssetFilter(tag="_")) == []
    assert fleet.fleet_census(session, AssetFilter()) == {"EUR": 2, "USD": 6}
