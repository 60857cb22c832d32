"""The vectorised fleet valuation gives, asset by asset, what valuing each asset on its own
gives: the engine's residual at the asset's age and the closing value of its exact monthly
schedule, converted and rounded to the cent as before (a reference written out per asset)."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pytest

from service import engine
from service.engine.depreciation import DepreciationInputError
from service.engine.schedule import METHODS, Change, monthly_schedule
from service.engine.types import Premise
from service.reference import calibration
from service.valuation import fleet
from service.valuation.fleet import ages as ages_module
from service.valuation.fleet import csv_export
from service.valuation.fleet.repository import AssetBatch, ChangeRow
from service.valuation.service import Context, months_in_service

AS_OF = date(2026, 6, 30)
CENT = Decimal("0.01")


def cents(x: float | Decimal) -> Decimal:
    return (x if isinstance(x, Decimal) else Decimal(repr(x))).quantize(CENT, ROUND_HALF_UP)


def _fleet(rng: random.Random, models: list[str], n: int) -> AssetBatch:
    batch = AssetBatch()
    for k in range(n):
        method = rng.choice(METHODS)
        in_service = date(2019, 1, 1) + timedelta(days=rng.randrange(2900))
        cost = round(rng.uniform(1_000, 400_000), 2)
        life = rng.choice([36, 60, 84]) if method == "macrs" else rng.randint(6, 96)
        salvage = 0.0 if method == "macrs" or rng.random() < 0.5 else round(cost * 0.07, 2)
        changes: list[Change] = []
        if method != "macrs" and rng.random() < 0.25:
            first = in_service.year * 12 + in_service.month - 1
            at = first + rng.randint(0, life - 1)
            changes.append(
                Change(date(at // 12, at % 12 + 1, 1), rng.randint(life, life + 36), None)
            )
            try:
                monthly_schedule(
                    cost=cost,
                    salvage=salvage,
                    life_months=life,
                    in_service=in_service,
                    method=method,
                    changes=changes,
                )
            except DepreciationInputError:
                changes = []
        batch.id.append(k + 1)
        batch.tag.append(f"T-{k}")
        batch.model.append(rng.choice(models))
        batch.status.append("active")
        batch.gpu_count.append(rng.choice([1, 4, 8]))
        batch.in_service_on.append(in_service)
        batch.cost.append(cost)
        batch.currency.append(rng.choice(["USD", "USD", "EUR", "GBP"]))
        batch.salvage.append(salvage)
        batch.method.append(method)
        batch.life_months.append(life)
        batch.changes += [
            ChangeRow(k, f"{c.effective_month:%Y-%m}", c.new_life_months, None) for c in changes
        ]
    return batch


@pytest.mark.parametrize(
    ("as_of", "premise", "currency"),
    [(AS_OF, "market", None), (date(2026, 7, 17), "forced", "EUR"), (AS_OF, "orderly", "USD")],
)
def test_each_line_is_the_asset_valued_on_its_own(
    as_of: date, premise: Premise, currency: str | None
) -> None:
    cal = calibration(AS_OF)
    ctx = Context(cal, {}, 1, AS_OF, None)
    models = sorted(s for s, m in cal.models.items() if m.release_date <= date(2019, 1, 1))
    batch = _fleet(random.Random(f"{as_of}{premise}"), models, 400)
    rates = fleet.rates_for(ctx, set(batch.currency), as_of=as_of, requested=currency)
    valuation = fleet.FleetValuation(
        ctx,
        as_of=as_of,
        premise=premise,
        currency=currency,
        assumptions=engine.Assumptions(),
        rates=rates,
    )
    lines = valuation.value(batch)
    closed = fleet.closed_month(as_of)
    for i in range(len(batch)):
        line = lines.item(i)
        out = currency or batch.currency[i]
        age = min(months_in_service(batch.in_service_on[i], as_of), 600.0)
        r = engine.residual(
            cal,
            cal.models[batch.model[i]],
            as_of=as_of,
            age_months=age,
            premise=premise,
        )
        per_gpu = cents(r.value_per_gpu / rates[out].usd_per_unit)
        rows = monthly_schedule(
            cost=batch.cost[i],
            salvage=batch.salvage[i],
            life_months=batch.life_months[i],
            in_service=batch.in_service_on[i],
            method=batch.method[i],  # type: ignore[arg-type]
            changes=[
                Change(date.fromisoformat(f"{c.effective_month}-01"), c.new_life_months)
                for c in batch.changes
                if c.index == i
            ],
        )
        index = (closed.year - rows[0].month.year) * 12 + closed.month - rows[0].month.month
        if index < 0:
            month, book = None, cents(batch.cost[i])
        else:
            row = rows[min(index, len(rows) - 1)]
            month, book = f"{row.month:%Y-%m}", row.book_value

        def convert(amount: Decimal, i: int = i, out: str = out) -> Decimal:
            if batch.currency[i] == out:
                return amount
            usd = float(amount) * rates[batch.currency[i]].usd_per_unit
            return cents(usd / rates[out].usd_per_unit)

        book = convert(book)
        expected = (
            out,
            round(age, 2),
            convert(cents(batch.cost[i])),
            month,
            book,
            per_gpu,
            per_gpu * batch.gpu_count[i],
            per_gpu * batch.gpu_count[i] - book,
            book > per_gpu * batch.gpu_count[i],
            r.regime,
            r.frontier_precision,
            round(r.remaining_life_months, 2),
        )
        got = (
            line.currency,
            line.age_months,
            line.acquisition_cost,
            line.book_month,
            line.book_value,
            line.fair_value_per_gpu,
            line.fair_value,
            line.difference,
            line.impaired,
            line.regime,
            line.frontier_precision,
            line.remaining_life_months,
        )
        assert got == expected, (i, batch.method[i])
    # one engine state per model, one evaluation per distinct age
    assert valuation.engine_calls == len(set(batch.model))
    age_days = [max((as_of - d).days, 0) for d in batch.in_service_on]
    ages = set(zip(batch.model, age_days, strict=True))
    assert valuation.ages == len(ages)


def test_a_unit_in_service_whole_months_is_that_many_months_old() -> None:
    as_of = date(2026, 2, 28)
    cal = calibration(as_of)
    ctx = Context(cal, {}, 1, as_of, None)
    models = sorted(s for s, m in cal.models.items() if m.release_date <= date(2018, 1, 1))
    batch = _fleet(random.Random("whole months"), models, 4)
    batch.changes = []
    batch.in_service_on[:] = [date(2018, 4, 30), date(2019, 2, 28), date(2025, 2, 14), AS_OF]
    rates = fleet.rates_for(ctx, set(batch.currency), as_of=as_of, requested=None)
    valuation = fleet.FleetValuation(
        ctx,
        as_of=as_of,
        premise="market",
        currency=None,
        assumptions=engine.Assumptions(),
        rates=rates,
    )
    lines = valuation.value(batch)
    # 94 and 84 whole months; 2026-02-14 → 2026-03-14 has 28 days, 14 of them gone; not yet
    assert lines.age_months == [94.0, 84.0, 12.5, 0.0]


HOSTILE_TAGS = [
    "plain",
    "a,b",
    'say "hi"',
    "line\nbreak",
    "cr\rhere",
    "crlf\r\n",
    " lead",
    "trail ",
    "",
    '"',
    ",",
    "tab\there",
    "semi;colon",
    "'single'",
    "ünïcödé €",
    "\u2028separator",
]


def _reference_csv(valuation: fleet.FleetValuation, batches: list[AssetBatch]) -> str:
    """The CSV as :mod:`csv`'s writer writes it from each asset's line (amounts as ``Decimal``),
    with totals summed per currency."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(fleet.CSV_HEADER)
    totals: dict[str, list[Any]] = {}
    for batch in batches:
        lines = valuation.value(batch)
        for i in range(len(batch)):
            x = lines.item(i)
            writer.writerow(
                (
                    "asset", 1, x.asset_id, x.tag, x.model, x.status, x.gpu_count,
                    x.in_service_on.isoformat(), f"{x.age_months:.2f}", x.currency,
                    x.acquisition_cost, x.book_month or "", x.book_value, x.fair_value_per_gpu,
                    x.fair_value, x.difference, "true" if x.impaired else "false", x.regime,
                    x.frontier_precision, f"{x.remaining_life_months:.2f}",
                )
            )  # fmt: skip
            t = totals.setdefault(x.currency, [0, 0, CENT * 0, CENT * 0, CENT * 0, CENT * 0, 0])
            amounts = (x.acquisition_cost, x.book_value, x.fair_value, x.difference)
            t[0], t[1], t[6] = t[0] + 1, t[1] + x.gpu_count, t[6] + x.impaired
            t[2:6] = [a + b for a, b in zip(t[2:6], amounts, strict=True)]
    for code in sorted(totals):
        n, gpus, cost, book, fair, diff, impaired = totals[code]
        writer.writerow(
            ("total", n, "", "", "", "", gpus, "", "", code, cost, "", book, "", fair, diff,
             impaired, "", "", "")
        )  # fmt: skip
    return buffer.getvalue()


@pytest.mark.parametrize("currency", [None, "GBP"])
def test_the_csv_is_what_the_csv_writer_writes(currency: str | None) -> None:
    """Rows formatted a column at a time are, byte for byte, csv.writer's rows of the lines:
    free-text tags quoted as it quotes them, amounts as their decimals, chunks cut at
    ``chunk_rows`` rows across batches, the totals last."""
    cal = calibration(AS_OF)
    ctx = Context(cal, {}, 1, AS_OF, None)
    models = sorted(s for s, m in cal.models.items() if m.release_date <= date(2019, 1, 1))
    batches = [_fleet(random.Random(f"csv {k}"), models, 40) for k in range(3)]
    for batch in batches:
        batch.tag[:] = [HOSTILE_TAGS[i % len(HOSTILE_TAGS)] + str(i) for i in range(len(batch))]
    currencies = {c for b in batches for c in b.currency}
    rates = fleet.rates_for(ctx, currencies, as_of=AS_OF, requested=currency)

    def valuation() -> fleet.FleetValuation:
        return fleet.FleetValuation(
            ctx,
            as_of=AS_OF,
            premise="market",
            currency=currency,
            assumptions=engine.Assumptions(),
            rates=rates,
        )

    chunks = list(fleet.csv_chunks(valuation(), batches, chunk_rows=7))
    assert "".join(chunks) == _reference_csv(valuation(), batches)
    assert len(chunks) == 1 + -(-120 // 7)  # the header, then 7 rows a chunk, totals with the last
    rows = [list(csv.reader(io.StringIO(chunk, newline=""))) for chunk in chunks[1:-1]]
    assert all(len(chunk) == 7 and len(chunk[0]) == len(fleet.CSV_HEADER) for chunk in rows)


def test_a_field_is_quoted_as_the_csv_writer_quotes_it() -> None:
    for text in [*HOSTILE_TAGS, "x" * 300, '""', "a\r", "\n"]:
        buffer = io.StringIO()
        csv.writer(buffer).writerow(["left", text, "right"])
        assert buffer.getvalue() == f"left,{csv_export.field(text)},right\r\n", repr(text)


def test_a_money_column_is_each_amount_in_cents() -> None:
    rng = random.Random("money")
    edges = [0, 1, -1, 5, -5, 99, 100, -100, 10**13 - 1, -(10**13) + 1, 10**13, 2**62]
    values = edges + [rng.randint(-(10**14), 10**14) for _ in range(5000)]
    values += [rng.randint(-999, 999) for _ in range(2000)]
    for chunk in (values, values[:12], values[-5000:]):
        array = np.array(chunk, dtype=np.int64)
        assert csv_export.money_column(array) == [csv_export.money(v) for v in chunk]
    assert csv_export.money(-5) == "-0.05" and csv_export.money(123450) == "1234.50"


def test_requests_asking_the_same_question_share_the_engines_answers() -> None:
    cal = calibration(AS_OF)
    ctx = Context(cal, {}, 1, AS_OF, None)
    models = sorted(s for s, m in cal.models.items() if m.release_date <= date(2019, 1, 1))
    batch = _fleet(random.Random("shared"), models, 300)
    table = fleet.FairTable()
    valued = []
    for currency in (None, "EUR", None):
        rates = fleet.rates_for(ctx, set(batch.currency), as_of=AS_OF, requested=currency)
        valuation = fleet.FleetValuation(
            ctx,
            as_of=AS_OF,
            premise="market",
            currency=currency,
            assumptions=engine.Assumptions(),
            rates=rates,
            table=table,
        )
        lines = valuation.value(batch)
        valued.append(([lines.item(i) for i in range(len(batch))], valuation))
    (first, one), (in_eur, two), (again, three) = valued
    assert one.ages == len(table.facts) > 0 and one.engine_calls == len(set(batch.model))
    assert two.ages == three.ages == two.engine_calls == three.engine_calls == 0
    assert again == first and in_eur != first
    tables = fleet.FairTables(capacity=2)
    assert tables.get("a") is tables.get("a") is not tables.get("b")
    tables.get("c")  # "a" was used last before "b": "a" goes
    assert tables.get("b") is not None and len(tables._tables) == 2 and "a" not in tables._tables


@pytest.mark.parametrize(
    "as_of",
    [date(2026, 6, 30), date(2026, 2, 28), date(2024, 2, 29), date(2025, 3, 31), date(2026, 7, 17)],
)
def test_ages_at_once_are_the_ages_one_by_one(as_of: date) -> None:
    """Every in-service date of ten years before ``as_of`` (and some after it), month ends and
    leap days included: the vectorised age is ``months_in_service``, float for float."""
    days = [*range(-40, 3700), 18_300, 18_263, 25_000]
    got = ages_module.ages_in_months(as_of, np.array(days, dtype=np.int64)).tolist()
    for d, age in zip(days, got, strict=True):
        start = date.fromordinal(as_of.toordinal() - d)
        assert age == min(months_in_service(start, as_of), 600.0), start
