"""Vectorised closing book values equal the spreadsheet-exact monthly schedule to the cent."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine.book import METHOD_CODES, BookValues, closing_book_values, round_cents
from service.engine.depreciation import DepreciationInputError
from service.engine.schedule import METHODS, Change, Method, monthly_schedule


@dataclass(frozen=True)
class Terms:
    cost: float
    salvage: float
    life: int
    in_service: date
    method: Method
    changes: tuple[Change, ...] = ()


def _vectorised(assets: list[Terms], closed: tuple[int, int]) -> BookValues:
    flat = [(i, c) for i, a in enumerate(assets) for c in a.changes]
    return closing_book_values(
        cost=np.array([a.cost for a in assets], dtype=np.float64),
        salvage=np.array([a.salvage for a in assets], dtype=np.float64),
        life_months=np.array([a.life for a in assets], dtype=np.int64),
        method=np.array([METHOD_CODES[a.method] for a in assets], dtype=np.int64),
        year=np.array([a.in_service.year for a in assets], dtype=np.int64),
        month=np.array([a.in_service.month for a in assets], dtype=np.int64),
        day=np.array([a.in_service.day for a in assets], dtype=np.int64),
        closed_year=closed[0],
        closed_month=closed[1],
        change_asset=[i for i, _ in flat],
        change_year=[c.effective_month.year for _, c in flat],
        change_month=[c.effective_month.month for _, c in flat],
        change_life=[c.new_life_months for _, c in flat],
        change_salvage=[None if c.new_salvage is None else float(c.new_salvage) for _, c in flat],
    )


def _expected(asset: Terms, closed: tuple[int, int]) -> tuple[int, int] | None:
    """(row, book in cents) as the fleet reads the schedule; None when the schedule refuses."""
    try:
        rows = monthly_schedule(
            cost=asset.cost,
            salvage=asset.salvage,
            life_months=asset.life,
            in_service=asset.in_service,
            method=asset.method,
            changes=asset.changes,
        )
    except DepreciationInputError:
        return None
    first = rows[0].month
    index = (closed[0] - first.year) * 12 + closed[1] - first.month
    if index < 0:
        return -1, int(Decimal(repr(asset.cost)) * 100)
    row = min(index, len(rows) - 1)
    return row, int(rows[row].book_value * 100)


def _random_terms(rng: random.Random) -> Terms:
    method = rng.choice(METHODS)
    year, month = rng.randint(2015, 2026), rng.randint(1, 12)
    in_service = date(year, month, rng.randint(1, 28 if month == 2 else 30))
    cost = round(rng.uniform(0, 250_000), 2) if rng.random() < 0.9 else rng.choice([0.0, 0.01])
    if method == "macrs":
        life = rng.choice([36, 60, 84, 84, 120, 61])
        salvage = 0.0 if rng.random() < 0.95 else 1.0
    else:
        life = rng.randint(1, 120)
        salvage = round(rng.uniform(0, cost), 2) if rng.random() < 0.5 else 0.0
    changes = []
    if rng.random() < 0.3:
        for _ in range(rng.randint(1, 3)):
            index = year * 12 + month - 1 + rng.randint(-1, life + 2)
            new_life = rng.randint(1, 150) if rng.random() < 0.6 else None
            new_salvage = (
                round(rng.uniform(0, cost), 2) if new_life is None or rng.random() < 0.5 else None
            )
            changes.append(Change(date(index // 12, index % 12 + 1, 1), new_life, new_salvage))
    return Terms(cost, salvage, life, in_service, method, tuple(changes))


def _compare(assets: list[Terms], closed: tuple[int, int]) -> tuple[int, int]:
    got = _vectorised(assets, closed)
    valued = refused = 0
    for i, asset in enumerate(assets):
        expected = _expected(asset, closed)
        if expected is None:
            assert not got.exact[i], asset
            refused += 1
            continue
        assert got.exact[i], asset
        assert (int(got.row[i]), int(got.book_cents[i])) == expected, (asset, closed)
        valued += 1
    return valued, refused


@pytest.mark.parametrize("closed", [(2016, 5), (2020, 1), (2024, 12), (2026, 6), (2033, 3)])
def test_equals_the_schedule_on_thousands_of_random_assets(closed: tuple[int, int]) -> None:
    rng = random.Random(f"book-{closed}")
    valued, refused = _compare([_random_terms(rng) for _ in range(1500)], closed)
    # the draw exercises both sides: terms the schedule books and terms it refuses
    assert valued > 1000
    assert refused > 50


def test_every_method_with_changes_of_life_and_salvage_on_a_leap_day() -> None:
    changes = (
        Change(date(2024, 9, 1), new_life_months=48),
        Change(date(2025, 3, 1), new_salvage=5_000.0),
        Change(date(2026, 1, 1), new_life_months=60, new_salvage=1_000.0),
    )
    assets = [
        Terms(250_000.0, 10_000.0, 36, date(2024, 2, 29), method, changes)
        for method in ("straight_line", "declining_balance", "ddb", "syd")
    ] + [Terms(250_000.0, 0.0, 60, date(2024, 2, 29), "macrs")]
    for year in range(2024, 2031):
        for month in (1, 6, 12):
            valued, _ = _compare(assets, (year, month))
            assert valued == len(assets)


@settings(max_examples=200, deadline=None)
@given(
    cost_cents=st.integers(0, 10**9),
    salvage_share=st.fractions(0, 1),
    life=st.integers(1, 240),
    in_service=st.dates(date(2000, 1, 1), date(2030, 12, 31)),
    method=st.sampled_from(METHODS),
    offset=st.integers(-3, 300),
    change_at=st.integers(0, 240),
    new_life=st.none() | st.integers(1, 300),
)
def test_equals_the_schedule_for_any_terms(
    cost_cents: int,
    salvage_share: Fraction,
    life: int,
    in_service: date,
    method: Method,
    offset: int,
    change_at: int,
    new_life: int | None,
) -> None:
    salvage = 0.0 if method == "macrs" else int(cost_cents * salvage_share) / 100
    if method == "macrs":
        life = 12 * (3 + 2 * (life % 3))
    index = in_service.year * 12 + in_service.month - 1
    changes = (
        (Change(date((index + change_at) // 12, (index + change_at) % 12 + 1, 1), new_life),)
        if new_life is not None and method != "macrs"
        else ()
    )
    asset = Terms(cost_cents / 100, salvage, life, in_service, method, changes)
    closed = index + offset
    _compare([asset], (closed // 12, closed % 12 + 1))


def test_half_cents_round_up_on_the_shortest_decimal() -> None:
    amounts = np.array([0.125, 0.135, 1.005, 2.675, 1234.565, 0.0, 0.004999, 1e10 + 0.005])
    cent = Decimal("0.01")
    expected = [int(Decimal(repr(float(a))).quantize(cent, ROUND_HALF_UP) * 100) for a in amounts]
    assert round_cents(amounts).tolist() == expected
    # 2.675 is 2.67499999... in binary; read as people write it, it rounds up
    assert expected[:4] == [13, 14, 101, 268]


def test_terms_the_schedule_refuses_are_left_to_it() -> None:
    assets = [
        Terms(100.005, 0.0, 12, date(2024, 1, 1), "straight_line"),  # not whole cents
        Terms(100.0, 200.0, 12, date(2024, 1, 1), "straight_line"),  # salvage above cost
        Terms(100.0, 0.0, 0, date(2024, 1, 1), "syd"),  # no life
        Terms(100.0, 0.0, 48, date(2024, 1, 1), "macrs"),  # not a MACRS class
        Terms(
            100.0,
            0.0,
            12,
            date(2024, 1, 1),
            "ddb",
            (Change(date(2023, 12, 1), 24),),  # before the in-service month
        ),
        Terms(100.0, 0.0, 12, date(2024, 1, 1), "ddb", (Change(date(2026, 1, 1), 24),)),  # late
    ]
    got = _vectorised(assets, (2024, 6))
    assert not got.exact.any()
    assert all(_expected(a, (2024, 6)) is None for a in assets)


def test_straight_line_in_closed_form_equals_the_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Straight line without changes is valued in closed form, except where the months'
    amounts lie near a half cent (exact ties, built here on purpose), which are stepped: both
    paths agree with the schedule, at costs up to ten million and salvage near the cost."""
    import service.engine.book as book

    stepped: list[int] = []
    step = book._depreciate

    def counted(live: np.ndarray, *args: object) -> None:
        stepped.append(int(np.count_nonzero(live)))
        step(live, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(book, "_depreciate", counted)
    rng = random.Random("straight-line")
    assets = []
    for k in range(600):
        life = rng.choice([1, 2, 3, 12, 36, 60, 61, 72, 120, 240])
        in_service = date(rng.randint(2018, 2025), rng.randint(1, 12), rng.choice([1, 1, 15, 28]))
        if k % 4 == 0:  # (cost - salvage) / life on a half cent exactly: a tie every month
            cost = life * (rng.randint(1, 50_000) + 0.005)
            cost = round(cost, 2) if round(cost, 2) == cost else float(life)
            salvage = 0.0
        else:
            cost = round(rng.uniform(0.01, 10_000_000), 2)
            share = rng.choice([0.0, 0.05, 0.5, 0.999])
            salvage = round(cost * share, 2)
        assets.append(Terms(cost, salvage, life, in_service, "straight_line"))
    valued = in_life = steps = 0
    for closed in [(2018, 6), (2020, 1), (2022, 7), (2024, 2), (2025, 12), (2031, 3)]:
        stepped.clear()
        done, refused = _compare(assets, closed)
        valued += done
        assert refused == 0
        in_life += sum(
            0 <= (closed[0] - a.in_service.year) * 12 + closed[1] - a.in_service.month < a.life - 1
            for a in assets
        )
        steps += sum(stepped)
    assert valued == 6 * len(assets)
    # most assets in the middle of their life skip the stepping; the ties (a quarter) do not
    assert in_life > 500
    assert 0 < steps < in_life / 2
