"""Monthly asset book schedules: pro-rata months, leap years, prospective changes, cents."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.engine.depreciation import DepreciationInputError
from service.engine.schedule import Change, Method, MonthlyRow, monthly_schedule

LEAP_DAY = date(2024, 2, 29)
BOOK_METHODS: list[Method] = ["straight_line", "declining_balance", "ddb", "syd"]


def _months(rows: list[MonthlyRow]) -> list[date]:
    return [row.month for row in rows]


def _consecutive(first: date, count: int) -> list[date]:
    return [
        date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
        for i in range(count)
    ]


# --- (e) the leap-year asset ------------------------------------------------------------------


def test_leap_day_asset_straight_line_sums_to_cost_to_the_cent() -> None:
    rows = monthly_schedule(
        cost=Decimal("250000.00"),
        salvage=0,
        life_months=60,
        in_service=LEAP_DAY,
        method="straight_line",
    )
    monthly = Decimal(250_000) / 60
    # 61 calendar months: February 2024 (1 day of 29) to February 2029 (the complement).
    assert _months(rows) == _consecutive(date(2024, 2, 1), 61)
    assert rows[0].depreciation == Decimal("143.68")  # 4166.67 * 1/29
    assert {row.depreciation for row in rows[1:-1]} == {Decimal("4166.67")}
    assert next(row for row in rows if row.month == date(2028, 2, 1)).depreciation == Decimal(
        "4166.67"
    )
    assert rows[-1].month == date(2029, 2, 1)
    assert rows[-1].depreciation == Decimal("4022.79")  # 28/29 of a month, less the residue
    assert abs(rows[-1].depreciation - monthly * 28 / 29) <= Decimal("0.005") * 60
    assert sum(row.depreciation for row in rows) == Decimal("250000.00")
    assert rows[-1].accumulated == Decimal("250000.00")
    assert rows[-1].book_value == Decimal("0.00")
    for row in rows:
        assert row.accumulated + row.book_value == Decimal("250000.00")
        assert row.depreciation == row.depreciation.quantize(Decimal("0.01"))


def test_first_month_is_pro_rata_by_the_days_of_that_month() -> None:
    def first(in_service: date) -> Decimal:
        rows = monthly_schedule(
            cost=12_000, salvage=0, life_months=12, in_service=in_service, method="straight_line"
        )
        return rows[0].depreciation

    assert first(date(2024, 2, 28)) == Decimal("68.97")  # 2 days of a 29-day February
    assert first(date(2023, 2, 28)) == Decimal("35.71")  # 1 day of a 28-day February
    assert first(date(2024, 1, 31)) == Decimal("32.26")  # 1 day of 31
    assert first(date(2024, 3, 1)) == Decimal("1000.00")


def test_mid_month_start_ends_with_the_complement() -> None:
    rows = monthly_schedule(
        cost=60_000, salvage=0, life_months=60, in_service=date(2024, 1, 15), method="straight_line"
    )
    assert len(rows) == 61
    assert rows[0].depreciation == Decimal("548.39")  # 17/31
    assert rows[-1].month == date(2029, 1, 1)
    assert rows[-1].depreciation == Decimal("451.61")  # 14/31
    assert sum(row.depreciation for row in rows) == 60_000


def test_starting_on_the_first_gives_exactly_life_months_rows() -> None:
    rows = monthly_schedule(
        cost=12_000,
        salvage=600,
        life_months=12,
        in_service=date(2025, 7, 1),
        method="straight_line",
    )
    assert _months(rows) == _consecutive(date(2025, 7, 1), 12)
    assert {row.depreciation for row in rows} == {Decimal("950.00")}
    assert rows[-1].book_value == Decimal("600.00")


def test_residue_goes_to_the_last_month() -> None:
    rows = monthly_schedule(
        cost=1000, salvage=0, life_months=3, in_service=date(2025, 1, 1), method="straight_line"
    )
    assert [row.depreciation for row in rows] == [
        Decimal("333.33"),
        Decimal("333.33"),
        Decimal("333.34"),
    ]


# --- declining methods ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["declining_balance", "ddb", "syd"])
def test_accelerated_methods_decline_and_end_at_salvage(method: Method) -> None:
    rows = monthly_schedule(
        cost=250_000, salvage=25_000, life_months=60, in_service=LEAP_DAY, method=method
    )
    assert len(rows) == 61
    full_months = [row.depreciation for row in rows[1:-1]]
    assert full_months == sorted(full_months, reverse=True)
    assert full_months[0] > full_months[-1]
    assert rows[-1].book_value == Decimal("25000.00")
    assert sum(row.depreciation for row in rows) == Decimal("225000.00")


def test_ddb_is_twice_the_straight_line_rate_then_switches() -> None:
    rows = monthly_schedule(
        cost=120_000, salvage=0, life_months=12, in_service=date(2025, 1, 1), method="ddb"
    )
    assert rows[0].depreciation == Decimal("20000.00")  # 120000 * 2/12
    assert rows[1].depreciation == Decimal("16666.67")  # 100000 * 2/12
    # Straight line over the months left takes over once larger, and stays level.
    assert rows[-1].depreciation == rows[-2].depreciation
    assert rows[-1].book_value == 0


def test_declining_balance_uses_its_factor() -> None:
    def first(factor: float) -> Decimal:
        rows = monthly_schedule(
            cost=120_000,
            salvage=0,
            life_months=60,
            in_service=date(2025, 1, 1),
            method="declining_balance",
            factor=factor,
        )
        return rows[0].depreciation

    assert first(1.5) == Decimal("3000.00")
    assert first(2) == Decimal("4000.00")


def test_syd_full_months_are_the_months_digits() -> None:
    rows = monthly_schedule(
        cost=7800, salvage=0, life_months=12, in_service=date(2025, 1, 1), method="syd"
    )
    # 1 + 2 + ... + 12 = 78, so month k gets (13 - k) * 100.
    assert [row.depreciation for row in rows] == [Decimal(100 * (13 - k)) for k in range(1, 13)]


# --- prospective changes ----------------------------------------------------------------------


def test_change_of_life_and_salvage_applies_from_its_month_onward() -> None:
    kwargs: dict[str, Any] = {
        "cost": 250_000,
        "salvage": 10_000,
        "life_months": 60,
        "in_service": LEAP_DAY,
        "method": "straight_line",
    }
    before = monthly_schedule(**kwargs)
    change = Change(date(2025, 6, 15), new_life_months=48, new_salvage=Decimal("20000"))
    after = monthly_schedule(**kwargs, changes=[change])

    june = _months(after).index(date(2025, 6, 1))
    assert after[:june] == before[:june]  # nothing booked is restated
    assert {row.depreciation for row in after[1:june]} == {Decimal("4000.00")}
    months_left = 48 - (Fraction(1, 29) + 15)
    expected = (after[june - 1].book_value - 20_000) / Decimal(float(months_left))
    assert after[june].depreciation == expected.quantize(Decimal("0.01"))
    assert after[june].depreciation == Decimal("5152.72")
    assert {row.depreciation for row in after[june:-1]} == {Decimal("5152.72")}
    # 48 months from 2024-02-29 end in February 2028.
    assert after[-1].month == date(2028, 2, 1)
    assert after[-1].book_value == Decimal("20000.00")
    assert sum(row.depreciation for row in after) == Decimal("230000.00")


def test_change_spreads_the_posted_book_value_not_the_unrounded_one() -> None:
    # 1000 over 120 months posts 8.33 a month (exactly 8.333...): after 100 months the books
    # show 167.00 where the unrounded value is 166.67. Finance re-spreads what the books show.
    rows = monthly_schedule(
        cost=1000,
        salvage=0,
        life_months=120,
        in_service=date(2025, 1, 1),
        method="straight_line",
        changes=[Change(date(2033, 5, 1), new_life_months=130)],
    )
    assert rows[99].book_value == Decimal("167.00")
    assert rows[100].depreciation == Decimal("5.57")  # 167.00 / 30, not 166.67 / 30 = 5.56
    assert rows[-1].book_value == 0


def test_extending_the_life_spreads_what_is_left() -> None:
    rows = monthly_schedule(
        cost=12_000,
        salvage=0,
        life_months=12,
        in_service=date(2025, 1, 1),
        method="straight_line",
        changes=[Change(date(2025, 7, 1), new_life_months=18)],
    )
    assert [row.depreciation for row in rows[:6]] == [Decimal(1000)] * 6
    assert [row.depreciation for row in rows[6:]] == [Decimal(500)] * 12
    assert rows[-1].month == date(2026, 6, 1)


def test_change_in_the_first_month_is_a_fresh_schedule() -> None:
    changed = monthly_schedule(
        cost=90_000,
        salvage=0,
        life_months=36,
        in_service=date(2024, 5, 20),
        method="ddb",
        changes=[Change(date(2024, 5, 1), new_life_months=24, new_salvage=9000)],
    )
    fresh = monthly_schedule(
        cost=90_000, salvage=9000, life_months=24, in_service=date(2024, 5, 20), method="ddb"
    )
    assert changed == fresh


@pytest.mark.parametrize("method", BOOK_METHODS)
def test_declining_methods_rebase_on_the_posted_book_value(method: Method) -> None:
    rows = monthly_schedule(
        cost=100_000,
        salvage=0,
        life_months=48,
        in_service=date(2023, 3, 10),
        method=method,
        changes=[
            Change(date(2024, 1, 1), new_salvage=5000),
            Change(date(2025, 3, 31), new_life_months=60),
        ],
    )
    assert rows[-1].month == date(2028, 3, 1)
    assert rows[-1].book_value == Decimal("5000.00")
    assert all(row.depreciation >= 0 for row in rows)


# --- MACRS by month ---------------------------------------------------------------------------


def test_macrs_by_month_adds_up_to_the_tax_years() -> None:
    rows = monthly_schedule(
        cost=250_000, salvage=0, life_months=60, in_service=LEAP_DAY, method="macrs"
    )
    assert _months(rows) == _consecutive(date(2024, 2, 1), 71)
    by_year: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        by_year[row.month.year] += row.depreciation
    expected = [
        50_000,
        80_000,
        48_000,
        28_800,
        28_800,
        14_400,
    ]  # 20, 32, 19.2, 11.52, 11.52, 5.76 %
    for year, amount in zip(range(2024, 2030), expected, strict=True):
        assert abs(by_year[year] - amount) <= Decimal("0.12")
    assert rows[0].depreciation == Decimal("171.82")  # 50000 * (1/29) / (1/29 + 10)
    assert rows[-1].book_value == 0
    assert sum(row.depreciation for row in rows) == 250_000


def test_macrs_mid_quarter_takes_the_quarter_from_the_in_service_date() -> None:
    rows = monthly_schedule(
        cost=100_000,
        salvage=0,
        life_months=60,
        in_service=date(2024, 11, 10),
        method="macrs",
        convention="mid_quarter",
    )
    first_year = sum((r.depreciation for r in rows if r.month.year == 2024), Decimal(0))
    assert abs(first_year - 5000) <= Decimal("0.02")  # table A-5: 5.00%
    assert rows[-1].month == date(2029, 12, 1)
    assert sum(row.depreciation for row in rows) == 100_000


# --- (d) properties ---------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=10**11).map(lambda c: Decimal(c).scaleb(-2))
in_service_dates = st.dates(min_value=date(2019, 1, 1), max_value=date(2031, 12, 31))


@st.composite
def assets(draw: st.DrawFn) -> dict[str, Any]:
    cost = draw(cents)
    share = draw(st.fractions(min_value=0, max_value=1))
    salvage = (cost * share.numerator / share.denominator).quantize(Decimal("0.01"), "ROUND_FLOOR")
    return {
        "cost": cost,
        "salvage": salvage,
        "life_months": draw(st.integers(min_value=1, max_value=120)),
        "in_service": draw(in_service_dates),
        "method": draw(st.sampled_from(BOOK_METHODS)),
        "factor": draw(st.floats(min_value=0.5, max_value=3)),
    }


def _assert_well_formed(
    rows: list[MonthlyRow], asset: dict[str, Any], final_salvage: Decimal
) -> None:
    assert _months(rows) == _consecutive(asset["in_service"].replace(day=1), len(rows))
    assert len(rows) in (asset["life_months"], asset["life_months"] + 1) or "changed" in asset
    accumulated = Decimal(0)
    for row in rows:
        assert row.depreciation >= 0
        assert row.depreciation == row.depreciation.quantize(Decimal("0.01"))
        accumulated += row.depreciation
        assert row.accumulated == accumulated
        assert row.book_value == asset["cost"] - accumulated
        assert row.book_value >= min(final_salvage, asset["salvage"])
    assert accumulated == asset["cost"] - final_salvage
    assert rows[-1].book_value == final_salvage


@given(assets())
def test_schedule_sums_exactly_to_cost_less_salvage(asset: dict[str, Any]) -> None:
    rows = monthly_schedule(**asset)
    _assert_well_formed(rows, asset, asset["salvage"])
    starts_on_first = asset["in_service"].day == 1
    assert len(rows) == asset["life_months"] + (0 if starts_on_first else 1)


@given(assets(), st.data())
def test_prospective_change_keeps_the_past_and_ends_at_the_new_salvage(
    asset: dict[str, Any], data: st.DataObject
) -> None:
    base = monthly_schedule(**asset)
    index = data.draw(st.integers(min_value=0, max_value=len(base) - 1))
    book = asset["cost"] if index == 0 else base[index - 1].book_value
    share = data.draw(st.fractions(min_value=0, max_value=1))
    new_salvage = (book * share.numerator / share.denominator).quantize(
        Decimal("0.01"), "ROUND_FLOOR"
    )
    new_life = index + data.draw(st.integers(min_value=1, max_value=120))
    day = data.draw(st.integers(min_value=1, max_value=28))
    change = Change(base[index].month.replace(day=day), new_life, new_salvage)

    rows = monthly_schedule(**asset, changes=[change])
    assert rows[:index] == base[:index]
    _assert_well_formed(rows, {**asset, "changed": True}, new_salvage)


# --- (f) invalid input ------------------------------------------------------------------------


def _call(**overrides: Any) -> Any:
    kwargs: dict[str, Any] = {
        "cost": 10_000,
        "salvage": 1000,
        "life_months": 24,
        "in_service": date(2024, 2, 29),
        "method": "straight_line",
    }
    return lambda: monthly_schedule(**{**kwargs, **overrides})


INVALID: list[tuple[str, Any, str]] = [
    ("negative cost", _call(cost=-1), "cost"),
    ("nan cost", _call(cost=Decimal("NaN")), "cost"),
    ("infinite cost", _call(cost=float("inf")), "cost"),
    ("fraction of a cent", _call(cost=Decimal("100.005")), "cost"),
    ("text cost", _call(cost="100"), "cost"),
    ("bool cost", _call(cost=True), "cost"),
    ("negative salvage", _call(salvage=-5), "salvage"),
    ("salvage above cost", _call(salvage=10_001), "salvage"),
    ("zero life", _call(life_months=0), "life_months"),
    ("fractional life", _call(life_months=12.5), "life_months"),
    ("life too long", _call(life_months=1201), "life_months"),
    ("datetime in service", _call(in_service=datetime(2024, 2, 29, 12)), "in_service"),
    ("unknown method", _call(method="units_of_production"), "method"),
    ("zero factor", _call(method="declining_balance", factor=0), "factor"),
    ("nan factor", _call(method="declining_balance", factor=float("nan")), "factor"),
    ("change before in service", _call(changes=[Change(date(2024, 1, 31), 30)]), "before"),
    ("change sets nothing", _call(changes=[Change(date(2024, 6, 1))]), "neither"),
    (
        "two changes in one month",
        _call(changes=[Change(date(2024, 6, 1), 30), Change(date(2024, 6, 20), new_salvage=0)]),
        "two changes",
    ),
    ("new life already used", _call(changes=[Change(date(2024, 8, 1), 5)]), "new_life_months"),
    (
        "new life fractional",
        _call(changes=[Change(date(2024, 8, 1), 30.5)]),  # type: ignore[arg-type]  # deliberately the wrong type
        "new_life_months",
    ),
    (
        "new salvage above book value",
        _call(changes=[Change(date(2025, 8, 1), new_salvage=9000)]),
        "new_salvage",
    ),
    (
        "new salvage negative",
        _call(changes=[Change(date(2024, 8, 1), new_salvage=-1)]),
        "new_salvage",
    ),
    ("change after the end", _call(changes=[Change(date(2026, 3, 1), 36)]), "after the last month"),
    (
        "change with a datetime",
        _call(changes=[Change(datetime(2024, 8, 1, 9), 30)]),
        "effective_month",
    ),
    ("change not a Change", _call(changes=[(date(2024, 8, 1), 30)]), "changes"),
    ("macrs with salvage", _call(method="macrs", life_months=60), "salvage"),
    (
        "macrs with changes",
        _call(method="macrs", salvage=0, life_months=60, changes=[Change(date(2024, 8, 1), 72)]),
        "changes",
    ),
    ("macrs odd months", _call(method="macrs", salvage=0, life_months=61), "life_months"),
    ("macrs unsupported years", _call(method="macrs", salvage=0, life_months=48), "recovery_years"),
    (
        "macrs bad convention",
        _call(method="macrs", salvage=0, life_months=60, convention="mid_month"),
        "convention",
    ),
]


# The argument each refusal names in ``field`` (callers map it to their own field paths).
FIELD_OF = {
    "datetime in service": "in_service",
    "zero factor": "factor",
    "nan factor": "factor",
    "change before in service": "effective_month",
    "change sets nothing": "changes",
    "two changes in one month": "effective_month",
    "new life fractional": "new_life_months",
    "change after the end": "effective_month",
    "change with a datetime": "effective_month",
    "change not a Change": "changes",
    "macrs odd months": "life_months",
    "macrs unsupported years": "recovery_years",
    "macrs bad convention": "convention",
}
CONFLICTS = {
    "salvage above cost",
    "change before in service",
    "two changes in one month",
    "new life already used",
    "new salvage above book value",
    "change after the end",
    "macrs with salvage",
    "macrs with changes",
    "macrs odd months",
}


@pytest.mark.parametrize(
    ("name", "call", "reason"),
    INVALID,
    ids=[name for name, _, _ in INVALID],
)
def test_invalid_input_is_refused_with_the_reason(name: str, call: Any, reason: str) -> None:
    with pytest.raises(DepreciationInputError, match=reason) as refused:
        call()
    assert refused.value.field == FIELD_OF.get(name, reason)
    assert refused.value.kind == ("conflict" if name in CONFLICTS else "invalid")


def test_amounts_round_half_up_to_the_cent() -> None:
    # 100.05 over two whole months: the first month's exact amount is 50.025, a half cent.
    rows = monthly_schedule(
        cost=Decimal("100.05"),
        salvage=0,
        life_months=2,
        in_service=date(2024, 3, 1),
        method="straight_line",
    )
    assert [row.depreciation for row in rows] == [Decimal("50.03"), Decimal("50.02")]


def test_raising_salvage_to_the_book_value_stops_depreciation() -> None:
    rows = _call()()  # 375 a month; February 2024 to February 2026
    book = next(row for row in rows if row.month == date(2025, 7, 1)).book_value
    assert book == Decimal("3612.07")  # 10,000 - 375/29 - 17 * 375
    stopped = _call(changes=[Change(date(2025, 8, 1), new_salvage=book)])()
    assert stopped[:-7] == rows[:-7]
    assert [row.depreciation for row in stopped[-7:]] == [Decimal(0)] * 7
    assert stopped[-1].book_value == book
