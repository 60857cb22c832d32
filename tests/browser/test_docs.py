"""Swagger UI and ReDoc in a real browser: every operation listed, "Try it out" answers, offline."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import MODEL, REDOC_LOGO, assert_same_origin, network_log

TIMEOUT_S = 60


def _operations(server: str) -> set[tuple[str, str]]:
    spec = httpx.get(f"{server}/openapi.json").raise_for_status().json()
    return {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}


def test_swagger_ui_lists_every_operation(
    browser: webdriver.Chrome, server: str, artifacts: Path
) -> None:
    network_log(browser)  # forget earlier pages
    expected = _operations(server)
    browser.get(f"{server}/docs")
    wait = WebDriverWait(browser, TIMEOUT_S)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= len(expected))
    listed = {
        (
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text.strip(),
            block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute("data-path"),
        )
        for block in browser.find_elements(By.CSS_SELECTOR, ".opblock")
    }
    assert listed == expected
    browser.save_screenshot(str(artifacts / "swagger-ui.png"))
    assert_same_origin(browser, server)


def test_try_it_out_on_quote_returns_a_rate(
    browser: webdriver.Chrome, server: str, artifacts: Path
) -> None:
    network_log(browser)
    browser.get(f"{server}/docs#/valuation/get_quote")
    wait = WebDriverWait(browser, TIMEOUT_S)
    block = wait.until(ready.presence_of_element_located((By.ID, "operations-valuation-get_quote")))
    if not block.find_elements(By.CSS_SELECTOR, ".try-out__btn"):
        block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda d: block.find_element(By.CSS_SELECTOR, ".try-out__btn")).click()
    model = block.find_element(By.CSS_SELECTOR, 'tr[data-param-name="model"] input')
    if model.get_attribute("value") != MODEL:
        model.clear()
        model.send_keys(MODEL)
    block.find_element(By.CSS_SELECTOR, "button.execute").click()
    status = wait.until(
        lambda d: block.find_element(
            By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"
        )
    )
    body = block.find_element(By.CSS_SELECTOR, ".live-responses-table .response pre")
    assert status.text.strip() == "200", body.text[:500]
    answer = json.loads(body.text)
    assert answer["model"] == MODEL and answer["rate_per_gpu_hour"] > 0
    assert answer["low"] <= answer["rate_per_gpu_hour"] <= answer["high"]
    browser.execute_script("arguments[0].scrollIntoView()", status)
    browser.save_screenshot(str(artifacts / "swagger-try-it-out-quote.png"))
    assert any("/quote?" in url for url in assert_same_origin(browser, server))


def test_redoc_renders_every_operation(
    browser: webdriver.Chrome, server: str, artifacts: Path
) -> None:
    network_log(browser)
    spec = httpx.get(f"{server}/openapi.json").raise_for_status().json()
    operation_ids = {op["operationId"] for ops in spec["paths"].values() for op in ops.values()}
    browser.get(f"{server}/redoc")
    WebDriverWait(browser, TIMEOUT_S).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '[data-section-id^="operation/"]')
    )
    sections = {
        (element.get_attribute("data-section-id") or "").removeprefix("operation/")
        for element in browser.find_elements(By.CSS_SELECTOR, '[data-section-id^="operation/"]')
    }
    assert sections == operation_ids
    browser.save_screenshot(str(artifacts / "redoc.png"))
    assert_same_origin(browser, server, may_block=(REDOC_LOGO,))
