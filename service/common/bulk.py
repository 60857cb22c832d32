"""Parsing and validating bulk imports (CSV or JSON) row by row, collecting every bad row.

Used by the HTTP import endpoints and by ``gpuval import``/``gpuval seed`` alike, so one file
is judged the same way whichever door it comes in by.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from service.errors import FieldError, InvalidInput

MAX_ROWS = 100_000
MAX_REPORTED_ERRORS = 1000
# Parser limits: far above any real file (the longest text field is 2,000 characters), far
# below what would let one line or one document exhaust memory or the parser's stack.
MAX_LINE_CHARS = 65_536
MAX_FIELD_CHARS = 10_000
MAX_COLUMNS = 100
MAX_JSON_DEPTH = 8

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class RawRow:
    line: int
    data: dict[str, Any]


def parse(body: bytes, content_type: str) -> list[RawRow]:
    """Split a CSV (header on line 1) or a JSON list (or ``{"items": [...]}``) into rows.

    Returns rows or raises InvalidInput naming the line; never a parser's own exception.
    """
    media = content_type.split(";")[0].strip().lower()
    if media in ("text/csv", "application/csv"):
        rows = list(parse_csv(_decode(body)))
        require_rows(rows)
        return rows
    if media == "application/json" or media.endswith("+json"):
        rows = parse_json(body)
        require_rows(rows)
        return rows
    raise InvalidInput(
        f"Unsupported content type {media or '(none)'!r}; send text/csv or application/json.",
        errors=[
            FieldError(field="header.content-type", reason="expected text/csv or application/json")
        ],
    )


def _decode(body: bytes) -> str:
    """UTF-8 only: ``json.loads`` on bytes would also guess UTF-16 and UTF-32."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        raise InvalidInput(
            "The file is not UTF-8 text.",
            errors=[
                FieldError(field="body", reason=f"invalid UTF-8 at byte {exc.start}", line=line)
            ],
        ) from exc


def _refuse(detail: str, reason: str, line: int, field: str = "body") -> InvalidInput:
    return InvalidInput(detail, errors=[FieldError(field=field, reason=reason, line=line)])


def _bounded_lines(text: str) -> Iterator[str]:
    """The physical lines of ``text`` (endings kept, as csv wants), refusing an overlong one
    before the csv module buffers it."""
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise _refuse(
                f"Line {number} is {len(line):,} characters long; the limit is "
                f"{MAX_LINE_CHARS:,} characters per line.",
                f"line longer than {MAX_LINE_CHARS:,} characters",
                number,
            )
        yield line


def _check_record(record: list[str], line: int) -> None:
    if len(record) > MAX_COLUMNS:
        raise _refuse(
            f"Line {line} has {len(record)} columns; the limit is {MAX_COLUMNS}.",
            f"more than {MAX_COLUMNS} columns",
            line,
        )
    for column, cell in enumerate(record, start=1):
        if len(cell) > MAX_FIELD_CHARS:
            raise _refuse(
                f"Column {column} of line {line} is {len(cell):,} characters long; the limit is "
                f"{MAX_FIELD_CHARS:,} characters per field.",
                f"field {column} longer than {MAX_FIELD_CHARS:,} characters",
                line,
            )


def parse_csv(text: str) -> Iterator[RawRow]:
    reader = csv.reader(_bounded_lines(text))
    try:
        header = next(reader, None)
        if not header:
            raise _refuse("The CSV file is empty.", "no header", 1)
        _check_record(header, reader.line_num)
        names = [name.strip() for name in header]
        count = 0
        for record in reader:
            if not record:  # a blank line, as csv.DictReader skips them
                continue
            count += 1
            if count > MAX_ROWS:
                raise _too_many(reader.line_num)
            _check_record(record, reader.line_num)
            if len(record) > len(names):
                yield RawRow(reader.line_num, {"__extra__": record[len(names) :]})
                continue
            yield RawRow(
                reader.line_num,
                {k: v.strip() for k, v in zip(names, record, strict=False) if k and v.strip()},
            )
    except csv.Error as exc:
        raise _refuse("The CSV file cannot be parsed.", str(exc), reader.line_num) from exc


def parse_json(body: bytes) -> list[RawRow]:
    text = _decode(body)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _refuse(
            "The request body is not valid JSON.",
            f"{exc.msg} (line {exc.lineno}, column {exc.colno})",
            exc.lineno,
        ) from exc
    except RecursionError as exc:  # nested far beyond the limit: say where it crossed it
        raise _too_deep(text) from exc
    if _depth(payload) > MAX_JSON_DEPTH:
        raise _too_deep(text)
    if isinstance(payload, dict) and isinstance(payload.get("items"), list):
        payload = payload["items"]
    if not isinstance(payload, list):
        raise _refuse(
            "Expected a JSON array of objects, or an object with an `items` array.",
            "not a list",
            1,
        )
    if len(payload) > MAX_ROWS:
        raise _too_many(MAX_ROWS + 1)
    return [
        RawRow(i, item if isinstance(item, dict) else {"__not_object__": item})
        for i, item in enumerate(payload, start=1)
    ]


def _depth(value: object) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}\n]')


def _too_deep(text: str) -> InvalidInput:
    """The refusal of a document nested beyond MAX_JSON_DEPTH, naming the line where it is."""
    depth, line = 0, 1
    for token in _JSON_TOKEN.finditer(text):
        kind = token.group()
        if kind in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                break
        elif kind in "]}":
            depth -= 1
        else:
            line += kind.count("\n")
    return _refuse(
        f"The JSON document is nested more than {MAX_JSON_DEPTH} levels deep (line {line}); "
        "an import is a list of flat objects.",
        f"nested deeper than {MAX_JSON_DEPTH} levels",
        line,
    )


def _too_many(line: int) -> InvalidInput:
    return _refuse(
        f"At most {MAX_ROWS} rows per import; split the file.", f"more than {MAX_ROWS} rows", line
    )


def require_rows(rows: Sequence[RawRow]) -> None:
    """An import with nothing in it is a mistake (a wrong file, a header only), not a success."""
    if not rows:
        raise InvalidInput(
            "The import has no rows; nothing was written.",
            errors=[FieldError(field="body", reason="no data rows", line=1)],
        )


def validate_rows(
    rows: Iterable[RawRow],
    schema: type[M],
    *,
    rename: dict[str, str] | None = None,
    on_row: Callable[[], None] | None = None,
    check_invalid: Callable[[Sequence[tuple[int, dict[str, Any]]]], Iterable[FieldError]]
    | None = None,
) -> tuple[list[tuple[int, M]], list[FieldError]]:
    """Validate every row against ``schema``; return the good ones and every error found.

    ``check_invalid`` judges what a row's schema cannot (a model that is not registered, a
    currency without rates) on the rows the schema refused, given the fields it did not refuse:
    so one pass over the file names every problem of a row, not the first kind found.
    """
    good: list[tuple[int, M]] = []
    errors: list[FieldError] = []
    invalid: list[tuple[int, dict[str, Any]]] = []
    for row in rows:
        if on_row:
            on_row()
        if "__extra__" in row.data:
            errors.append(
                FieldError(field="row", reason="more values than header columns", line=row.line)
            )
            continue
        if "__not_object__" in row.data:
            errors.append(
                FieldError(field="row", reason="each item must be a JSON object", line=row.line)
            )
            continue
        data = {(rename or {}).get(k, k): v for k, v in row.data.items()}
        try:
            good.append((row.line, schema.model_validate(data)))
        except ValidationError as exc:
            found = list(_row_errors(exc, row.line))
            errors.extend(found)
            refused = {e.field.split(".", 1)[0] for e in found}
            invalid.append((row.line, {k: v for k, v in data.items() if k not in refused}))
    if check_invalid and invalid:
        errors.extend(check_invalid(invalid))
    return good, errors


def _row_errors(exc: ValidationError, line: int) -> Iterator[FieldError]:
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "row"
        yield FieldError(field=loc, reason=str(err.get("msg", "invalid")), line=line)


def first_lines(
    good: Sequence[tuple[int, M]], key: Callable[[M], str], field: str
) -> tuple[dict[str, int], list[FieldError]]:
    """The first line of each natural key, and an error for every later line that repeats it."""
    first: dict[str, int] = {}
    errors: list[FieldError] = []
    for line, item in good:
        value = key(item)
        if value in first:
            errors.append(
                FieldError(field=field, reason=f"duplicate of line {first[value]}", line=line)
            )
        first.setdefault(value, line)
    return first, errors


def refuse_if_any(errors: Sequence[FieldError], what: str) -> None:
    """All-or-nothing: one bad row and nothing is written; every bad row is named."""
    if not errors:
        return
    shown = sorted(errors, key=lambda e: (e.line or 0, e.field))[:MAX_REPORTED_ERRORS]
    more = len(errors) - len(shown)
    rows = len({e.line for e in errors})
    detail = f"{len(errors)} problem(s) in {rows} row(s) of the {what}; nothing was written."
    if more:
        detail += f" The first {len(shown)} are listed."
    raise InvalidInput(detail, errors=shown)
