"""A first run, error pages, the time-zone picker, a pool's pages of numbers with a bulk
action, and the demo's result box, in real Chromium.

Screenshots of each page go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import select

from ringtrail.accounts import access
from ringtrail.accounts.auth import cli_principal
from ringtrail.storage.models import Agency, Client, TrackingNumber
from tests.browser.conftest import WAIT
from tests.helpers import make_site, run_jobs

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery"
EMAIL = "owner@agency.example"


@pytest.fixture
def app_config(app_config):
    """Session cookies over the live server's plain http."""
    app_config["SECURE_COOKIES"] = False
    return app_config


def shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(ARTIFACTS / f"polish-{name}.png"))


def admin_of(live, agency_id: int) -> None:
    with live.app.test_request_context():
        from ringtrail.storage.sql import get_db

        access.create_user(
            get_db(),
            cli_principal(),
            {"email": EMAIL, "role": "agency_admin", "password": PASSWORD},
            agency_id,
        )


def log_in(live) -> None:
    driver = live.driver
    driver.get(f"{live.url}/login")
    driver.find_element(By.NAME, "email").send_keys(EMAIL)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(ec.url_to_be(f"{live.url}/dashboard"))


def step_states(driver) -> dict[str, str]:
    return {
        li.get_attribute("data-step"): li.get_attribute("data-done")
        for li in driver.find_elements(By.CSS_SELECTOR, "#first-run li.step")
    }


def test_the_checklist_leads_to_the_first_client_through_the_time_zone_picker(live):
    agency = Agency(name="Fresh agency")
    live.db.add(agency)
    live.db.commit()
    admin_of(live, agency.id)
    log_in(live)
    driver = live.driver
    assert set(step_states(driver).values()) == {"false"}
    assert driver.find_element(By.ID, "first-run-progress").text == "0 of 6 steps done"
    shot(driver, "first-run-empty")

    # The client step's link opens the form it names.
    step = driver.find_element(By.CSS_SELECTOR, '#first-run li[data-step="client"]')
    step.find_element(By.LINK_TEXT, "Add a client").click()
    WebDriverWait(driver, WAIT).until(ec.url_contains("/dashboard/settings#add-client"))
    form = driver.find_element(By.ID, "add-client-form")
    zone = form.find_element(By.NAME, "timezone")
    assert zone.get_attribute("list") == "zone-list"
    options = driver.execute_script(
        "return Array.from(document.querySelectorAll('#zone-list option'))"
        ".map(o => [o.value, o.label]);"
    )
    labels = dict(options)
    assert labels["America/Chicago"].startswith("America · Chicago (UTC")
    assert labels["Europe/London"].startswith("Europe · London (UTC")
    form.find_element(By.NAME, "name").send_keys("Windy City Plumbing")
    form.find_element(By.NAME, "business_number").send_keys("+1 312 555 0100")
    zone.clear()
    zone.send_keys("Chicago")
    shot(driver, "timezone-picker")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "created")
    )
    # The client page shows the zone as stored: the city resolved to its zone.
    assert driver.find_element(By.NAME, "timezone").get_attribute("value") == "America/Chicago"
    created = live.db.scalar(select(Client).where(Client.name == "Windy City Plumbing"))
    assert created.timezone == "America/Chicago"

    driver.get(f"{live.url}/dashboard")
    states = step_states(driver)
    assert states["client"] == "true" and states["site"] == "false"
    assert driver.find_element(By.ID, "first-run-progress").text == "1 of 6 steps done"
    next_step = driver.find_element(By.CSS_SELECTOR, "#first-run li.step.next")
    assert next_step.get_attribute("data-step") == "carrier"
    shot(driver, "first-run-one-done")


def test_a_misspelt_zone_comes_back_with_a_suggestion_and_what_was_typed(live):
    setup = make_site(live.db)
    admin_of(live, setup.agency.id)
    log_in(live)
    driver = live.driver
    driver.get(f"{live.url}/dashboard/settings")
    form = driver.find_element(By.ID, "add-client-form")
    form.find_element(By.NAME, "name").send_keys("Typo Plumbing")
    form.find_element(By.NAME, "business_number").send_keys("+1 312 555 0100")
    zone = form.find_element(By.NAME, "timezone")
    zone.clear()
    zone.send_keys("Chicgo")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash-error"), "America/Chicago?")
    )
    form = driver.find_element(By.ID, "add-client-form")
    assert form.find_element(By.NAME, "name").get_attribute("value") == "Typo Plumbing"
    assert form.find_element(By.NAME, "timezone").get_attribute("value") == "Chicgo"
    shot(driver, "form-kept")


def test_error_pages_are_the_apps_own(live):
    setup = make_site(live.db)
    admin_of(live, setup.agency.id)
    log_in(live)
    driver = live.driver
    driver.get(f"{live.url}/dashboard/no-such-page")
    heading = WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.TAG_NAME, "h1")))
    assert heading.text == "Page not found"
    assert driver.find_element(By.CSS_SELECTOR, ".topbar .brand").is_displayed()
    assert driver.find_element(By.LINK_TEXT, "Go to the overview").is_displayed()
    # Styled: the card has the app's white background and rounded corners.
    style = driver.execute_script(
        "var s = getComputedStyle(document.querySelector('.error-page'));"
        "return [s.backgroundColor, s.borderTopLeftRadius];"
    )
    assert style == ["rgb(255, 255, 255)", "10px"]
    icon = driver.execute_script(
        "return fetch('/favicon.ico').then(r => [r.status, r.headers.get('content-type')]);"
    )
    assert icon == [200, "image/svg+xml"]
    shot(driver, "404")


def test_a_pools_numbers_in_pages_with_a_bulk_action(live):
    setup = make_site(live.db, numbers=120)
    admin_of(live, setup.agency.id)
    log_in(live)
    driver = live.driver
    driver.get(f"{live.url}/dashboard/settings/pools/{setup.pool.id}")
    boxes = driver.find_elements(By.CSS_SELECTOR, "#numbers-table input.choose")
    assert len(boxes) == 50
    assert driver.find_element(By.ID, "numbers-range").text.startswith("Showing 1–50 of 120")
    driver.find_element(By.ID, "next-page").click()
    WebDriverWait(driver, WAIT).until(ec.url_contains("page=2"))
    assert driver.find_element(By.ID, "numbers-range").text.startswith("Showing 51–100 of 120")

    boxes = driver.find_elements(By.CSS_SELECTOR, "#numbers-table input.choose")
    chosen = [b.get_attribute("value") for b in boxes[:3]]
    for box in boxes[:3]:
        box.click()
    assert driver.find_element(By.ID, "bulk-count").text == "3"
    Select(driver.find_element(By.ID, "bulk-action")).select_by_value("deactivate")
    shot(driver, "pool-bulk")
    driver.find_element(By.ID, "bulk-apply").click()
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "Changed 3 numbers")
    )
    assert "page=2" in driver.current_url  # back on the page the numbers were chosen on
    live.db.expire_all()
    inactive = live.db.scalars(
        select(TrackingNumber.id).where(
            TrackingNumber.pool_id == setup.pool.id, TrackingNumber.active.is_(False)
        )
    ).all()
    assert sorted(map(str, inactive)) == sorted(chosen)

    # "Choose all" ticks the page's 50, and the count follows.
    driver.find_element(By.ID, "choose-all").click()
    assert driver.find_element(By.ID, "bulk-count").text == "50"


@pytest.fixture
def demo(live):
    """The demo's pages on this app, as ``create_demo_app`` mounts them."""
    from ringtrail.demo import seed_demo
    from ringtrail.demo.pages import bp as demo_bp
    from ringtrail.web.login import exempt_from_csrf

    exempt_from_csrf(demo_bp)
    live.app.register_blueprint(demo_bp)
    return seed_demo(live.db, live.url)


CALL_WAIT = 30.0  # seconds: the demo's call goes through three webhooks before it answers


def wait_text(driver, element_id: str, text: str, timeout: float = WAIT) -> str:
    WebDriverWait(driver, timeout).until(
        ec.text_to_be_present_in_element((By.ID, element_id), text),
        message=f"#{element_id} never said {text!r}",
    )
    return driver.find_element(By.ID, element_id).text


def test_the_demo_result_box_speaks_in_words_and_is_not_swapped(live, demo):
    driver = live.driver
    driver.get(f"{live.url}/demo")
    # A visitor: the page's number is swapped to a tracking number.
    WebDriverWait(driver, WAIT).until(
        lambda d: (
            d.find_element(By.ID, "phone").text != "(415) 555-0100"
            and d.find_element(By.ID, "phone").get_attribute("href") != "tel:+14155550100"
        )
    )
    status = wait_text(driver, "visitor-status", "This browser is a visitor")
    assert "leased a tracking number of its own" in status
    shown = driver.find_element(By.ID, "phone").text
    href = driver.find_element(By.ID, "phone").get_attribute("href")
    leased = live.wait_calls("session")[0]["answer"]
    driver.find_element(By.ID, "call").click()
    try:  # three signed webhooks to this server first: slow on a busy machine
        wait_text(driver, "result-words", "Waiting for the call record", timeout=CALL_WAIT)
    except Exception:
        said = driver.find_element(By.ID, "result-words").text
        raise AssertionError(f"{said!r}; href {href}; leased {leased}") from None
    assert run_jobs(live.app) == 3
    words = wait_text(driver, "result-words", "It was matched to this visit")
    # The business number in the box stays as the server said it: the box is not swapped.
    assert f"to {shown} would ring (415) 555-0100, Demo Plumbing's business number." in words
    assert "source (direct) / (none)" in words and "landing page http" in words
    assert re.search(r"\b1 page viewed\.", words)
    twiml = driver.find_element(By.CSS_SELECTOR, "#result-twiml pre").get_attribute("textContent")
    assert "<Number>+14155550100</Number>" in twiml  # what the server answered, unswapped
    shot(driver, "demo-visitor")


def test_the_demo_says_a_headless_browser_was_treated_as_a_bot(live, demo):
    live.app.config["HEADLESS_IS_BOT"] = True  # the default outside these tests
    driver = live.driver
    driver.get(f"{live.url}/demo")
    status = wait_text(driver, "visitor-status", "treated as a bot")
    assert "its user agent says it is a headless browser" in status
    assert "source-level number" in status
    assert driver.find_element(By.ID, "visitor-status").get_attribute("data-why") == "bot"
    shot(driver, "demo-bot")
