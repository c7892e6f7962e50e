"""Periods and comparison in real Chromium: presets, custom dates, the comparison on the
cards, in the rows and drawn on the chart, readable chart text, and drill-down links.

Screenshots of the overview and the source report go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from ringtrail.reports.periods import preset
from ringtrail.reports.queries import zone
from ringtrail.storage.models import DailyVisits
from tests.browser.conftest import WAIT
from tests.browser.test_reports_browser import (
    ARTIFACTS,
    assert_no_page_errors_here,
    log_in,
    shot,
)
from tests.helpers import add_call, make_user

pytestmark = pytest.mark.browser
CHICAGO = "America/Chicago"


@pytest.fixture
def app_config(app_config):
    app_config["SECURE_COOKIES"] = False
    return app_config


@pytest.fixture
def seeded(live):
    """A Chicago client: 17 calls in the last 7 days, 6 in the 7 days before, visits."""
    setup = live.site_for(numbers=4, lease_seconds=600)
    setup.client.name = "Acme Plumbing"
    setup.client.timezone = CHICAGO
    db = live.db
    week = preset("last_7_days", zone(CHICAGO))
    sources = (("google", "cpc", "Spring sale"), ("bing", "cpc", ""), ("facebook", "social", ""))
    for i in range(23):
        day = week.days()[i % 7] if i < 17 else week.start - timedelta(days=1 + i % 7)
        source, medium, campaign = sources[i % 3]
        noon = datetime.combine(day, time(12), zone(CHICAGO)).astimezone(UTC)
        add_call(
            db,
            setup,
            min(noon, datetime.now(UTC) - timedelta(minutes=5)),
            caller=f"+1312555{i:04d}",
            source=source,
            medium=medium,
            answered=i % 4 != 0,
            visit={"landing_url": f"https://shop.example/offer-{i % 2}", "campaign": campaign},
        )
    db.add(
        DailyVisits(
            site_id=setup.site.id,
            day=week.end,
            source="google",
            medium="cpc",
            campaign="Spring sale",
            landing_page="/offer-0",
            dims="x",
            visits=60,
        )
    )
    db.commit()
    return setup, make_user(db, setup, "agency_admin")


def wait_url(driver, *parts: str) -> None:
    for part in parts:
        WebDriverWait(driver, WAIT).until(
            ec.url_contains(part), message=f"{part} not in {driver.current_url}"
        )


def test_presets_comparison_and_readable_charts(live, seeded):
    setup, user = seeded
    driver = live.driver
    log_in(live, user)
    driver.get(f"{live.url}/dashboard/clients/{setup.client.id}")
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "preset")))
    assert Select(driver.find_element(By.ID, "preset")).first_selected_option.text == "Last 30 days"

    # Choosing a preset applies it at once (reports.js), in the client's days.
    Select(driver.find_element(By.ID, "preset")).select_by_visible_text("Last 7 days")
    wait_url(driver, "preset=last_7_days")
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "kpi-calls")))
    assert driver.find_element(By.ID, "kpi-calls").text == "17"
    Select(driver.find_element(By.ID, "compare")).select_by_visible_text("Previous period")
    wait_url(driver, "compare=previous")
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "compare-line")))
    week = preset("last_7_days", zone(CHICAGO))
    before = week.start - timedelta(days=7)
    assert before.strftime("%-d %b %Y") in driver.find_element(By.ID, "compare-label").text

    # The change is on every card that has one, and in the rows and the total.
    cards = driver.find_element(By.ID, "cards")
    calls_card = cards.find_element(By.XPATH, ".//*[@id='kpi-calls']/..")
    assert calls_card.find_element(By.CSS_SELECTOR, ".rp-delta").text == "+183 %"  # 17 vs 6
    assert len(cards.find_elements(By.CSS_SELECTOR, ".rp-delta")) >= 4
    total = driver.find_element(By.CSS_SELECTOR, "#source-report tfoot")
    assert "+183 %" in total.text
    rows = driver.find_elements(By.CSS_SELECTOR, "#source-report tbody tr")
    assert all(r.find_elements(By.CSS_SELECTOR, ".rp-delta") for r in rows)
    legend = driver.find_element(By.ID, "legend-days").text
    assert "in the period before (6)" in legend

    # Chart text is HTML at a readable size, with round tick values.
    ticks = driver.find_elements(By.CSS_SELECTOR, "#chart-days .rp-yaxis span")
    values = [int(t.text) for t in ticks]
    steps = {b - a for a, b in zip(values, values[1:], strict=False)}
    assert values[0] == 0 and len(steps) == 1, values
    (step,) = steps
    assert step / 10 ** math.floor(math.log10(step)) in (1, 2, 5), values
    for selector in ("#chart-days .rp-yaxis span", "#chart-days .rp-xaxis span", "#legend-days"):
        for element in driver.find_elements(By.CSS_SELECTOR, selector)[:3]:
            size = live.js("return getComputedStyle(arguments[0]).fontSize", element)
            assert float(size.removesuffix("px")) >= 12, (selector, size)
    shot(driver, "source-report-compared")

    # A year earlier, then custom dates: editing a date switches the preset to Custom.
    Select(driver.find_element(By.ID, "compare")).select_by_visible_text("Same period last year")
    wait_url(driver, "compare=last_year")
    field = driver.find_element(By.NAME, "from")
    live.js(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        field,
        week.end.isoformat(),
    )
    assert Select(driver.find_element(By.ID, "preset")).first_selected_option.text == "Custom"
    driver.find_element(By.CSS_SELECTOR, ".rp-period button[type=submit]").click()
    wait_url(driver, "preset=custom")
    label = driver.find_element(By.ID, "period-label").text
    assert week.end.strftime("%-d %b %Y") in label and "Compared with" in label

    # Rows link to the call log with the row's filter; "(not set)" as __none__.
    driver.get(
        f"{live.url}/dashboard/clients/{setup.client.id}?preset=last_7_days&dimension=campaign"
    )
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "source-report")))
    links = {
        a.text: a.get_attribute("href")
        for a in driver.find_elements(By.CSS_SELECTOR, "#source-report a.drill-label")
    }
    assert set(links) == {"Spring sale", "(not set)"}
    assert parse_qs(urlsplit(links["(not set)"]).query)["campaign"] == ["__none__"]
    spring = parse_qs(urlsplit(links["Spring sale"]).query)
    assert spring["campaign"] == ["Spring sale"] and spring["from"] == [week.start.isoformat()]
    conversion = driver.find_element(By.CSS_SELECTOR, "#source-report tbody").text
    assert re.search(r"Spring sale.*\n?.*of 60", conversion), conversion
    shot(driver, "source-report-campaign")

    # On a 390 px phone the chart text keeps its size and the page does not scroll sideways.
    driver.get(
        f"{live.url}/dashboard/clients/{setup.client.id}?preset=last_7_days&compare=previous"
    )
    driver.set_window_size(390, 844)
    try:
        WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "chart-days")))
        width = live.js("return document.documentElement.scrollWidth")
        assert width <= 390, width
        tick = driver.find_element(By.CSS_SELECTOR, "#chart-days .rp-xaxis span")
        assert float(live.js("return getComputedStyle(arguments[0]).fontSize", tick)[:-2]) >= 12
        driver.save_screenshot(str(ARTIFACTS / "reports-client-phone.png"))
    finally:
        driver.set_window_size(1200, 800)
    assert_no_page_errors_here(live)


def test_overview_presets_and_comparison(live, seeded):
    _, user = seeded
    driver = live.driver
    log_in(live, user)
    driver.get(f"{live.url}/dashboard?preset=last_7_days&compare=previous")
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "compare-label")))
    assert driver.find_element(By.ID, "kpi-calls").text == "17"
    card = driver.find_element(By.XPATH, "//*[@id='kpi-calls']/..")
    assert card.find_element(By.CSS_SELECTOR, ".rp-delta").text == "+183 %"
    row = driver.find_element(By.CSS_SELECTOR, "#overview tbody tr")
    assert "+183 %" in row.text
    # The client link keeps the preset and the comparison.
    href = row.find_element(By.LINK_TEXT, "Acme Plumbing").get_attribute("href")
    assert "preset=last_7_days" in href and "compare=previous" in href
    Select(driver.find_element(By.ID, "preset")).select_by_visible_text("Yesterday")
    wait_url(driver, "preset=yesterday")
    shot(driver, "overview-compared")
    assert_no_page_errors_here(live)
