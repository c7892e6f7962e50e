"""The Notifications page in real Chromium: a manager ticks what they want to hear about,
sets the client's Slack URL (never shown again), and the page fits a 390 px phone."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from ringtrail.crypto import unseal
from ringtrail.outbound import preferences
from ringtrail.storage.models import ClientNotifications, User
from tests.browser.conftest import WAIT
from tests.browser.test_dashboard_settings import ARTIFACTS, admin_user, log_in  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(app_config):
    """Session cookies over the live server's plain http."""
    app_config["SECURE_COOKIES"] = False
    return app_config


def test_choose_notifications_and_a_slack_url(live, admin_user):  # noqa: F811
    driver = live.driver
    driver.get(f"{live.url}/dashboard/notifications")
    WebDriverWait(driver, WAIT).until(ec.url_contains("/login"))
    log_in(live)
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "preferences")))
    assert "E-mail is off" in driver.find_element(By.ID, "email-state").text

    row = driver.find_element(By.ID, f"notify-{admin_user.client.id}")
    for name in ("missed_calls", "qualified_leads", "daily_summary"):
        row.find_element(By.CSS_SELECTOR, f"input[name={name}]").click()
    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "saved")
    )
    row = driver.find_element(By.ID, f"notify-{admin_user.client.id}")
    assert row.find_element(By.CSS_SELECTOR, "input[name=missed_calls]").is_selected()
    assert not row.find_element(By.CSS_SELECTOR, "input[name=new_calls]").is_selected()

    secret = "https://hooks.slack.com/services/T9/B9/browser-secret"
    form = driver.find_element(By.ID, f"client-notify-{admin_user.client.id}")
    form.find_element(By.NAME, "slack_webhook_url").send_keys(secret)
    Select(form.find_element(By.NAME, "summary_hour")).select_by_value("7")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "settings saved")
    )
    assert "browser-secret" not in driver.page_source
    live.db.expire_all()
    owner = live.db.query(User).filter_by(email="owner@agency.example").one()
    got = preferences.preferences_of(live.db, owner)[0]
    assert got["missed_calls"] and got["qualified_leads"] and got["daily_summary"]
    stored = live.db.get(ClientNotifications, admin_user.client.id)
    assert unseal(stored.slack_webhook_url) == secret and stored.summary_hour == 7

    driver.set_window_size(390, 844)
    try:
        driver.get(f"{live.url}/dashboard/notifications")
        WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "preferences")))
        width = live.js("return document.documentElement.scrollWidth")
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "notifications-phone.png"))
        assert width <= 390, width
    finally:
        driver.set_window_size(1200, 800)
