"""The register's columns kept between questions (``fleet.Registers``) follow every write: after
updates, changes of estimate, deletions and insertions, the kept register refreshed in place
equals one read afresh, column for column and book value for book value, and the first page's
totals equal the CSV's (whose lines are valued batch by batch, without the register)."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy.orm import Session

from service.db import current_data_version
from service.finance.repository import AssetFilter
from service.valuation.fleet import register as register_module
from service.valuation.fleet import repository
from service.valuation.fleet.register import Register, Registers

pytestmark = pytest.mark.anyio

AS_OF = "2026-06-30"
MODELS = ["nvidia-a100-sxm4-80gb", "nvidia-h100-sxm5-80gb", "nvidia-v100-sxm2-32gb"]
METHODS = ["straight_line", "ddb", "syd", "declining_balance", "macrs"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def small_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Buckets of three ids, so a write moves some buckets and leaves others (the merge)."""
    monkeypatch.setattr(repository, "REGISTER_BUCKET", 3)
    monkeypatch.setattr(register_module, "REGISTER_BUCKET", 3)


def _asset(rng: random.Random, k: int) -> dict[str, Any]:
    method = rng.choice(METHODS)
    cost = round(rng.uniform(5_000, 300_000), 2)
    return {
        "tag": f"R-{k:03d}",
        "model": rng.choice(MODELS),
        "gpu_count": rng.choice([1, 4, 8]),
        "in_service_on": (date(2021, 1, 1) + timedelta(days=rng.randrange(1900))).isoformat(),
        "acquisition_cost": cost,
        "currency": rng.choice(["USD", "USD", "EUR", "GBP"]),
        "salvage": 0 if method == "macrs" or rng.random() < 0.5 else round(cost * 0.05, 2),
        "book_method": method,
        "life_months": 60 if method == "macrs" else rng.choice([36, 48, 60]),
    }


def _same(kept: Register, fresh: Register) -> None:
    assert kept.id.tolist() == fresh.id.tolist()
    for column in ("start", "gpu_count", "cost", "salvage", "life"):
        assert getattr(kept, column).tolist() == getattr(fresh, column).tolist(), column
    for codes, names in (("model", "models"), ("currency", "currencies"), ("method", "methods")):
        assert [getattr(kept, names)[c] for c in getattr(kept, codes).tolist()] == [
            getattr(fresh, names)[c] for c in getattr(fresh, codes).tolist()
        ]
    assert [(kept.id[c.index], c.effective_month, c.new_life_months, c.new_salvage)
            for c in kept.changes] == [
        (fresh.id[c.index], c.effective_month, c.new_life_months, c.new_salvage)
        for c in fresh.changes
    ]  # fmt: skip
    for closed in kept.books:
        ours, theirs = kept.books[closed], fresh.book(closed)
        assert ours.cents.tolist() == theirs.cents.tolist()
        assert ours.row.tolist() == theirs.row.tolist()


async def _totals_agree(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    page = await client.get("/valuations", params={"as_of": AS_OF, "limit": 2, **params})
    assert page.status_code == 200, page.text
    body = await client.get("/valuations", params={"as_of": AS_OF, "format": "csv", **params})
    rows = [r for r in csv.DictReader(io.StringIO(body.text)) if r["record"] == "total"]
    by_currency = {r["currency"]: r for r in rows}
    totals = page.json()["totals"]
    assert totals["count"] == sum(int(r["count"]) for r in rows)
    for entry in totals["by_currency"]:
        row = by_currency[entry["currency"]]
        for name in ("acquisition_cost", "book_value", "fair_value", "difference"):
            assert Decimal(row[name]) == Decimal(str(entry[name])).quantize(Decimal("0.01"))
        assert int(row["impaired"]) == entry["impaired"]
        assert int(row["gpu_count"]) == entry["gpu_count"]
    return dict(totals)


async def _patch(client: httpx.AsyncClient, ident: int, change: dict[str, Any]) -> None:
    etag = (await client.get(f"/assets/{ident}")).headers["etag"]
    response = await client.patch(f"/assets/{ident}", json=change, headers={"If-Match": etag})
    assert response.status_code == 200, response.text


async def test_a_kept_register_follows_every_write(
    client: httpx.AsyncClient, session: Session
) -> None:
    rng = random.Random(10)
    ids = []
    for k in range(14):
        response = await client.post("/assets", json=_asset(rng, k))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    registers = Registers()
    flt = AssetFilter()
    closed = [date(2026, 6, 1), date(2025, 12, 1)]

    def kept() -> Register:
        session.rollback()  # a new transaction: see the writes
        register = registers.get(session, flt, current_data_version(session))
        for month in closed:
            register.book(month)
        return register

    before = kept()
    first = await _totals_agree(client)
    writes: list[tuple[str, Any]] = [
        ("patch", (ids[1], {"gpu_count": 2})),
        ("patch", (ids[5], {"life_months": 72, "effective_from": "2025-01"})),
        ("delete", ids[8]),
        ("post", 100),
        ("patch", (ids[12], {"salvage": 10, "effective_from": "2025-06"})),
        ("delete", None),  # the newest asset: SQLite gives its id to the next one
        ("post", 101),
        ("patch", (ids[3], {"in_service_on": "2024-02-29"})),
    ]
    seen = [first]
    for kind, arg in writes:
        if kind == "patch":
            await _patch(client, *arg)
        elif kind == "delete":
            ident = arg if arg is not None else ids[-1]
            etag = (await client.get(f"/assets/{ident}")).headers["etag"]
            deleted = await client.delete(f"/assets/{ident}", headers={"If-Match": etag})
            assert deleted.status_code == 204, deleted.text
        else:
            created = await client.post("/assets", json=_asset(rng, arg))
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        after = kept()
        assert after is not before and after.data_version > before.data_version
        _same(after, Register.read(session, flt, after.data_version))
        seen.append(await _totals_agree(client))
        seen.append(await _totals_agree(client, currency="EUR", premise="forced"))
        before = after
    assert len({str(t) for t in seen}) > len(writes)  # the writes moved the totals


async def test_book_values_are_carried_only_where_terms_are_unchanged(
    client: httpx.AsyncClient, session: Session
) -> None:
    """An asset whose terms changed gets its book value computed again, not carried."""
    rng = random.Random(3)
    fixed = {"book_method": "straight_line", "salvage": 0, "in_service_on": "2022-03-10"}
    ids = [
        (await client.post("/assets", json=_asset(rng, k) | fixed)).json()["id"] for k in range(4)
    ]
    registers = Registers()
    closed = date(2026, 6, 1)
    session.rollback()
    old = registers.get(session, AssetFilter(), current_data_version(session))
    old_book = old.book(closed).cents.copy()
    await _patch(client, ids[2], {"life_months": 120, "effective_from": "2025-01"})
    session.rollback()
    new = registers.get(session, AssetFilter(), current_data_version(session))
    changed = np.flatnonzero(new.book(closed).cents != old_book).tolist()
    assert changed == [2]


async def test_a_currency_whose_last_asset_is_deleted_leaves_the_totals(
    client: httpx.AsyncClient,
) -> None:
    """The kept register still names the currency (its codes only grow); no rate is asked
    for it and no total shows it."""
    rng = random.Random(5)
    ids = {}
    for k, currency in enumerate(["USD", "USD", "GBP", "EUR"]):
        created = await client.post("/assets", json=_asset(rng, k) | {"currency": currency})
        assert created.status_code == 201, created.text
        ids[currency] = created.json()["id"]
    await _totals_agree(client)
    etag = (await client.get(f"/assets/{ids['GBP']}")).headers["etag"]
    deleted = await client.delete(f"/assets/{ids['GBP']}", headers={"If-Match": etag})
    assert deleted.status_code == 204, deleted.text
    for params in ({}, {"currency": "EUR"}, {"currency": "USD", "premise": "orderly"}):
        totals = await _totals_agree(client, **params)
        assert "GBP" not in {t["currency"] for t in totals["by_currency"]}
        assert totals["count"] == 3


async def test_a_model_whose_last_asset_is_deleted_is_not_valued(
    client: httpx.AsyncClient,
) -> None:
    """A B200 cannot be valued on 2024-06-30 (not released): once the fleet's only B200 is
    deleted, the first page of that date answers."""
    rng = random.Random(6)
    ids = []
    for k, model in enumerate(["nvidia-a100-sxm4-80gb", "nvidia-a100-sxm4-80gb",
                               "nvidia-b200-sxm-180gb", "nvidia-v100-sxm2-32gb"]):  # fmt: skip
        created = await client.post("/assets", json=_asset(rng, k) | {"model": model})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    params: dict[str, str | int] = {"as_of": "2024-06-30", "limit": 2}
    assert (await client.get("/valuations", params=params)).status_code == 422
    etag = (await client.get(f"/assets/{ids[2]}")).headers["etag"]
    deleted = await client.delete(f"/assets/{ids[2]}", headers={"If-Match": etag})
    assert deleted.status_code == 204, deleted.text
    page = await client.get("/valuations", params=params | {"premise": "forced"})
    assert page.status_code == 200, page.text
    assert page.json()["totals"]["count"] == 3
