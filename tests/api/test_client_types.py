"""The client's answer types are generated from the OpenAPI document, and agree with the app."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from service import client_types

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_client_types", ROOT / "scripts" / "gen_client_types.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_client_types_are_generated_from_the_committed_openapi() -> None:
    gen = _generator()
    wanted = gen.formatted(gen.render(json.loads((ROOT / "openapi" / "openapi.json").read_text())))
    committed = (ROOT / "service" / "client_types.py").read_text()
    assert committed == wanted, "service/client_types.py is stale: run scripts/gen_client_types.py"


def test_the_client_types_name_every_field_of_the_answers() -> None:
    from service.valuation import schemas

    for name in ("QuoteRead", "ResidualRead", "QuoteBatchRead", "Provenance", "FxUsed"):
        server = getattr(schemas, name).model_fields
        client = getattr(client_types, name).model_fields
        assert set(client) == set(server), name
        assert {k for k, f in client.items() if f.is_required()} == {
            k for k, f in server.items() if f.is_required()
        }, name


def test_importing_the_client_loads_neither_the_engine_nor_numpy() -> None:
    probe = (
        "import sys, service.client; "
        "print(sorted(m for m in sys.modules if m == 'numpy' or m.startswith('service.engine')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]", done.stdout
