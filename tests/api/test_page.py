"""The charts page at ``/`` is served with every asset it names, all from this service."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from service.docs_ui import STATIC_DIR

pytestmark = pytest.mark.anyio

PAGE_DIR = STATIC_DIR / "page"
_HTML_REFERENCES = re.compile(r"""(?:src|href)=["']([^"'#]+)["']""")
_JS_IMPORTS = re.compile(r"""^import\s.*?from\s+["']([^"']+)["'];""", re.MULTILINE | re.DOTALL)


async def test_the_page_and_its_assets_are_served_from_here(
    anon_client: httpx.AsyncClient,
) -> None:
    response = await anon_client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    references = _HTML_REFERENCES.findall(response.text)
    assert {"static/page/app.js", "static/uplot/uPlot.min.css", "docs"} <= set(references)
    for url in references:
        # Relative, so that a proxy's path prefix is kept; never another host.
        assert not url.startswith(("/", "http:", "https:")), url
        assert (await anon_client.get(f"/{url}")).status_code == 200, url


async def test_every_module_import_resolves_to_a_served_file(
    anon_client: httpx.AsyncClient,
) -> None:
    modules = sorted(PAGE_DIR.glob("*.js"))
    assert {m.name for m in modules} >= {"app.js", "charts.js", "api.js"}
    imported = 0
    for module in modules:
        for target in _JS_IMPORTS.findall(module.read_text()):
            assert target.startswith("./") or target.startswith("../"), (module.name, target)
            served = (Path("/static/page") / target).resolve()
            response = await anon_client.get(str(served))
            assert response.status_code == 200, (module.name, target)
            assert response.headers["content-type"].startswith("text/javascript")
            imported += 1
    assert imported >= 3


def test_the_page_names_no_other_host() -> None:
    for path in PAGE_DIR.iterdir():
        text = path.read_text()
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path.name


async def test_the_page_is_not_an_operation(app: FastAPI) -> None:
    assert "/" not in app.openapi()["paths"]


@pytest.mark.parametrize("page", ["/", "/docs", "/redoc"])
async def test_pages_may_load_only_from_this_origin(
    anon_client: httpx.AsyncClient, page: str
) -> None:
    policy = (await anon_client.get(page)).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    for name, sources in directives.items():
        assert "http" not in sources and "*" not in sources, (name, sources)
