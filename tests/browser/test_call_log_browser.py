"""The call log in real Chromium: search, filters, sorting, drill-downs, and a 390 px phone.

Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser import test_reports_browser as reports_ui
from tests.browser.conftest import WAIT
from tests.browser.test_reports_browser import ARTIFACTS, log_in, open_page, text_of
from tests.helpers import add_call

pytestmark = pytest.mark.browser

# The report pages' fixtures: a logged-in agency with a month of calls, over plain http.
app_config = reports_ui.app_config
seeded = reports_ui.seeded

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}


def shown_count(driver) -> int:
    """The call log's own count of matching calls ("13 calls · ...")."""
    return int(re.match(r"(\d+) call", text_of(driver, "#log-count")).group(1))


def shown_calls(driver) -> list[str]:
    return [
        r.get_attribute("data-call")
        for r in driver.find_elements(By.CSS_SELECTOR, "#call-log tbody tr[data-call]")
    ]


def submit(driver) -> None:
    old = driver.current_url
    driver.find_element(By.CSS_SELECTOR, "#call-filters button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(lambda d: d.current_url != old)
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "call-log")))


def save(driver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / f"calls-{name}.png"))


def test_every_report_row_opens_exactly_its_calls(live, seeded):
    setup, user, _ = seeded
    now = datetime.now(UTC).replace(microsecond=0)
    add_call(live.db, setup, now - timedelta(hours=2), source="", medium="", confidence="none")
    driver = live.driver
    log_in(live, user)
    for dimension in ("source", "source_medium", "campaign", "keyword", "landing_page"):
        open_page(
            live, f"/dashboard/clients/{setup.client.id}?dimension={dimension}", "#source-report"
        )
        links = [
            (a.get_attribute("href"), int(a.text))
            for a in driver.find_elements(By.CSS_SELECTOR, "#source-report tbody a.drill")
        ]
        labels = text_of(driver, "#source-report tbody")
        assert len(links) >= 2, labels
        assert "(not set)" in labels or "(no visit)" in labels, labels
        for href, count in links:
            driver.get(href)
            WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "log-count")))
            assert shown_count(driver) == count, (dimension, href)
    save(driver, "drill-down")


def test_search_filters_and_sorting_in_the_url(live, seeded):
    _, user, _ = seeded
    driver = live.driver
    log_in(live, user)
    open_page(live, "/dashboard/calls", "#call-log")
    everything = shown_count(driver)
    search = driver.find_element(By.NAME, "q")
    search.send_keys("555 0002")
    submit(driver)
    assert "q=555+0002" in driver.current_url
    found = shown_calls(driver)
    assert 0 < len(found) < everything
    for row in driver.find_elements(By.CSS_SELECTOR, "#call-log td.cl-caller"):
        assert "555-0002" in row.text or "5550002" in row.text.replace(" ", ""), row.text
    more = driver.find_element(By.ID, "more-filters")
    assert more.get_attribute("open") is None  # a search alone keeps the filters folded
    more.find_element(By.TAG_NAME, "summary").click()
    Select(driver.find_element(By.NAME, "caller")).select_by_value("repeat")
    Select(driver.find_element(By.NAME, "status")).select_by_value("answered")
    submit(driver)
    assert "caller=repeat" in driver.current_url and "status=answered" in driver.current_url
    for badge in driver.find_elements(By.CSS_SELECTOR, "#call-log [data-caller]"):
        assert badge.get_attribute("data-caller") == "repeat"
    assert len(shown_calls(driver)) < len(found)
    # The link is the saved view: opening it again shows the same calls.
    saved, shown = driver.current_url, shown_calls(driver)
    driver.get("about:blank")
    driver.get(saved)
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "call-log")))
    assert shown_calls(driver) == shown
    # Plain words, with the technical term in the tooltip.
    badge = driver.find_element(By.CSS_SELECTOR, "#call-log [data-confidence]")
    assert badge.text == "Matched to a visit" and badge.get_attribute("title").startswith("exact:")
    # Sorting by a column header, then a page size.
    driver.find_element(By.ID, "clear-filters").click()
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "call-log")))
    driver.find_element(By.CSS_SELECTOR, 'a.sort[data-sort="source"]').click()
    WebDriverWait(driver, WAIT).until(ec.url_contains("sort=-source"))
    sources = [
        td.text.split(" /")[0]
        for td in driver.find_elements(
            By.CSS_SELECTOR, '#call-log td[data-label="Source / medium"]'
        )
    ]
    assert sources == sorted(sources, reverse=True), sources
    Select(driver.find_element(By.NAME, "per_page")).select_by_value("25")
    submit(driver)
    assert "per_page=25" in driver.current_url and "sort=-source" in driver.current_url
    save(driver, "search")


def test_the_call_log_fits_a_390_px_phone(live, seeded):
    _, user, _ = seeded
    driver = live.driver
    log_in(live, user)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        open_page(live, "/dashboard/calls", "#call-log")
        width, scroll = driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]"
        )
        assert width == 390
        wide = driver.execute_script(
            "return [...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className)"
        )
        assert scroll <= width, (scroll, wide)
        # Cards: each call's fields are labelled, the key ones visible without scrolling.
        first = driver.find_element(By.CSS_SELECTOR, "#call-log tbody tr[data-call]")
        for label in ("When", "Caller", "Outcome", "Attribution", "Source / medium"):
            cell = first.find_element(By.CSS_SELECTOR, f'td[data-label="{label}"]')
            assert cell.is_displayed()
            box = cell.rect
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (label, box)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {**PHONE, "height": min(height, 4000)}
        )
        save(driver, "phone-390")
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
