"""MACRS percentages against IRS Publication 946, tables A-1 to A-5, as printed."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.engine.depreciation import DepreciationInputError
from service.engine.macrs import (
    RECOVERY_YEARS,
    Convention,
    first_year_fraction,
    macrs_percentages,
    macrs_schedule,
)

PUB946 = Path(__file__).resolve().parents[2] / "service" / "data" / "macrs_pub946.csv"

Column = tuple[str, int, Convention, int | None]


def _printed_columns() -> dict[Column, list[str]]:
    columns: dict[Column, list[str]] = defaultdict(list)
    with PUB946.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            convention: Convention = (
                "half_year" if row["convention"] == "half-year" else "mid_quarter"
            )
            quarter = int(row["quarter"]) if row["quarter"] else None
            key = (row["table"], int(row["recovery_years"]), convention, quarter)
            assert int(row["year"]) == len(columns[key]) + 1
            columns[key].append(row["percent"])
    return dict(columns)


PRINTED = _printed_columns()


def test_every_supported_column_is_printed_and_checked() -> None:
    tables = {table for table, *_ in PRINTED}
    assert tables == {"A-1", "A-2", "A-3", "A-4", "A-5"}
    checked = {(years, convention, quarter) for _, years, convention, quarter in PRINTED}
    supported = {(years, "half_year", None) for years in RECOVERY_YEARS["half_year"]} | {
        (years, "mid_quarter", quarter)
        for years in RECOVERY_YEARS["mid_quarter"]
        for quarter in (1, 2, 3, 4)
    }
    assert checked == supported


@pytest.mark.parametrize(("column", "printed"), PRINTED.items(), ids=lambda v: str(v))
def test_percentages_match_pub946_to_the_printed_cent(column: Column, printed: list[str]) -> None:
    _, years, convention, quarter = column
    computed = macrs_percentages(years, convention, quarter)
    assert [f"{percent:.2f}" for percent in computed] == printed
    assert len(computed) == years + 1


@pytest.mark.parametrize(("column", "printed"), PRINTED.items(), ids=lambda v: str(v))
def test_columns_sum_to_exactly_100(column: Column, printed: list[str]) -> None:
    _, years, convention, quarter = column
    assert sum(Decimal(p) for p in printed) == Decimal("100.00")
    computed = macrs_percentages(years, convention, quarter)
    assert sum(Decimal(f"{percent:.2f}") for percent in computed) == Decimal("100.00")


def test_rounding_each_year_alone_would_not_reproduce_the_table() -> None:
    # Exact 3-year half-year shares: 1/3, 4/9, 4/27, 2/27 -> 33.33, 44.44, 14.81, 7.41 sums to
    # 99.99; the IRS rounds the running total and prints 44.45.
    exact = [Fraction(1, 3), Fraction(4, 9), Fraction(4, 27), Fraction(2, 27)]
    assert sum(exact) == 1
    assert [round(float(share * 100), 2) for share in exact] == [33.33, 44.44, 14.81, 7.41]
    assert macrs_percentages(3) == (33.33, 44.45, 14.81, 7.41)


def test_first_year_fractions_follow_the_conventions() -> None:
    assert first_year_fraction("half_year") == Fraction(1, 2)
    assert [first_year_fraction("mid_quarter", q) for q in (1, 2, 3, 4)] == [
        Fraction(7, 8),
        Fraction(5, 8),
        Fraction(3, 8),
        Fraction(1, 8),
    ]


def test_schedule_applies_the_percentages_to_cost() -> None:
    rows = macrs_schedule(250_000, 5)
    assert [row.period for row in rows] == [1, 2, 3, 4, 5, 6]
    assert [row.percent for row in rows] == [20.0, 32.0, 19.2, 11.52, 11.52, 5.76]
    assert [row.depreciation for row in rows] == pytest.approx(
        [50_000, 80_000, 48_000, 28_800, 28_800, 14_400]
    )
    assert rows[2].accumulated == pytest.approx(178_000)
    assert rows[2].book_value == pytest.approx(72_000)
    assert rows[-1].accumulated == 250_000
    assert rows[-1].book_value == 0


def test_mid_quarter_schedule() -> None:
    rows = macrs_schedule(10_000, 5, "mid_quarter", 4)
    assert [round(row.depreciation, 2) for row in rows] == [500, 3800, 2280, 1368, 1094, 958]
    assert rows[-1].book_value == 0


@given(
    st.floats(min_value=0, max_value=1e10, allow_nan=False),
    st.sampled_from(
        [(3, "half_year", None), (5, "half_year", None), (7, "half_year", None)]
        + [(5, "mid_quarter", q) for q in (1, 2, 3, 4)]
    ),
)
def test_schedule_properties(cost: float, column: tuple[int, Convention, int | None]) -> None:
    rows = macrs_schedule(cost, *column)
    previous = 0.0
    for row in rows:
        assert row.depreciation >= 0
        assert row.accumulated >= previous
        assert row.book_value >= 0
        assert row.depreciation == pytest.approx(cost * row.percent / 100)
        previous = row.accumulated
    assert rows[-1].accumulated == cost
    assert sum(row.depreciation for row in rows) == pytest.approx(cost, rel=1e-12)


INVALID: list[tuple[str, Any, str]] = [
    ("4-year property", lambda: macrs_percentages(4), "recovery_years"),
    ("10-year property not checked", lambda: macrs_percentages(10), "recovery_years"),
    (
        "7-year mid-quarter not checked",
        lambda: macrs_percentages(7, "mid_quarter", 1),
        "recovery_years",
    ),
    ("bool years", lambda: macrs_percentages(True), "recovery_years"),
    (
        "unknown convention",
        lambda: macrs_percentages(5, "mid_month"),  # type: ignore[arg-type]  # deliberately the wrong type
        "convention",
    ),
    ("mid-quarter without quarter", lambda: macrs_percentages(5, "mid_quarter"), "quarter"),
    ("quarter 0", lambda: macrs_percentages(5, "mid_quarter", 0), "quarter"),
    ("quarter 5", lambda: macrs_percentages(5, "mid_quarter", 5), "quarter"),
    ("quarter with half-year", lambda: macrs_percentages(5, "half_year", 2), "quarter"),
    ("negative cost", lambda: macrs_schedule(-1, 5), "cost"),
    ("nan cost", lambda: macrs_schedule(float("nan"), 5), "cost"),
    ("infinite cost", lambda: macrs_schedule(float("inf"), 5), "cost"),
    ("schedule bad years", lambda: macrs_schedule(1000, 6), "recovery_years"),
]


@pytest.mark.parametrize(
    ("call", "parameter"),
    [(call, parameter) for _, call, parameter in INVALID],
    ids=[name for name, _, _ in INVALID],
)
def test_invalid_input_is_refused_naming_the_parameter(call: Any, parameter: str) -> None:
    with pytest.raises(DepreciationInputError, match=rf"\b{parameter}\b"):
        call()
