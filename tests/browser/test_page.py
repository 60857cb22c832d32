"""The charts page at ``/`` in a real browser: every chart draws data points for a model, each
CSV download holds the chart's numbers, the empty fleet is explained, nothing leaves the origin.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from service.ui import history_warm_dates
from tests.browser.conftest import AS_OF, MODEL, assert_same_origin, network_log
from tests.support import KEYS

CHARTS = ("history", "premises", "terms", "fp8", "fleet")
# Cold, every quote on a new date is a calibration: allow for a busy two-core machine.
CHARTS_TIMEOUT_S = 240


def _open(browser: webdriver.Chrome, url: str) -> None:
    browser.get(url)
    WebDriverWait(browser, CHARTS_TIMEOUT_S).until(
        lambda d: d.execute_script("return document.documentElement.dataset.charts") == "done"
    )


def _figures(browser: webdriver.Chrome) -> dict[str, WebElement]:
    return {_attribute(fig, "id"): fig for fig in browser.find_elements(By.CSS_SELECTOR, "figure")}


def _attribute(element: WebElement, name: str) -> str:
    value = element.get_attribute(name)
    assert value is not None, f"{name} missing on <{element.tag_name}>"
    return value


def _load_ms(browser: webdriver.Chrome) -> tuple[int, int]:
    """Milliseconds from navigation until every chart shows something (the history fills in
    its quotes as they come), and until every chart is done."""
    drawn, loaded = browser.execute_script(
        "const d = document.documentElement.dataset; return [d.drawnMs, d.loadedMs];"
    )
    return int(drawn), int(loaded)


def test_each_chart_draws_data_points_for_a_model(
    browser: webdriver.Chrome, server: str, artifacts: Path
) -> None:
    network_log(browser)
    _open(browser, f"{server}/?model={MODEL}&as_of={AS_OF}")
    cold_drawn_ms, cold_ms = _load_ms(browser)
    figures = _figures(browser)
    assert set(figures) == set(CHARTS)
    for name, fig in figures.items():
        state, points = fig.get_attribute("data-state"), int(_attribute(fig, "data-points"))
        note = fig.find_element(By.CSS_SELECTOR, ".note").text
        assert state == "ready" and points > 0, (name, state, points, note)
        # uPlot drew on its canvas: some pixels are not blank.
        assert browser.execute_script(
            "const c = arguments[0].querySelector('canvas');"
            "const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            "return px.some((v, i) => i % 4 === 3 && v > 0);",
            fig,
        ), name
    assert browser.find_element(By.ID, "model").get_attribute("value") == MODEL
    browser.save_screenshot(str(artifacts / "page.png"))
    sent = assert_same_origin(browser, server)
    assert any("/quote?" in url for url in sent) and any("/valuations?" in url for url in sent)
    # The history's dates are the ones a server warms at start-up.
    history = {
        date.fromisoformat(query["as_of"][0])
        for query in (parse_qs(urlsplit(url).query) for url in sent if "/quote?" in url)
        if query.get("term") == ["on_demand"]
    }
    as_of = date.fromisoformat(AS_OF)
    assert len(history) > 1 and history <= {as_of, *history_warm_dates(as_of)}

    _open(browser, f"{server}/?model={MODEL}&as_of={AS_OF}")
    warm_drawn_ms, warm_ms = _load_ms(browser)
    report = (
        f"page load until every chart shows something: cold {cold_drawn_ms} ms, "
        f"warm {warm_drawn_ms} ms; until every chart is done: cold {cold_ms} ms, "
        f"warm {warm_ms} ms\n"
    )
    (artifacts / "page-load.txt").write_text(report)
    print(report, end="")


def test_the_fleet_highlights_impaired_assets(browser: webdriver.Chrome, server: str) -> None:
    _open(browser, f"{server}/?model={MODEL}&as_of={AS_OF}")
    valuations = httpx.get(
        f"{server}/valuations", params={"as_of": AS_OF, "currency": "USD"}
    ).json()
    impaired = {a["tag"] for a in valuations["items"] if a["impaired"]}
    assert impaired and len(impaired) < len(valuations["items"]), "the fixture needs both kinds"
    rows = _figures(browser)["fleet"].find_elements(By.CSS_SELECTOR, "table.assets tbody tr")
    highlighted = {
        row.find_element(By.CSS_SELECTOR, "td").text
        for row in rows
        if "impaired" in (row.get_attribute("class") or "").split()
    }
    assert len(rows) == len(valuations["items"]) and highlighted == impaired


def test_each_csv_download_holds_the_numbers_of_its_chart(
    browser: webdriver.Chrome, server: str, downloads: Path
) -> None:
    _open(browser, f"{server}/?model={MODEL}&as_of={AS_OF}")
    for name, fig in _figures(browser).items():
        button = fig.find_element(By.CSS_SELECTOR, "button.csv")
        expected_rows = int(_attribute(button, "data-rows"))
        assert button.is_enabled() and expected_rows > 0, name
        before = set(downloads.iterdir())
        browser.execute_script("arguments[0].scrollIntoView()", button)
        button.click()
        deadline = time.monotonic() + 30
        while not (new := [p for p in set(downloads.iterdir()) - before if p.suffix == ".csv"]):
            assert time.monotonic() < deadline, f"{name}: no CSV was downloaded"
            time.sleep(0.1)
        table = list(csv.reader(io.StringIO(new[0].read_text(encoding="utf-8"))))
        header, rows = table[0], table[1:]
        assert len(rows) == expected_rows, name
        assert all(len(row) == len(header) for row in rows), name
        numbers = [cell for row in rows for cell in row if _is_number(cell)]
        assert numbers, f"{name}: no numbers in the CSV"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_an_empty_fleet_is_explained(
    browser: webdriver.Chrome, empty_server: str, artifacts: Path
) -> None:
    network_log(browser)
    browser.get(f"{empty_server}/?model={MODEL}&as_of={AS_OF}")
    fleet = browser.find_element(By.ID, "fleet")
    WebDriverWait(browser, CHARTS_TIMEOUT_S).until(
        lambda d: fleet.get_attribute("data-state") != "loading"
    )
    assert fleet.get_attribute("data-state") == "empty"
    assert "No assets" in fleet.find_element(By.CSS_SELECTOR, ".note").text
    assert not fleet.find_element(By.CSS_SELECTOR, "button.csv").is_enabled()
    assert not fleet.find_element(By.CSS_SELECTOR, "table.assets").is_displayed()
    browser.execute_script("arguments[0].scrollIntoView()", fleet)
    browser.save_screenshot(str(artifacts / "page-empty-fleet.png"))
    assert_same_origin(browser, empty_server)


def test_when_reads_need_a_key_the_page_asks_for_one(
    browser: webdriver.Chrome, keyed_server: str
) -> None:
    browser.get(f"{keyed_server}/?model={MODEL}&as_of={AS_OF}")
    wait = WebDriverWait(browser, CHARTS_TIMEOUT_S)
    wait.until(
        lambda d: d.execute_script("return document.documentElement.dataset.charts") == "error"
    )
    assert "needs an API key" in browser.find_element(By.ID, "status").text
    browser.find_element(By.ID, "api-key").send_keys(KEYS["read"])
    browser.find_element(By.CSS_SELECTOR, "#controls button[type=submit]").click()
    wait.until(
        lambda d: d.execute_script("return document.documentElement.dataset.charts") == "done"
    )
    states = {name: fig.get_attribute("data-state") for name, fig in _figures(browser).items()}
    # The key reached every read: the model's charts are drawn, the (empty) fleet explained.
    assert states == {**dict.fromkeys(CHARTS, "ready"), "fleet": "empty"}, states
    browser.execute_script("sessionStorage.clear()")
