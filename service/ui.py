"""The page for people at ``/``: a model's charts and the fleet, drawn from the public API.

The page is static (``static/page``, plain JavaScript modules and uPlot from ``static/uplot``):
nothing is built, and nothing is loaded from another host.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from service.docs_ui import CONTENT_SECURITY_POLICY, STATIC_DIR

PAGE = STATIC_DIR / "page" / "index.html"

#: Quotes in the page's quote-history chart (``HISTORY_POINTS`` in ``static/page/app.js``):
#: quarter starts before the valuation date, every ``step``-th counted back from the last
#: one, then the valuation date itself.
HISTORY_POINTS = 14
#: The thinning steps warmed at start-up: a step of 3 spans 36 quarters, nine years, more than
#: any model's history in the reference catalogue.
WARM_STEPS = 3

router = APIRouter(include_in_schema=False)


def quarter_start_before(day: date) -> date:
    """The last first day of a quarter strictly before ``day``."""
    month = (day.month - 1) // 3 * 3 + 1
    start = date(day.year, month, 1)
    if start < day:
        return start
    return date(day.year - 1, 10, 1) if month == 1 else date(day.year, month - 3, 1)


def quarters_back(day: date, count: int) -> date:
    """The quarter start ``count`` quarters before ``day`` (itself a quarter start)."""
    index = day.year * 4 + (day.month - 1) // 3 - count
    return date(index // 4, index % 4 * 3 + 1, 1)


def history_warm_dates(as_of: date, *, steps: int = WARM_STEPS) -> list[date]:
    """Every past date the page's quote-history chart can ask on ``as_of``, whatever the
    model, most recent first: the page keeps quarter starts ``k × step`` quarters back from
    the last one before ``as_of`` (``k`` up to ``HISTORY_POINTS - 2``), with a step that
    grows with the model's history (1 for up to 13 quarters, 2 up to 26, …); ``as_of`` itself
    is not included (it is today's calibration, warmed first). The dates of step 1 (the
    default model's) come first."""
    last = quarter_start_before(as_of)
    offsets: list[int] = []
    for step in range(1, steps + 1):
        for k in range(HISTORY_POINTS - 1):
            if k * step not in offsets:
                offsets.append(k * step)
    ordered = offsets[: HISTORY_POINTS - 1] + sorted(offsets[HISTORY_POINTS - 1 :])
    return [quarters_back(last, offset) for offset in ordered]


@router.get("/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    """The charts page; its URLs are relative, so it also works under a proxy's path prefix."""
    return HTMLResponse(
        PAGE.read_text(encoding="utf-8"),
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )
