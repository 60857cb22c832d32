"""Swagger UI and ReDoc work offline: the pages name no other host, their assets are served here,
and a non-editable install ships those assets."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from service import docs_ui

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]

# src="…", href="…", and the spec URL that each page hands its script.
_REFERENCES = re.compile(r"""(?:src|href|spec-url)=["']([^"']+)["']|\burl:\s*'([^']+)'""")
_CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


def _references(html: str) -> list[str]:
    return [a or b for a, b in _REFERENCES.findall(html)]


@pytest.mark.parametrize(
    ("page", "marker", "assets"),
    [
        ("/docs", "SwaggerUIBundle", {"swagger-ui-bundle.js", "swagger-ui.css"}),
        ("/redoc", "<redoc", {"redoc.standalone.js"}),
    ],
)
async def test_docs_pages_load_every_asset_from_this_service(
    anon_client: httpx.AsyncClient, page: str, marker: str, assets: set[str]
) -> None:
    response = await anon_client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert marker in html
    assert "http://" not in html and "https://" not in html, "the page names another host"
    urls = _references(html)
    assert {url.rsplit("/", 1)[-1] for url in urls} >= assets | {"openapi.json"}
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = await anon_client.get(url)
        assert asset.status_code == 200, url
        wanted = _CONTENT_TYPES[Path(url).suffix]
        assert asset.headers["content-type"].startswith(wanted), (url, asset.headers)
        assert asset.content, url


async def test_docs_pages_keep_a_proxy_path_prefix(app: FastAPI) -> None:
    # Starlette's root_path: a proxy serves the service under /gpuval.
    transport = httpx.ASGITransport(app=app, root_path="/gpuval")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for page in ("/docs", "/redoc"):
            urls = _references((await client.get(page)).text)
            assert urls and all(url.startswith("/gpuval/") for url in urls), urls


def test_every_static_asset_is_package_data() -> None:
    """setuptools' package-data globs for ``service`` cover every file under service/static, so
    that ``pip install .`` (and the wheel) ship them, not only an editable install."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["service"]
    package = ROOT / "service"
    shipped = {path for pattern in globs for path in package.glob(pattern) if path.is_file()}
    on_disk = {path for path in docs_ui.STATIC_DIR.rglob("*") if path.is_file()}
    assert on_disk, "no static assets"
    assert on_disk <= shipped, sorted(str(p) for p in on_disk - shipped)
