"""Text that both databases store alike: no NUL, no control characters, no lone surrogates.

PostgreSQL refuses NUL in text and psycopg cannot encode a lone surrogate, while SQLite stores
both; data accepted on one backend must move to the other, so text is judged here, at the edge,
once for JSON bodies, CSV cells and query parameters alike. No FastAPI in this module: the
registry and finance schemas import it, and so does the ASGI input guard.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

# C0 and C1 controls, DEL, and the surrogate range (never valid on its own in UTF-8 text).
_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Multi-line text (notes, reasons) may also hold tab, line feed and carriage return.
_MULTI_LINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

# What the OpenAPI advertises, as regex source (the escapes, not the characters, so the schema
# itself stays printable). Surrogates are left out: ECMAScript clients match UTF-16 code units,
# and a surrogate pair is valid there.
ONE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
MULTI_LINE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    found = (_MULTI_LINE if multiline else _ONE_LINE).search(value)
    if found is None:
        return None
    char, at = found.group(), found.start()
    code = f"U+{ord(char):04X}"
    if char == "\x00":
        what = "a NUL character (U+0000)"
    elif 0xD800 <= ord(char) <= 0xDFFF:
        what = f"a lone surrogate ({code})"
    else:
        name = unicodedata.name(char, "")
        what = f"the control character {code}" + (f" ({name})" if name else "")
    allowed = " (tab and line breaks are allowed)" if multiline else ""
    return f"contains {what} at position {at}; control characters are not allowed{allowed}"


@dataclass(frozen=True, slots=True)
class TextCheck:
    """``Annotated`` metadata: refuse what :func:`text_problem` names, before any other check
    (so stripping cannot hide a control character), and advertise the pattern in the schema."""

    multiline: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        multiline = self.multiline

        def check(value: object) -> object:
            if isinstance(value, str) and (problem := text_problem(value, multiline=multiline)):
                raise ValueError(problem)
            return value

        return core_schema.no_info_before_validator_function(check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        if target.get("type") == "string" and "pattern" not in target:
            target["pattern"] = MULTI_LINE_PATTERN if self.multiline else ONE_LINE_PATTERN
        return json_schema


ONE_LINE = TextCheck(multiline=False)
MULTI_LINE = TextCheck(multiline=True)

SingleLine = Annotated[str, ONE_LINE]
"""One line of text: a name, a tag, a filter."""

MultiLine = Annotated[str, MULTI_LINE]
"""Free text that may span lines (notes, reasons)."""
