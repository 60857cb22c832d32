"""Swagger UI (/docs) and ReDoc (/redoc) from files the package ships, so that both work offline.

FastAPI's own pages load their scripts, styles, favicon and (ReDoc) fonts from CDNs and are blank
on a network without one. The assets here are the npm releases named in ``static/README.md``,
served under ``/static``; nothing on either page names another host.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Pages load only from this origin. ReDoc's menu footer still asks for the Redocly logo from a
# CDN (no option turns it off): the browser blocks that, and ReDoc hides the broken image.
# Both UIs need their inline start-up script and inline styles; ReDoc searches in a blob worker.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; base-uri 'self'; "
    "frame-ancestors 'self'"
)
STATIC_URL = "/static"
FAVICON = f"{STATIC_URL}/swagger-ui/favicon-32x32.png"


def install(app: FastAPI) -> None:
    """Serve ``/static`` and the two documentation pages (not part of the OpenAPI schema).

    The app must be created with ``docs_url=None, redoc_url=None`` so that FastAPI's CDN pages
    are not registered first."""
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
    title = app.title

    def prefix(request: Request) -> str:
        # Behind a proxy that mounts the service under a path, every URL keeps that path.
        root_path: str = request.scope.get("root_path", "")
        return root_path.rstrip("/")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = prefix(request)
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui/swagger-ui.css",
            swagger_favicon_url=f"{root}{FAVICON}",
            # The default validator badge is an image from a public host: none offline.
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = prefix(request)
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{FAVICON}",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return page
