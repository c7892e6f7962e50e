"""Report pages in real Chromium: log in, read each report, download a CSV, stored XSS.

Screenshots of each main page go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from ringtrail.reports.sizing import recommend
from ringtrail.storage.models import DailyVisits, PoolHour
from tests.browser.conftest import WAIT
from tests.helpers import add_call, make_user

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery"
# Each payload would set window.__pwned (or raise an alert) if it ever ran.
PAYLOADS = {
    "landing_url": "javascript:window.__pwned=1;alert(1)//",
    "referrer": "javascript:alert(document.domain)",
    "campaign": "<script>window.__pwned=1;alert(1)</script>",
    "term": '<img src=x onerror="window.__pwned=1;alert(1)">',
    "content": '"><svg onload="window.__pwned=1">',
    "landing_title": "</title><script>window.__pwned=1</script>",
    "pages": [[0, "/<script>window.__pwned=1</script>"], [5, "javascript:window.__pwned=1"]],
    "click_ids": {"gclid": "<script>window.__pwned=1</script>"},
}


@pytest.fixture
def app_config(app_config):
    """Session cookies over the live server's plain http."""
    app_config["SECURE_COOKIES"] = False
    return app_config


@pytest.fixture
def seeded(live):
    """An agency with one client, a month of calls (one hostile), visits and pool load."""
    setup = live.site_for(numbers=4, lease_seconds=600)
    setup.client.name = "Acme Plumbing"
    setup.client.timezone = "America/Chicago"
    db = live.db
    now = datetime.now(UTC).replace(microsecond=0)
    for i in range(12):
        add_call(
            db,
            setup,
            now - timedelta(days=i % 6, hours=1 + i),
            caller=f"+1312555{i % 5:04d}",
            source=("google", "bing", "facebook")[i % 3],
            medium=("cpc", "organic", "social")[i % 3],
            answered=i % 4 != 0,
            talk=30 + i * 10,
            visit={
                "landing_url": f"https://shop.example/offer-{i % 2}",
                "referrer": "https://www.google.com/",
                "campaign": "Spring",
                "pages": [[0, f"/offer-{i % 2}"], [30, "/contact"]],
            },
        )
    hostile = add_call(
        db,
        setup,
        now - timedelta(minutes=30),
        source="<script>window.__pwned=1</script>",
        medium="javascript:alert(1)",
        visit=dict(PAYLOADS),
    )
    db.add(
        DailyVisits(
            site_id=setup.site.id, day=now.date(), source="google", medium="cpc", visits=120
        )
    )
    db.add(
        PoolHour(
            pool_id=setup.pool.id,
            hour=now.replace(minute=0, second=0) - timedelta(hours=2),
            new_leases=40,
            exhausted=5,
            peak_leases=4,
            held_seconds=40 * 600,
            ended_leases=40,
        )
    )
    db.commit()
    user = make_user(db, setup, "agency_admin")
    return setup, user, hostile


def log_in(live, user) -> None:
    driver = live.driver
    driver.get(f"{live.url}/dashboard")
    WebDriverWait(driver, WAIT).until(ec.url_contains("/login"))
    driver.find_element(By.NAME, "email").send_keys(user.email)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(
        ec.presence_of_element_located((By.ID, "kpi-calls")),
        message=f"login did not reach the overview: {driver.current_url}",
    )


def shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1200, min(max(800, height), 4000))
    try:
        assert driver.save_screenshot(str(ARTIFACTS / f"reports-{name}.png"))
    finally:
        driver.set_window_size(1200, 800)


def open_page(live, path: str, ready: str) -> None:
    live.driver.get(live.url + path)
    WebDriverWait(live.driver, WAIT).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ready)),
        message=f"{path} did not show {ready}",
    )


def text_of(driver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).text


def test_log_in_and_read_each_report(live, seeded):
    setup, user, _ = seeded
    driver = live.driver
    log_in(live, user)
    assert text_of(driver, "#kpi-calls") == "13"
    assert "Acme Plumbing" in text_of(driver, "#overview")
    shot(driver, "overview")

    driver.find_element(By.LINK_TEXT, "Acme Plumbing").click()
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "chart-days")))
    assert len(driver.find_elements(By.CSS_SELECTOR, "#chart-sources li")) == 4
    rows = driver.find_elements(By.CSS_SELECTOR, "#source-report tbody tr")
    assert rows[0].find_elements(By.TAG_NAME, "td")[0].text in ("google", "bing", "facebook")
    total = driver.find_elements(By.CSS_SELECTOR, "#source-report tfoot td")
    assert [total[0].text, total[1].text] == ["13", "6"]  # calls, unique callers
    shot(driver, "client")
    driver.find_element(By.LINK_TEXT, "Landing page").click()
    WebDriverWait(driver, WAIT).until(ec.url_contains("dimension=landing_page"))
    assert "/offer-0" in text_of(driver, "#source-report")

    open_page(live, "/dashboard/calls", "#call-log")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#call-log tbody tr")) == 13
    shot(driver, "calls")
    driver.find_element(By.CSS_SELECTOR, "#call-log tbody tr:nth-child(2) td a").click()
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "pages")))
    assert "/contact" in text_of(driver, "#pages")
    shot(driver, "call")

    open_page(live, "/dashboard/pools", "#overflow")
    # 45 visitors wanting a number in the busiest hour, 10 minutes each, then an hour's
    # rest before the next visitor: 52.5 Erlangs.
    assert text_of(driver, '[data-metric="recommended"]') == str(recommend(45, 600 + 3600))
    # The sizing's workings are one click away: hidden until "How this is worked out".
    rest = driver.find_element(By.CSS_SELECTOR, '[data-metric="rest-cost"]')
    assert not rest.is_displayed()
    driver.find_element(By.CSS_SELECTOR, "details.rp-why summary").click()
    assert rest.is_displayed() and rest.text == str(recommend(45, 4200) - 15)
    assert text_of(driver, '[data-metric="advice"]').startswith("Add ")
    shot(driver, "pools")
    Select(driver.find_element(By.ID, "overflow")).select_by_visible_text("95 % of calls")
    driver.find_element(By.CSS_SELECTOR, ".rp-filters button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(ec.url_contains("overflow=0.05"))
    assert text_of(driver, '[data-metric="recommended"]') == str(recommend(45, 4200, 0.05))

    open_page(live, "/dashboard/embed", "textarea.rp-snippet")
    snippet = driver.find_element(By.CSS_SELECTOR, "textarea.rp-snippet").get_attribute("value")
    assert snippet == f'<script async src="{live.url}/s/{setup.site_key}.js"></script>'
    copy = driver.find_element(By.CSS_SELECTOR, "[data-copy]")
    assert copy.is_displayed()  # reports.js ran and showed the button
    shot(driver, "embed")
    assert_no_page_errors_here(live)


def assert_no_page_errors_here(live) -> None:
    """The dashboard pages have no error recorder of their own; Chromium's log is the witness."""
    errors = [
        e["message"]
        for e in live.logs()
        if e.get("source") == "javascript" or "Uncaught" in e.get("message", "")
    ]
    assert not errors, errors


def test_download_the_calls_csv(live, seeded, tmp_path):
    _, user, _ = seeded
    driver = live.driver
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    try:
        log_in(live, user)
        open_page(live, "/dashboard/calls", "#csv-calls")
        driver.find_element(By.ID, "csv-calls").click()
        deadline = time.monotonic() + WAIT
        done: list[Path] = []
        while not done:
            done = [p for p in tmp_path.glob("*.csv")]
            assert time.monotonic() < deadline, f"no CSV downloaded: {list(tmp_path.iterdir())}"
            time.sleep(0.05)
        # Chromium writes to a .crdownload file and renames it when complete.
        text = done[0].read_text(encoding="utf-8-sig")
    finally:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "default"})
    assert done[0].name.startswith("ringtrail-calls-")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 13
    hostile = next(r for r in rows if r["campaign"].startswith("<script>"))
    assert hostile["caller"] == '="+12125550143"'  # a strictly E.164 number as text
    assert hostile["source"] == "<script>window.__pwned=1</script>"
    assert hostile["landing url"] == PAYLOADS["landing_url"]
    for row in rows:
        for name, cell in row.items():
            if name in ("caller", "tracking number"):
                assert re.fullmatch(r'(="\+[0-9]{2,15}")?', cell), cell
            else:
                assert not cell.lstrip().startswith(("=", "+", "-", "@")), cell


def test_stored_script_and_javascript_urls_never_run(live, seeded):
    setup, user, hostile = seeded
    driver = live.driver
    log_in(live, user)
    pages = [
        ("/dashboard", "#overview"),
        (f"/dashboard/clients/{setup.client.id}", "#source-report"),
        (f"/dashboard/clients/{setup.client.id}?dimension=campaign", "#source-report"),
        (f"/dashboard/clients/{setup.client.id}?dimension=keyword", "#source-report"),
        (f"/dashboard/clients/{setup.client.id}?dimension=landing_page", "#source-report"),
        (f"/dashboard/clients/{setup.client.id}?dimension=referrer_domain", "#source-report"),
        (f"/dashboard/clients/{setup.client.id}?dimension=source_medium", "#source-report"),
        ("/dashboard/calls", "#call-log"),
        (f"/dashboard/calls/{hostile.id}", "#visit"),
        ("/dashboard/pools", "#overflow"),
        ("/dashboard/embed", "textarea"),
    ]
    for path, ready in pages:
        open_page(live, path, ready)
        try:
            alert = driver.switch_to.alert
            text = alert.text
            alert.dismiss()
            pytest.fail(f"{path}: an alert ran ({text!r})")
        except NoAlertPresentException:
            pass
        state = live.js(
            """
            var links = Array.prototype.map.call(document.querySelectorAll('a[href]'),
              function (a) { return a.href; });
            return {
              pwned: typeof window.__pwned,
              js_links: links.filter(function (h) { return /^\\s*javascript:/i.test(h); }),
              scripts: Array.prototype.map.call(document.scripts,
                function (s) { return s.src || s.textContent.slice(0, 60); }),
              handlers: document.querySelectorAll('[onerror],[onload],[onclick]').length,
              imgs: document.images.length
            };
            """
        )
        assert state["pwned"] == "undefined", path
        assert state["js_links"] == [], path
        assert state["handlers"] == 0 and state["imgs"] == 0, (path, state)
        assert all(s.startswith(live.url + "/static/") for s in state["scripts"]), state
    # The payloads are on the page, as text a person can read.
    open_page(live, f"/dashboard/calls/{hostile.id}", "#visit")
    visit = text_of(driver, "#visit")
    assert PAYLOADS["campaign"] in visit and PAYLOADS["landing_url"] in visit
    assert "/<script>window.__pwned=1</script>" in text_of(driver, "#pages")
    shot(driver, "call-hostile")
    assert_no_page_errors_here(live)
