"""Spreadsheet depreciation functions: Microsoft's examples, a real spreadsheet's answers,
properties, and refusals."""

from __future__ import annotations

import ast
import csv
import math
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.engine import depreciation, depreciation_tables, macrs, schedule
from service.engine.depreciation import DepreciationInputError, db, ddb, sln, syd, vdb
from service.engine.depreciation_tables import (
    DepreciationRow,
    db_schedule,
    ddb_schedule,
    sln_schedule,
    syd_schedule,
    vdb_schedule,
)
from service.engine.errors import EngineInputError

REFERENCE = Path(__file__).parent / "data" / "spreadsheet_reference.csv"

# --- (a) the worked examples in Microsoft's documentation -------------------------------------

MICROSOFT_EXAMPLES = [
    # "SLN function": cost 30,000, salvage 7,500, life 10 years.
    ("SLN", sln(30000, 7500, 10), 2250.00),
    # "SYD function": same asset, first and tenth year.
    ("SYD first year", syd(30000, 7500, 10, 1), 4090.91),
    ("SYD tenth year", syd(30000, 7500, 10, 10), 409.09),
    # "DDB function": cost 2,400, salvage 300, life 10 years.
    ("DDB first day", ddb(2400, 300, 10 * 365, 1), 1.32),
    ("DDB first month", ddb(2400, 300, 10 * 12, 1, 2), 40.00),
    ("DDB first year", ddb(2400, 300, 10, 1, 2), 480.00),
    ("DDB second year, factor 1.5", ddb(2400, 300, 10, 2, 1.5), 306.00),
    ("DDB tenth year", ddb(2400, 300, 10, 10), 22.12),
    # "DB function": cost 1,000,000, salvage 100,000, life 6 years, 7 months in the first year.
    ("DB year 1", db(1000000, 100000, 6, 1, 7), 186083.33),
    ("DB year 2", db(1000000, 100000, 6, 2, 7), 259639.42),
    ("DB year 3", db(1000000, 100000, 6, 3, 7), 176814.44),
    ("DB year 4", db(1000000, 100000, 6, 4, 7), 120410.64),
    ("DB year 5", db(1000000, 100000, 6, 5, 7), 81999.64),
    ("DB year 6", db(1000000, 100000, 6, 6, 7), 55841.76),
    ("DB year 7 (5 months)", db(1000000, 100000, 6, 7, 7), 15845.10),
    # "VDB function": cost 2,400, salvage 300, life 10 years.
    ("VDB first day", vdb(2400, 300, 10 * 365, 0, 1), 1.32),
    ("VDB first month", vdb(2400, 300, 10 * 12, 0, 1), 40.00),
    ("VDB first year", vdb(2400, 300, 10, 0, 1), 480.00),
    ("VDB months 6 to 18", vdb(2400, 300, 10 * 12, 6, 18), 396.31),
    ("VDB months 6 to 18, factor 1.5", vdb(2400, 300, 10 * 12, 6, 18, 1.5), 311.81),
    ("VDB first 0.875 year, factor 1.5", vdb(2400, 300, 10, 0, 0.875, 1.5), 315.00),
]


@pytest.mark.parametrize(
    ("computed", "printed"),
    [(computed, printed) for _, computed, printed in MICROSOFT_EXAMPLES],
    ids=[name for name, _, _ in MICROSOFT_EXAMPLES],
)
def test_microsoft_documentation_examples(computed: float, printed: float) -> None:
    assert round(computed, 2) == printed
    assert computed == pytest.approx(printed, abs=0.005)


# --- (b) the reference table computed by Gnumeric and LibreOffice -----------------------------


def _reference_rows() -> list[dict[str, str]]:
    with REFERENCE.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _evaluate(row: dict[str, str]) -> float:
    cost, salvage, life = float(row["cost"]), float(row["salvage"]), float(row["life"])
    optional: list[Any] = []
    if row["factor"]:
        optional.append(float(row["factor"]))
    if row["month"]:
        optional.append(int(row["month"]))
    if row["no_switch"]:
        optional.append(row["no_switch"] == "true")
    function = row["function"]
    if function == "SLN":
        return sln(cost, salvage, life)
    period = float(row["period"])
    if function == "SYD":
        return syd(cost, salvage, life, period)
    if function == "DDB":
        return ddb(cost, salvage, life, period, *optional)
    if function == "DB":
        return db(cost, salvage, life, period, *optional)
    assert function == "VDB"
    return vdb(cost, salvage, life, period, float(row["end_period"]), *optional)


def _gnumeric_ddb_bug(row: dict[str, str]) -> bool:
    """Gnumeric does not cap the DDB rate at 100%: with factor > life it returns a negative
    amount after period 1. Excel (``MIN(book * factor / life, book - salvage)``) and LibreOffice
    give 0 there."""
    factor = float(row["factor"] or 2)
    return row["function"] == "DDB" and factor > float(row["life"]) and float(row["period"]) > 1


def test_reference_table_covers_every_function_and_both_engines() -> None:
    rows = _reference_rows()
    assert len(rows) >= 500
    assert {row["function"] for row in rows} == {"SLN", "SYD", "DDB", "DB", "VDB"}
    assert all(row["gnumeric"] and row["libreoffice"] for row in rows)
    fractional_vdb = [
        row
        for row in rows
        if row["function"] == "VDB"
        and not (float(row["period"]).is_integer() and float(row["end_period"]).is_integer())
    ]
    assert len(fractional_vdb) >= 100
    assert any(row["no_switch"] == "true" for row in fractional_vdb)


@pytest.mark.parametrize("row", _reference_rows(), ids=lambda row: row["formula"])
def test_matches_spreadsheet_engines(row: dict[str, str]) -> None:
    computed = _evaluate(row)
    assert computed == pytest.approx(float(row["libreoffice"]), rel=1e-12, abs=1e-6)
    if _gnumeric_ddb_bug(row):
        assert float(row["gnumeric"]) < 0 <= computed
    else:
        assert computed == pytest.approx(float(row["gnumeric"]), rel=1e-12, abs=1e-6)


def test_db_rounds_a_tied_rate_half_up_like_the_spreadsheets() -> None:
    # 1 - 15/16 = 0.0625 exactly; ROUND(0.0625, 3) = 0.063 where Python's round() gives 0.062.
    assert db(16, 15, 1, 1) == pytest.approx(16 * 0.063)


def test_db_can_end_below_salvage_because_the_rate_is_rounded() -> None:
    # rate = 1 - 0.1 ** (1/6) = 0.31871 -> 0.319; 1000 * 0.681 ** 6 = 99.75 < 100.
    rows = db_schedule(1000, 100, 6)
    assert rows[-1].book_value == pytest.approx(1000 * 0.681**6)
    assert rows[-1].book_value < 100


# --- schedules --------------------------------------------------------------------------------


def test_schedules_list_the_function_values_period_by_period() -> None:
    assert [row.depreciation for row in sln_schedule(30000, 7500, 10)] == [2250.0] * 10
    assert [row.depreciation for row in syd_schedule(30000, 7500, 10)] == [
        syd(30000, 7500, 10, k) for k in range(1, 11)
    ]
    assert [row.depreciation for row in ddb_schedule(2400, 300, 10, 1.5)] == [
        ddb(2400, 300, 10, k, 1.5) for k in range(1, 11)
    ]
    rows = db_schedule(1000000, 100000, 6, 7)
    assert [row.period for row in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert [round(row.depreciation, 2) for row in rows] == [
        printed for name, _, printed in MICROSOFT_EXAMPLES if name.startswith("DB")
    ]
    assert len(db_schedule(1000000, 100000, 6)) == 6


def test_schedule_rows_carry_accumulated_and_book_value() -> None:
    rows = sln_schedule(1000, 100, 3)
    assert rows[0] == DepreciationRow(
        period=1, depreciation=300.0, accumulated=300.0, book_value=700.0
    )
    assert rows[-1] == DepreciationRow(
        period=3, depreciation=300.0, accumulated=900.0, book_value=100.0
    )
    with pytest.raises(FrozenInstanceError):
        rows[0].depreciation = 0.0  # type: ignore[misc]


def test_vdb_schedule_switches_to_straight_line_and_reaches_salvage() -> None:
    # Textbook 200% DB on 10,000 over 5 years: 4000, 2400, 1440, then straight line on the
    # 2160 left over 2 years (1080 > DDB's 864).
    assert [row.depreciation for row in vdb_schedule(10000, 0, 5)] == pytest.approx(
        [4000, 2400, 1440, 1080, 1080]
    )
    assert [row.depreciation for row in ddb_schedule(10000, 0, 5)] == pytest.approx(
        [4000, 2400, 1440, 864, 518.4]
    )
    # With salvage, DDB clipped at salvage can stay ahead of straight line to the end.
    clipped = vdb_schedule(2400, 300, 10)
    assert [row.depreciation for row in clipped] == pytest.approx(
        [ddb(2400, 300, 10, k) for k in range(1, 11)]
    )
    assert clipped[-1].book_value == pytest.approx(300)


# --- (d) properties ---------------------------------------------------------------------------

costs = st.floats(min_value=0, max_value=1e9, allow_nan=False)
salvage_shares = st.floats(min_value=0, max_value=1)
lives = st.integers(min_value=1, max_value=120)
factors = st.floats(min_value=0.1, max_value=5)


def _assert_well_formed(rows: list[DepreciationRow], cost: float, floor: float) -> None:
    tolerance = 1e-9 * max(cost, 1)
    previous = 0.0
    for row in rows:
        # DB at a 100% rate leaves cost - total = -6e-9 as the spreadsheets do: float noise.
        assert row.depreciation >= -tolerance
        assert row.accumulated >= previous - tolerance
        assert row.book_value >= floor - tolerance
        assert row.book_value == pytest.approx(cost - row.accumulated, abs=tolerance)
        previous = row.accumulated


@given(costs, salvage_shares, lives)
def test_sln_and_syd_schedules_sum_to_the_depreciable_amount(
    cost: float, share: float, life: int
) -> None:
    salvage = cost * share
    for rows in (sln_schedule(cost, salvage, life), syd_schedule(cost, salvage, life)):
        _assert_well_formed(rows, cost, salvage)
        assert rows[-1].accumulated == pytest.approx(cost - salvage, rel=1e-9, abs=1e-6)


@given(costs, salvage_shares, lives, factors)
def test_ddb_never_goes_below_salvage(cost: float, share: float, life: int, factor: float) -> None:
    salvage = cost * share
    rows = ddb_schedule(cost, salvage, life, factor)
    _assert_well_formed(rows, cost, salvage)
    assert rows[-1].accumulated <= cost - salvage + 1e-9 * max(cost, 1)


@given(costs, salvage_shares, lives, factors)
def test_vdb_schedule_reaches_salvage_and_agrees_with_vdb(
    cost: float, share: float, life: int, factor: float
) -> None:
    salvage = cost * share
    rows = vdb_schedule(cost, salvage, life, factor)
    _assert_well_formed(rows, cost, salvage)
    assert rows[-1].book_value == pytest.approx(salvage, rel=1e-9, abs=1e-6)
    tolerance = 1e-9 * max(cost, 1)
    for row in rows[:: max(1, life // 10)]:
        expected = vdb(cost, salvage, life, row.period - 1, row.period, factor)
        assert row.depreciation == pytest.approx(expected, abs=tolerance)
    no_switch = vdb_schedule(cost, salvage, life, factor, no_switch=True)
    _assert_well_formed(no_switch, cost, salvage)
    assert [row.depreciation for row in no_switch] == [
        ddb(cost, salvage, life, k, factor) for k in range(1, life + 1)
    ]


@given(
    costs,
    salvage_shares,
    st.sampled_from([1, 2.5, 3, 5, 8.5, 10, 36]),
    st.lists(st.floats(min_value=0, max_value=1), min_size=3, max_size=3),
    factors,
    st.booleans(),
)
def test_vdb_is_additive_over_fractional_periods(
    cost: float,
    share: float,
    life: float,
    points: list[float],
    factor: float,
    no_switch: bool,
) -> None:
    start, middle, end = sorted(point * life for point in points)
    salvage = cost * share
    whole = vdb(cost, salvage, life, start, end, factor, no_switch)
    parts = vdb(cost, salvage, life, start, middle, factor, no_switch) + vdb(
        cost, salvage, life, middle, end, factor, no_switch
    )
    tolerance = 1e-9 * max(cost, 1)  # the fractional parts are subtracted: float noise
    assert whole == pytest.approx(parts, abs=tolerance)
    assert -tolerance <= whole <= cost - salvage + tolerance


@given(
    st.floats(min_value=0.01, max_value=1e9),
    salvage_shares,
    st.integers(min_value=1, max_value=40),
    st.integers(min_value=1, max_value=12),
)
def test_db_schedule_lists_db_and_stays_positive(
    cost: float, share: float, life: int, month: int
) -> None:
    salvage = cost * share
    rows = db_schedule(cost, salvage, life, month)
    assert len(rows) == (life + 1 if month < 12 else life)
    _assert_well_formed(rows, cost, 0.0)
    for row in rows:
        assert row.depreciation == db(cost, salvage, life, row.period, month)


# --- (f) invalid input ------------------------------------------------------------------------

INVALID: list[tuple[str, Any, str]] = [
    ("sln negative cost", lambda: sln(-1, 0, 5), "cost"),
    ("sln negative salvage", lambda: sln(100, -1, 5), "salvage"),
    ("sln salvage above cost", lambda: sln(100, 101, 5), "salvage"),
    ("sln zero life", lambda: sln(100, 10, 0), "life"),
    ("sln negative life", lambda: sln(100, 10, -3), "life"),
    ("sln life too long", lambda: sln(100, 10, depreciation.MAX_LIFE + 1), "life"),
    ("sln nan cost", lambda: sln(math.nan, 10, 5), "cost"),
    ("sln infinite life", lambda: sln(100, 10, math.inf), "life"),
    ("sln text", lambda: sln("100", 10, 5), "cost"),  # type: ignore[arg-type]  # deliberately the wrong type
    ("sln bool", lambda: sln(True, 0, 5), "cost"),
    ("syd period 0", lambda: syd(100, 10, 5, 0), "per"),
    ("syd period after life", lambda: syd(100, 10, 5, 6), "per"),
    ("syd nan period", lambda: syd(100, 10, 5, math.nan), "per"),
    ("ddb period 0", lambda: ddb(100, 10, 5, 0), "period"),
    ("ddb period after life", lambda: ddb(100, 10, 5, 5.5), "period"),
    ("ddb zero factor", lambda: ddb(100, 10, 5, 1, 0), "factor"),
    ("ddb negative factor", lambda: ddb(100, 10, 5, 1, -2), "factor"),
    ("ddb salvage above cost", lambda: ddb(100, 120, 5, 1), "salvage"),
    ("db zero cost", lambda: db(0, 0, 5, 1), "cost"),
    ("db month 0", lambda: db(1000, 100, 5, 1, 0), "month"),
    ("db month 13", lambda: db(1000, 100, 5, 1, 13), "month"),
    ("db fractional month", lambda: db(1000, 100, 5, 1, 6.5), "month"),
    ("db fractional period", lambda: db(1000, 100, 5, 1.5), "period"),
    ("db fractional life", lambda: db(1000, 100, 5.5, 1), "life"),
    ("db period 0", lambda: db(1000, 100, 5, 0), "period"),
    ("db period life+1 with month 12", lambda: db(1000, 100, 5, 6), "period"),
    ("db period after life+1", lambda: db(1000, 100, 5, 7, 6), "period"),
    ("vdb negative start", lambda: vdb(100, 10, 5, -1, 2), "start_period"),
    ("vdb start after end", lambda: vdb(100, 10, 5, 3, 2), "start_period"),
    ("vdb end after life", lambda: vdb(100, 10, 5, 0, 5.5), "end_period"),
    ("vdb nan end", lambda: vdb(100, 10, 5, 0, math.nan), "end_period"),
    ("vdb zero factor", lambda: vdb(100, 10, 5, 0, 1, 0), "factor"),
    ("vdb no_switch not bool", lambda: vdb(100, 10, 5, 0, 1, 2, 1), "no_switch"),  # type: ignore[arg-type]  # deliberately the wrong type
    ("vdb salvage above cost", lambda: vdb(100, 120, 5, 0, 1), "salvage"),
    ("schedule fractional life", lambda: sln_schedule(100, 10, 2.5), "life"),
    ("schedule too long", lambda: syd_schedule(100, 10, 1201), "life"),
    ("ddb schedule zero factor", lambda: ddb_schedule(100, 10, 5, 0), "factor"),
    ("db schedule month 13", lambda: db_schedule(100, 10, 5, 13), "month"),
    ("vdb schedule zero factor", lambda: vdb_schedule(100, 10, 5, 0), "factor"),
    ("vdb schedule negative cost", lambda: vdb_schedule(-100, 10, 5), "cost"),
]


@pytest.mark.parametrize(
    ("call", "parameter"),
    [(call, parameter) for _, call, parameter in INVALID],
    ids=[name for name, _, _ in INVALID],
)
def test_invalid_input_is_refused_naming_the_parameter(call: Any, parameter: str) -> None:
    with pytest.raises(DepreciationInputError, match=rf"\b{parameter}\b") as refused:
        call()
    assert refused.value.field == parameter
    assert refused.value.reason == str(refused.value)


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        (lambda: sln(-1, 0, 5), "invalid"),
        (lambda: sln(100, 120, 5), "conflict"),
        (lambda: vdb(100, 10, 5, 3, 2), "conflict"),
        (lambda: vdb(100, 10, 5, 0, 5.5), "conflict"),
        (lambda: db(1000, 100, 5, 1, 13), "invalid"),
    ],
)
def test_input_errors_say_whether_the_value_is_wrong_alone_or_beside_another(
    call: Any, kind: str
) -> None:
    with pytest.raises(DepreciationInputError) as refused:
        call()
    assert refused.value.kind == kind


def test_input_error_is_an_engine_input_error() -> None:
    assert issubclass(DepreciationInputError, EngineInputError)
    assert issubclass(DepreciationInputError, ValueError)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: macrs.macrs_schedule(-1.0, 5, "half_year"), "cost"),
        (lambda: macrs.macrs_schedule(100.0, 5, "half_year", 2), "quarter"),
        (lambda: macrs.macrs_schedule(100.0, 5, "mid_quarter", 5), "quarter"),
        (lambda: macrs.macrs_schedule(100.0, 5, "monthly"), "convention"),  # type: ignore[arg-type]
        (lambda: macrs.macrs_schedule(100.0, 4, "half_year"), "recovery_years"),
    ],
)
def test_macrs_refusals_name_their_field(call: Any, field: str) -> None:
    with pytest.raises(DepreciationInputError) as refused:
        call()
    assert refused.value.field == field
    assert refused.value.reason.startswith(field)


# --- purity -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module", [depreciation, depreciation_tables, macrs, schedule], ids=lambda m: m.__name__
)
def test_engine_modules_are_pure(module: Any) -> None:
    """Stdlib and sibling engine modules only; no clock, no files."""
    source = Path(module.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    for name in imported:
        top = name.split(".")[0]
        assert top in sys.stdlib_module_names or name.startswith("service.engine."), name
    for forbidden in ("open(", "today(", ".now(", "read_text", "Path("):
        assert forbidden not in source, forbidden
    assert set(module.__all__) <= set(dir(module))
