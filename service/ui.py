"""The page for people at ``/``: a model's charts and the fleet, drawn from the public API.

The page is static (``static/page``, plain JavaScript modules and uPlot from ``static/uplot``):
nothing is built, and nothing is loaded from another host.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from service.docs_ui import CONTENT_SECURITY_POLICY, STATIC_DIR

PAGE = STATIC_DIR / "page" / "index.html"

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    """The charts page; its URLs are relative, so it also works under a proxy's path prefix."""
    return HTMLResponse(
        PAGE.read_text(encoding="utf-8"),
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )
