"""Regenerate ``service/client_types.py``, the client's answer types, from the OpenAPI document.

The client must not import the server (its schemas load the engine and NumPy), and its types
must not be a second hand-written copy of the answers: they are generated from
``openapi/openapi.json``, and ``tests/api/test_client_types.py`` fails when the two drift.

    python scripts/gen_client_types.py            # after `python3 tasks.py openapi`

Stdlib and ruff only. Covers the JSON Schema that pydantic emits for the answers: objects, arrays,
maps, enums, nullable ``anyOf``, ``$ref``, dates and instants.
"""

from __future__ import annotations

import json
import keyword
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "openapi" / "openapi.json"
TARGET = ROOT / "service" / "client_types.py"
ROOTS = ("QuoteRead", "ResidualRead", "QuoteBatchRead")

HEADER = '''"""The answers of ``/quote`` and ``/residual`` as the client reads them.

Generated from openapi/openapi.json by scripts/gen_client_types.py: do not edit by hand.
Unknown fields are ignored, so a newer server does not break an older client.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
'''


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if "enum" in schema:
        return "Literal[" + ", ".join(json.dumps(v) for v in schema["enum"]) + "]"
    kind = schema.get("type")
    if kind == "null":
        return "None"
    if kind == "string":
        return {"date": "date", "date-time": "datetime"}.get(schema.get("format", ""), "str")
    if kind in ("number", "integer", "boolean"):
        return {"number": "float", "integer": "int", "boolean": "bool"}[kind]
    if kind == "array":
        return f"list[{_type(schema.get('items', {}))}]"
    if kind == "object":
        extra = schema.get("additionalProperties", True)
        return f"dict[str, {_type(extra) if isinstance(extra, dict) else 'Any'}]"
    return "Any"


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        found = [str(schema["$ref"]).rsplit("/", 1)[-1]] if "$ref" in schema else []
        return found + [r for value in schema.values() for r in _refs(value)]
    if isinstance(schema, list):
        return [r for value in schema for r in _refs(value)]
    return []


def _ordered(components: dict[str, Any]) -> list[str]:
    """The roots and every schema they refer to, each after the ones it uses."""
    out: list[str] = []

    def visit(name: str) -> None:
        if name in out:
            return
        for ref in sorted(set(_refs(components[name]))):
            visit(ref)
        out.append(name)

    for name in ROOTS:
        visit(name)
    return out


def render(spec: dict[str, Any]) -> str:
    components: dict[str, Any] = spec["components"]["schemas"]
    blocks = [HEADER]
    for name in _ordered(components):
        schema = components[name]
        if "enum" in schema:  # a named vocabulary (QuoteTerm, Regime, ...): a Literal alias
            blocks.append(f"{name} = {_type({'enum': schema['enum']})}\n")
            continue
        required = set(schema.get("required", ()))
        lines = [f"class {name}(BaseModel):"]
        if schema.get("description"):
            first = str(schema["description"]).strip().splitlines()[0].replace('"""', "'''")
            lines.append(f'    """{first}"""')
            lines.append("")
        lines.append('    model_config = ConfigDict(extra="ignore")')
        lines.append("")
        for field, prop in schema.get("properties", {}).items():
            assert field.isidentifier() and not keyword.iskeyword(field), field
            annotation = _type(prop)
            if field in required:
                lines.append(f"    {field}: {annotation}")
            else:
                default = prop.get("default")
                lines.append(f"    {field}: {annotation} = {default!r}")
        blocks.append("\n".join(lines) + "\n")
    return "\n\n".join(blocks)


def formatted(source: str) -> str:
    """The source as ``ruff format`` leaves it (ruff is a test dependency)."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(TARGET), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return done.stdout


def main() -> int:
    TARGET.write_text(formatted(render(json.loads(SPEC.read_text()))))
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
