"""A live server and Debian's headless Chromium (Selenium with the system chromedriver).

Without Chromium these tests fail in CI (``CI=true``: ``.ci/run`` installs it) and are skipped,
with the reason in the summary, on a developer's machine. Screenshots and the measured load
times go to ``$BROWSER_ARTIFACTS`` (default: a ``gpuval-browser`` folder in the temp dir).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from service.app import create_app
from service.state import resources
from tests import support
from tests.live import database_copy, serve
from tests.support import KEYS, Backend

CHROMIUM_NAMES = ("chromium", "chromium-browser")
DRIVER_NAMES = ("chromedriver",)
MODEL = "nvidia-h100-sxm5-80gb"
AS_OF = "2026-06-30"
# An asset bought at launch price with a long book life is worth less than its book: impaired.
ASSETS_CSV = (
    "tag,model,gpu_count,in_service_on,acquisition_cost,currency,life_months\n"
    f"h100-rack1,{MODEL},8,2024-03-31,268800,USD,60\n"
    "h200-rack2,nvidia-h200-sxm-141gb,8,2026-01-31,600000,USD,96\n"
    "a100-rack3,nvidia-a100-sxm4-80gb,8,2021-06-30,120000,EUR,60\n"
)


def _which(names: tuple[str, ...]) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """Paths of the browser and its driver: a failure in CI, a reported skip elsewhere."""
    browser, driver = _which(CHROMIUM_NAMES), _which(DRIVER_NAMES)
    if browser and driver:
        return browser, driver
    missing = "chromium" if not browser else "chromium-driver"
    message = f"{missing} is not installed (apt-get install chromium chromium-driver)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}: CI must run the browser tests", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(
        os.environ.get("BROWSER_ARTIFACTS") or Path(tempfile.gettempdir()) / "gpuval-browser"
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def browser(chromium: tuple[str, str], downloads: Path) -> Iterator[webdriver.Chrome]:
    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1400,2100",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # The system driver, named explicitly: Selenium Manager would try to download one.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def running_server(
    backend: Backend, template_url: str, tmp: Path, **settings: object
) -> Iterator[str]:
    """Started as ``gpuval serve`` starts: today's calibration, then the page's history dates,
    warmed in the background."""
    with database_copy(backend, template_url, tmp) as url:
        app = create_app(support.settings_for(url, **{"warm_calibration": True, **settings}))
        resources(app).warm_history = True
        with serve(app) as base:
            yield base


@pytest.fixture(scope="session")
def server(
    backend: Backend, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A live server whose register holds three assets, one of them impaired."""
    with running_server(backend, template_url, tmp_path_factory.mktemp("live")) as base:
        response = httpx.post(
            f"{base}/assets/import",
            content=ASSETS_CSV,
            headers={"Content-Type": "text/csv", "Authorization": f"Bearer {KEYS['write']}"},
        )
        assert response.status_code == 201, response.text
        yield base


@pytest.fixture
def keyed_server(backend: Backend, template_url: str, tmp_path: Path) -> Iterator[str]:
    """A live server on which reads need a key (REQUIRE_READ_KEY)."""
    with running_server(backend, template_url, tmp_path, require_read_key=True) as base:
        yield base


@pytest.fixture
def empty_server(backend: Backend, template_url: str, tmp_path: Path) -> Iterator[str]:
    """A live server with no assets."""
    with running_server(backend, template_url, tmp_path) as base:
        yield base


# ReDoc's menu footer asks for Redocly's logo from a CDN, with no option to turn it off; the
# docs pages' Content-Security-Policy blocks it inside the browser (see service/docs_ui.py).
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def network_log(driver: webdriver.Chrome) -> tuple[list[str], list[str]]:
    """URLs requested since the last call (from Chrome's performance log): those sent, and those
    the page's Content-Security-Policy blocked before they left the browser."""
    requested: dict[str, str] = {}
    blocked: set[str] = set()
    for entry in driver.get_log("performance"):  # type: ignore[no-untyped-call]
        message: dict[str, Any] = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            requested[params["requestId"]] = params["request"]["url"]
        elif message.get("method") == "Network.loadingFailed" and params.get("blockedReason"):
            blocked.add(params["requestId"])
    sent = [url for request_id, url in requested.items() if request_id not in blocked]
    return sent, [requested[request_id] for request_id in blocked if request_id in requested]


def assert_same_origin(
    driver: webdriver.Chrome, base: str, *, may_block: tuple[str, ...] = ()
) -> list[str]:
    """Every request the page sent, and every resource it loaded, went to ``base``'s origin;
    nothing was blocked but ``may_block``. Returns the URLs sent."""
    origin = urlsplit(base)[:2]
    sent, blocked = network_log(driver)
    loaded = driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.responseStatus > 0).map(e => e.name)"
    )
    assert sent, "no request was logged: the performance log is off"
    urls = [u for u in sent + loaded if not u.startswith(("data:", "blob:"))]
    foreign = sorted({u for u in urls if urlsplit(u)[:2] != origin})
    assert foreign == [], f"requests to other hosts: {foreign}"
    assert set(blocked) <= set(may_block), f"blocked by the page's CSP: {blocked}"
    return sent
