"""The OpenAPI names every vocabulary and every enum member, for client generators."""

from __future__ import annotations

import copy
from typing import Any, get_args

import pytest

from service.app import create_app
from service.config import Settings
from service.openapi_names import VOCABULARIES, declare_optional_security, member_name

SPEC: dict[str, Any] = create_app().openapi()
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]


def _enums(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [e for item in node for e in _enums(item)]
    if not isinstance(node, dict):
        return []
    own = [node] if "enum" in node and node.get("type") == "string" else []
    return own + [e for value in node.values() for e in _enums(value)]


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("1m", "ONE_MONTH"),
        ("3m", "THREE_MONTHS"),
        ("1y", "ONE_YEAR"),
        ("3y", "THREE_YEARS"),
        ("on_demand", "ON_DEMAND"),
        ("curve,path", "CURVE_PATH"),
        ("24m", "VALUE_24M"),
        ("straight_line", "STRAIGHT_LINE"),
    ],
)
def test_member_names_are_identifiers(value: str, name: str) -> None:
    assert member_name(value) == name


def test_every_string_enum_has_unique_identifier_member_names() -> None:
    enums = _enums(SPEC)
    assert len(enums) > len(VOCABULARIES)
    for enum in enums:
        names = enum["x-enum-varnames"]
        assert len(names) == len(enum["enum"]) == len(set(names)), enum
        assert all(n.isidentifier() and n.isupper() for n in names), enum


def test_each_vocabulary_is_one_component_referenced_where_used() -> None:
    for name, alias in VOCABULARIES.items():
        assert SCHEMAS[name]["enum"] == list(get_args(alias)), name
    components = [id(SCHEMAS[name]) for name in VOCABULARIES]
    inline = [e["enum"] for e in _enums(SPEC) if id(e) not in components]
    assert inline, "some enums stay inline (one-off vocabularies such as `format`)"
    named = [list(get_args(alias)) for alias in VOCABULARIES.values()]
    assert [values for values in inline if values in named] == []
    term = next(p for p in SPEC["paths"]["/quote"]["get"]["parameters"] if p["name"] == "term")
    assert term["schema"] == {**term["schema"], "$ref": "#/components/schemas/QuoteTerm"}
    quote_request_term = SCHEMAS["QuoteRequest"]["properties"]["term"]
    assert quote_request_term["$ref"] == "#/components/schemas/QuoteTerm"


def _without_top_level_security(spec: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in spec.items() if key != "security"}


def test_optional_security_is_declared_once_at_the_top_level() -> None:
    spec = copy.deepcopy(SPEC)
    declare_optional_security(spec)
    assert spec["security"] == [{}, {"bearer": []}, {"apiKey": []}]
    # Nothing else changes: open reads declare nothing (they inherit the optional key) and
    # writes keep their own requirement.
    assert _without_top_level_security(spec) == _without_top_level_security(SPEC)
    assert "security" not in SPEC["paths"]["/quote"]["get"]
    assert SPEC["paths"]["/assets"]["post"]["security"] == [{"bearer": []}, {"apiKey": []}]


def test_reads_keep_their_own_requirement_when_reads_need_a_key() -> None:
    spec = create_app(Settings(require_read_key=True)).openapi()
    declare_optional_security(spec)
    for path in ("/quote", "/residual", "/models"):
        assert spec["paths"][path]["get"]["security"] == [{"bearer": []}, {"apiKey": []}], path


def test_no_scheme_no_declaration() -> None:
    spec: dict[str, Any] = {"paths": {}, "components": {"schemas": {}}}
    declare_optional_security(spec)
    assert "security" not in spec


def test_every_error_answer_has_an_example_of_its_own_status() -> None:
    """Swagger UI shows each declared error with an example of that error (its status, title
    and type), not one 404 under every code."""
    seen = set()
    for path in SPEC["paths"].values():
        for operation in path.values():
            for code, answer in operation.get("responses", {}).items():
                problem = answer.get("content", {}).get("application/problem+json")
                if problem is None:
                    continue
                example = problem["example"]
                assert example["status"] == int(code)
                assert example["type"].startswith("urn:gpuval:problem:")
                assert example["title"] and example["detail"]
                seen.add(int(code))
    assert {401, 404, 422} <= seen
