"""Parsing and validating bulk imports (CSV or JSON) row by row, collecting every bad row.

Used by the HTTP import endpoints and by ``gpuval import``/``gpuval seed`` alike, so one file
is judged the same way whichever door it comes in by.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from service.errors import FieldError, InvalidInput

MAX_ROWS = 100_000
MAX_REPORTED_ERRORS = 1000

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class RawRow:
    line: int
    data: dict[str, Any]


def parse(body: bytes, content_type: str) -> list[RawRow]:
    """Split a CSV (header on line 1) or a JSON list (or ``{"items": [...]}``) into rows."""
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
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "The file is not UTF-8 text.",
            errors=[FieldError(field="body", reason=f"invalid UTF-8 at byte {exc.start}")],
        ) from exc


def parse_csv(text: str) -> Iterator[RawRow]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise InvalidInput(
            "The CSV file is empty.", errors=[FieldError(field="body", reason="no header")]
        )
    try:
        for count, record in enumerate(reader, start=1):
            if count > MAX_ROWS:
                raise _too_many()
            if None in record:
                yield RawRow(reader.line_num, {"__extra__": record[None]})
                continue
            yield RawRow(
                reader.line_num,
                {
                    k.strip(): v.strip()
                    for k, v in record.items()
                    if k and v is not None and v.strip() != ""
                },
            )
    except csv.Error as exc:
        raise InvalidInput(
            "The CSV file cannot be parsed.",
            errors=[FieldError(field="body", reason=str(exc), line=reader.line_num)],
        ) from exc


def parse_json(body: bytes) -> list[RawRow]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "The request body is not valid JSON.",
            errors=[FieldError(field="body", reason=str(exc))],
        ) from exc
    if isinstance(payload, dict) and isinstance(payload.get("items"), list):
        payload = payload["items"]
    if not isinstance(payload, list):
        raise InvalidInput(
            "Expected a JSON array of objects, or an object with an `items` array.",
            errors=[FieldError(field="body", reason="not a list")],
        )
    if len(payload) > MAX_ROWS:
        raise _too_many()
    return [
        RawRow(i, item if isinstance(item, dict) else {"__not_object__": item})
        for i, item in enumerate(payload, start=1)
    ]


def _too_many() -> InvalidInput:
    return InvalidInput(
        f"At most {MAX_ROWS} rows per import; split the file.",
        errors=[FieldError(field="body", reason=f"more than {MAX_ROWS} rows")],
    )


def require_rows(rows: Sequence[RawRow]) -> None:
    """An import with nothing in it is a mistake (a wrong file, a header only), not a success."""
    if not rows:
        raise InvalidInput(
            "The import has no rows; nothing was written.",
            errors=[FieldError(field="body", reason="no data rows")],
        )


def validate_rows(
    rows: Iterable[RawRow],
    schema: type[M],
    *,
    rename: dict[str, str] | None = None,
    on_row: Callable[[], None] | None = None,
) -> tuple[list[tuple[int, M]], list[FieldError]]:
    """Validate every row against ``schema``; return the good ones and every error found."""
    good: list[tuple[int, M]] = []
    errors: list[FieldError] = []
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
            errors.extend(_row_errors(exc, row.line))
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
