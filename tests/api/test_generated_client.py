"""A client generated with openapi-python-client, as another team would, against a live server.

The spec is fetched from the running service, the client is generated into a temporary folder
with the repository's generator configuration, imported, and used for reads (with a plain
``Client``: they need no key), a paged list, a create with a key and a CSV import. A probe
shows where an optional key can be declared without the generator typing reads as needing one.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import httpx
import pytest

from service.app import create_app
from service.openapi_names import declare_optional_security
from tests import support
from tests.live import database_copy, serve
from tests.support import KEYS, Backend

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "openapi" / "openapi-python-client.yaml"
PACKAGE = "gpuval_generated_client"
MODEL = "nvidia-h100-sxm5-80gb"


def _generate(spec: Path, output: Path) -> None:
    """Generate a client package from ``spec`` into ``output`` with the repository's config."""
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [
            bin_dir / "openapi-python-client",
            "generate",
            "--path",
            spec,
            "--config",
            CONFIG,
            "--meta",
            "none",
            "--output-path",
            output,
        ],
        capture_output=True,
        text=True,
        # The generator formats its output with ruff, which this environment provides.
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        check=False,
        timeout=300,
    )
    output_text = result.stdout + result.stderr
    assert result.returncode == 0, output_text
    assert "Warning" not in output_text and "WARNING" not in output_text, output_text


@pytest.fixture(scope="module")
def base_url(
    backend: Backend, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with database_copy(backend, template_url, tmp_path_factory.mktemp("live")) as url:
        app = create_app(support.settings_for(url))
        with serve(app) as base:
            yield base


@pytest.fixture(scope="module")
def generated(base_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Generate the client from the served spec; yields its folder (on ``sys.path``)."""
    work = tmp_path_factory.mktemp("client")
    spec = work / "openapi.json"
    spec.write_bytes(httpx.get(f"{base_url}/openapi.json").raise_for_status().content)
    _generate(spec, work / PACKAGE)
    sys.path.insert(0, str(work))
    try:
        yield work / PACKAGE
    finally:
        sys.path.remove(str(work))
        for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def _ok(answer: Any, cls: type) -> Any:
    assert isinstance(answer, cls), answer
    return answer


def test_enums_have_names_not_positions(generated: Path) -> None:
    models = _module("models")
    term = models.QuoteTerm
    assert term.ONE_YEAR.value == "1y" and term.ON_DEMAND.value == "on_demand"
    assert term.SIX_MONTHS.value == "6m" and term.THREE_YEARS.value == "3y"
    assert models.Premise.ORDERLY.value == "orderly"
    positional = [
        path.name
        for path in (generated / "models").glob("*.py")
        if re.search(r"^\s+VALUE_\d+ = ", path.read_text(), re.MULTILINE)
    ]
    assert positional == []


def test_reads_take_a_plain_client_and_writes_an_authenticated_one(generated: Path) -> None:
    clients = _module("client")
    reads = ["valuation.get_quote", "valuation.get_residual", "models.list_models"]
    for name in [*reads, "fleet.list_valuations", "finance.list_assets"]:
        annotation = inspect.signature(_module(f"api.{name}").sync).parameters["client"].annotation
        assert set(get_args(annotation)) == {clients.AuthenticatedClient, clients.Client}, name
    for name in ["finance.create_asset", "models.import_models", "keys.list_keys"]:
        annotation = inspect.signature(_module(f"api.{name}").sync).parameters["client"].annotation
        assert annotation is clients.AuthenticatedClient, name


def test_quote_residual_and_a_paged_list_without_a_key(base_url: str, generated: Path) -> None:
    client_module, models = _module("client"), _module("models")
    with client_module.Client(base_url=base_url, raise_on_unexpected_status=True) as client:
        quote = _ok(
            _module("api.valuation.get_quote").sync(
                client=client, model=MODEL, term=models.QuoteTerm.ONE_YEAR, as_of=date(2026, 1, 1)
            ),
            models.QuoteRead,
        )
        assert quote.model == MODEL and quote.term == "1y"
        assert 0 < quote.low <= quote.rate_per_gpu_hour <= quote.high

        residual = _ok(
            _module("api.valuation.get_residual").sync(
                client=client,
                model=MODEL,
                premise=models.Premise.ORDERLY,
                include=models.GetResidualIncludeType0.CURVE,
            ),
            models.ResidualRead,
        )
        assert residual.premise == "orderly" and residual.value_per_gpu > 0
        assert residual.curve and all(point.value_per_gpu >= 0 for point in residual.curve)

        list_models = _module("api.models.list_models")
        first = _ok(list_models.sync(client=client, limit=3), models.PageGpuModelRead)
        assert len(first.items) == 3 and first.total > 3 and first.next_cursor
        second = _ok(
            list_models.sync(client=client, limit=3, cursor=first.next_cursor),
            models.PageGpuModelRead,
        )
        slugs = [m.slug for m in first.items + second.items]
        assert len(set(slugs)) == 6 and slugs == sorted(slugs)


def test_create_an_asset_and_import_a_csv_with_a_key(base_url: str, generated: Path) -> None:
    client_module, models, types = _module("client"), _module("models"), _module("types")
    with client_module.AuthenticatedClient(base_url=base_url, token=KEYS["write"]) as client:
        created = _ok(
            _module("api.finance.create_asset").sync(
                client=client,
                body=models.AssetCreate(
                    acquisition_cost=250_000.0,
                    gpu_count=8,
                    in_service_on=date(2025, 1, 15),
                    life_months=60,
                    model=MODEL,
                    tag="gen-client-1",
                ),
            ),
            models.AssetRead,
        )
        assert created.tag == "gen-client-1" and created.id > 0
        # A CSV body is a File sent as text/csv. (openapi-python-client 0.29.1 leaves `Unset`
        # unimported in a module whose only optional argument is a body with two media types,
        # which POST /assets/import and /observations/import are; /models/import has a query
        # parameter that brings the import in.)
        csv = (
            "slug,vendor,family,variant,architecture,segment,release_date,memory_gb,"
            "memory_bw_tbps,tdp_w,bf16_tflops,fp8_tflops,fp4_tflops,form_factor\n"
            "acme-x1-96gb,Acme,X1,96GB,Xenon,datacenter,2025-06-01,96,4.0,700,900,1800,0,SXM\n"
        )
        imported = _ok(
            _module("api.models.import_models").sync(
                client=client, body=types.File(payload=io.BytesIO(csv.encode()))
            ),
            models.ImportResult,
        )
        assert imported.created == 1
    with client_module.Client(base_url=base_url) as anonymous:
        refused = _module("api.finance.create_asset").sync_detailed(
            client=anonymous,  # the annotation asks for an AuthenticatedClient: see why
            body=models.AssetCreate(
                acquisition_cost=1.0,
                gpu_count=1,
                in_service_on=date(2025, 1, 15),
                life_months=12,
                model=MODEL,
                tag="gen-client-3",
            ),
        )
        assert refused.status_code == 401


def _two_operations() -> dict[str, Any]:
    """A read and a write that needs a key, with the service's two schemes."""
    answer = {
        "200": {
            "description": "ok",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "probe", "version": "1"},
        "components": {"securitySchemes": create_app().openapi()["components"]["securitySchemes"]},
        "paths": {
            "/quote": {"get": {"operationId": "get_quote", "responses": answer}},
            "/assets": {
                "post": {
                    "operationId": "create_asset",
                    "security": [{"bearer": []}, {"apiKey": []}],
                    "responses": answer,
                }
            },
        },
    }


def test_an_optional_key_is_declared_where_the_generator_keeps_reads_open(
    tmp_path: Path,
) -> None:
    """Why open reads declare no ``security`` of their own: the generator types an operation
    whose own ``security`` is the optional ``[{}, {bearer: []}, …]`` as taking only an
    ``AuthenticatedClient``, and it reads no top-level ``security``, where
    ``declare_optional_security`` puts the optional key for the operations to inherit."""
    on_operation = _two_operations()
    on_operation["paths"]["/quote"]["get"]["security"] = [{}, {"bearer": []}, {"apiKey": []}]
    top_level = _two_operations()
    declare_optional_security(top_level)
    assert top_level["security"][0] == {}

    clients: dict[str, tuple[Any, Any, ModuleType]] = {}
    sys.path.insert(0, str(tmp_path))
    try:
        for package, spec in (("probe_on_operation", on_operation), ("probe_top", top_level)):
            path = tmp_path / f"{package}.json"
            path.write_text(json.dumps(spec))
            _generate(path, tmp_path / package)
            client_module = importlib.import_module(f"{package}.client")
            read, write = (
                inspect.signature(importlib.import_module(f"{package}.api.default.{name}").sync)
                .parameters["client"]
                .annotation
                for name in ("get_quote", "create_asset")
            )
            clients[package] = (read, write, client_module)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0].startswith("probe_")]:
            del sys.modules[name]

    read, write, module = clients["probe_on_operation"]
    assert read is module.AuthenticatedClient and write is module.AuthenticatedClient
    read, write, module = clients["probe_top"]
    assert set(get_args(read)) == {module.AuthenticatedClient, module.Client}
    assert write is module.AuthenticatedClient
