"""Names that client generators need from the OpenAPI: one component per vocabulary, and
identifier-safe member names.

Pydantic inlines every ``Literal`` as an anonymous ``enum``, so a generator names the class after
the operation (``GetQuoteTerm``, ``QuoteRequestTerm``: two classes for one vocabulary) and its
members after the values, or after their position when a value is not an identifier (``"1y"``
becomes ``VALUE_5``). Here each vocabulary the service declares becomes one component
(``#/components/schemas/QuoteTerm``) and every string enum carries ``x-enum-varnames``
(``ONE_YEAR``), which openapi-python-client and OpenAPI Generator read.

``declare_optional_security`` declares the key optional at the top level, which the operations
that do not require one inherit and which generators do not read, so that open reads are still
generated as taking a plain client.
"""

from __future__ import annotations

import re
from typing import Any, get_args

from service.auth.keys import Scope
from service.engine.types import (
    AssetStatus,
    BookMethod,
    Condition,
    DepreciationMethod,
    Kind,
    Precision,
    Premise,
    QuoteTerm,
    Segment,
    Term,
)
from service.engine.types import Convention as MacrsConvention
from service.valuation.fleet.lines import Regime
from service.valuation.schemas import QuoteSegment

VOCABULARIES: dict[str, Any] = {
    "QuoteTerm": QuoteTerm,
    "ObservationTerm": Term,
    "ObservationKind": Kind,
    "Condition": Condition,
    "GpuSegment": Segment,
    "QuoteSegment": QuoteSegment,
    "Precision": Precision,
    "Premise": Premise,
    "Regime": Regime,
    "AssetStatus": AssetStatus,
    "BookMethod": BookMethod,
    "DepreciationMethod": DepreciationMethod,
    "MacrsConvention": MacrsConvention,
    "KeyScope": Scope,
}

_NUMBER_WORDS = (
    "ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE TEN ELEVEN TWELVE".split()  # noqa: SIM905
)
_UNITS = {"d": "DAY", "w": "WEEK", "m": "MONTH", "y": "YEAR"}
_DURATION = re.compile(r"(\d+)([dwmy])")
_COMPONENT = "#/components/schemas/"


def member_name(value: str) -> str:
    """An upper-case identifier for an enum value: ``1y`` → ``ONE_YEAR``, ``on_demand`` →
    ``ON_DEMAND``, ``curve,path`` → ``CURVE_PATH``."""
    if (duration := _DURATION.fullmatch(value)) and int(duration[1]) < len(_NUMBER_WORDS):
        count = int(duration[1])
        unit = _UNITS[duration[2]] + ("" if count == 1 else "S")
        return f"{_NUMBER_WORDS[count]}_{unit}"
    name = re.sub(r"[^0-9A-Za-z]+", "_", value).strip("_").upper()
    return name if name[:1].isalpha() else f"VALUE_{name}"


def name_enums(spec: dict[str, Any]) -> None:
    """Move the declared vocabularies to components and name the members of every string enum."""
    by_values = {tuple(get_args(alias)): name for name, alias in VOCABULARIES.items()}
    used: dict[str, list[str]] = {}

    def visit(node: Any) -> Any:
        if isinstance(node, list):
            return [visit(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: visit(value) for key, value in node.items()}
        values = node.get("enum")
        if node.get("type") != "string" or not isinstance(values, list):
            return node
        name = by_values.get(tuple(values))
        if name is None:
            _add_member_names(node)
            return node
        used[name] = values
        kept = {k: node[k] for k in ("description", "default", "examples") if k in node}
        return {"$ref": f"{_COMPONENT}{name}", **kept}

    spec["paths"] = visit(spec.get("paths", {}))
    components = spec.setdefault("components", {})
    schemas = components["schemas"] = visit(components.get("schemas", {}))
    for name, values in sorted(used.items()):
        schema = {"type": "string", "enum": values, "title": name}
        _add_member_names(schema)
        schemas[name] = schema


def _add_member_names(schema: dict[str, Any]) -> None:
    names = [member_name(str(value)) for value in schema["enum"]]
    if len(set(names)) == len(names):
        schema["x-enum-varnames"] = names


def declare_optional_security(spec: dict[str, Any]) -> None:
    """Declare at the top level that a key is optional: ``[{}, {scheme: []}, …]``.

    An operation that declares no ``security`` of its own inherits this one; those that do
    (writes, and reads when REQUIRE_READ_KEY is set) keep theirs. It is declared here rather than
    on each open read because openapi-python-client (0.29.1) types an operation with any
    ``security`` of its own, the optional ``[{}, …]`` included, as taking only an
    ``AuthenticatedClient``, and reads no top-level ``security``: open reads so keep taking a
    plain ``Client`` (``tests/api/test_generated_client.py`` checks both behaviours).
    """
    schemes = spec.get("components", {}).get("securitySchemes", {})
    if schemes:
        spec["security"] = [{}, *({name: []} for name in schemes)]
