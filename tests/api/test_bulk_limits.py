"""Bulk parsers are bounded: a hostile file is a refusal naming the limit and the line, never a
parser exception (issue 12: a long CSV line, a deeply nested JSON document answered 500)."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from service.common import bulk
from service.errors import InvalidInput
from service.registry.schemas import GpuModelCreate, ObservationCreate
from service.web.problems import status_of
from tests.support import assert_problem, snapshot

pytestmark = pytest.mark.anyio

OBS_HEADER = "observed_on,model,kind,price,source"
OBS_ROW = "2025-10-01,nvidia-h100-sxm5-80gb,lease,2.5,acme.example"


def refusal(body: bytes, content_type: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        bulk.parse(body, content_type)
    return caught.value


@pytest.mark.parametrize(
    ("body", "line", "says"),
    [
        (b"a" * 200_000 + b"\n", 1, "65,536 characters per line"),
        ((OBS_HEADER + "\n" + OBS_ROW + "," + "x" * 70_000 + "\n").encode(), 2, "per line"),
        (b"x," * 15_000_000, 1, "per line"),  # a 30 MB file on one line
        (("a," * 150 + "\n").encode(), 1, "the limit is 100"),
        ((OBS_HEADER + "\n" + "1," * 101 + "\n").encode(), 2, "the limit is 100"),
        ((OBS_HEADER + '\n"' + "x" * 20_000 + '",m,lease,1,s\n').encode(), 2, "per field"),
        ((OBS_HEADER + '\n"' + ("x" * 1000 + "\n") * 200 + '"\n').encode(), 132, "field limit"),
        (b"", 1, "empty"),
        (b"\xff\xfe" + OBS_HEADER.encode("utf-16-le"), 1, "not UTF-8"),
        ((OBS_HEADER + "\n" + OBS_ROW + "\n").encode() + b"caf\xe9\n", 3, "not UTF-8"),
    ],
    ids=[
        "long-header",
        "long-row",
        "30MB-line",
        "wide-header",
        "wide-row",
        "long-field",
        "long-quoted-field",
        "empty",
        "utf-16",
        "latin-1",
    ],
)
def test_a_csv_over_a_limit_is_refused_naming_the_limit_and_line(
    body: bytes, line: int, says: str
) -> None:
    exc = refusal(body, "text/csv")
    assert status_of(exc) == 422
    assert [e.line for e in exc.errors] == [line]
    assert says in exc.detail + exc.errors[0].reason


@pytest.mark.parametrize(
    ("body", "line", "says"),
    [
        (b"[" * 5000 + b"]" * 5000, 1, "nested more than 8 levels"),
        (b'[\n{"a": 1},\n{"a": ' + b"[" * 20 + b"]" * 20 + b"}]", 3, "nested more than 8"),
        (b'[\n{"a": 1},\n{"a": }]', 3, "line 3, column 7"),
        (b'{"items": 1}', 1, "JSON array"),
        ('[{"a": 1}]'.encode("utf-16"), 1, "not UTF-8"),
        ('[{"a": 1}]'.encode("utf-32"), 1, "not UTF-8"),
        (b"[]", 1, "no rows"),
    ],
    ids=["5000-deep", "deep-item", "syntax", "not-a-list", "utf-16", "utf-32", "empty"],
)
def test_a_json_import_over_a_limit_is_refused_naming_the_line(
    body: bytes, line: int, says: str
) -> None:
    exc = refusal(body, "application/json")
    assert status_of(exc) == 422
    assert [e.line for e in exc.errors] == [line]
    assert says in exc.detail + exc.errors[0].reason


def test_rows_within_the_limits_still_parse() -> None:
    wide = ",".join(f"c{i}" for i in range(100))
    rows = bulk.parse(f"{wide}\n{'x,' * 99}x\n".encode(), "text/csv")
    assert len(rows[0].data) == 100
    nested = json.dumps({"items": [{"a": [[[[[1]]]]]}]}).encode()  # 8 levels: the limit
    assert bulk.parse(nested, "application/json")[0].data == {"a": [[[[[1]]]]]}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"[" * 5000 + b"]" * 5000, "application/json"),
        (b"a" * 200_000 + b"\n", "text/csv"),
        (b'{"items": [' + b"{" * 3000 + b"}" * 3000 + b"]}", "application/json"),
    ],
    ids=["json-5000-deep", "csv-200k-header", "json-3000-deep-objects"],
)
@pytest.mark.parametrize("path", ["/models/import", "/observations/import", "/assets/import"])
async def test_hostile_imports_are_refused_over_http_and_write_nothing(
    client: httpx.AsyncClient, engine: Engine, path: str, body: bytes, content_type: str
) -> None:
    before = snapshot(engine)
    response = await client.post(path, content=body, headers={"content-type": content_type})
    assert assert_problem(response, 422, "body")["errors"][0]["line"] == 1
    assert snapshot(engine) == before


# --- properties: arbitrary bytes give rows or the import error, nothing else ---------------------

CSV_ALPHABET = st.sampled_from(
    [b"a", b",", b'"', b"\n", b"\r", b"\x00", b"\xff", b"\xc3\xa9", b" ", b"1", b"-"]
)
JSON_ALPHABET = st.sampled_from(
    [b"[", b"]", b"{", b"}", b'"', b":", b",", b"1", b"a", b"\\", b"\x00", b"\xff", b"\n"]
)
LIMITED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parses_or_refuses(body: bytes, content_type: str) -> None:
    try:
        rows = bulk.parse(body, content_type)
    except InvalidInput as exc:
        assert exc.errors and all(e.line is not None for e in exc.errors)
        return
    assert rows and all(isinstance(r, bulk.RawRow) and r.line >= 1 for r in rows)
    for schema in (GpuModelCreate, ObservationCreate):
        good, errors = bulk.validate_rows(rows, schema)
        assert len(good) + len({e.line for e in errors}) >= len(rows)


@LIMITED
@given(st.binary(max_size=2000))
def test_any_bytes_as_csv_give_rows_or_the_import_error(body: bytes) -> None:
    parses_or_refuses(body, "text/csv")


@LIMITED
@given(st.lists(CSV_ALPHABET, max_size=400).map(b"".join))
def test_csv_like_bytes_give_rows_or_the_import_error(body: bytes) -> None:
    parses_or_refuses(body, "text/csv")


@LIMITED
@given(st.binary(max_size=2000))
def test_any_bytes_as_json_give_rows_or_the_import_error(body: bytes) -> None:
    parses_or_refuses(body, "application/json")


@LIMITED
@given(st.lists(JSON_ALPHABET, max_size=400).map(b"".join))
def test_json_like_bytes_give_rows_or_the_import_error(body: bytes) -> None:
    parses_or_refuses(body, "application/json")


@LIMITED
@given(
    st.recursive(
        st.none() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=30,
    )
)
def test_any_json_document_gives_rows_or_the_import_error(document: object) -> None:
    parses_or_refuses(json.dumps(document).encode(), "application/json")
