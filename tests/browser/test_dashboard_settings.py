"""Settings in real Chromium: log in, change a pool setting, create an API key.

Screenshots of the login, settings, pool and users-and-keys pages go to
``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from ringtrail.accounts import access
from ringtrail.accounts.auth import cli_principal
from ringtrail.storage.models import Pool
from tests.browser.conftest import WAIT

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery"


@pytest.fixture
def app_config(app_config):
    """Session cookies over the live server's plain http."""
    app_config["SECURE_COOKIES"] = False
    return app_config


def shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"settings-{name}.png"))


@pytest.fixture
def admin_user(live):
    setup = live.site_for(numbers=3, lease_seconds=1800)
    setup.pool.name = "Main line"
    live.db.commit()
    with live.app.test_request_context():
        from ringtrail.storage.sql import get_db

        access.create_user(
            get_db(),
            cli_principal(),
            {"email": "owner@agency.example", "role": "agency_admin", "password": PASSWORD},
            setup.agency.id,
        )
    return setup


def log_in(live, password: str = PASSWORD) -> None:
    driver = live.driver
    email = driver.find_element(By.NAME, "email")
    email.clear()  # a refused login keeps the email typed
    email.send_keys("owner@agency.example")
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def test_log_in_and_change_a_pool_setting(live, admin_user):
    driver = live.driver
    driver.get(f"{live.url}/dashboard/settings")
    WebDriverWait(driver, WAIT).until(ec.url_contains("/login"))
    shot(driver, "login")
    log_in(live, "not the password")
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".error"), "Wrong email or password")
    )
    log_in(live)
    WebDriverWait(driver, WAIT).until(ec.url_to_be(f"{live.url}/dashboard/settings"))
    assert "Main line" in driver.find_element(By.TAG_NAME, "main").text
    shot(driver, "overview")

    driver.find_element(By.LINK_TEXT, "Main line").click()
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "lease_seconds")))
    lease = driver.find_element(By.ID, "lease_seconds")
    lease.clear()
    lease.send_keys("900")
    Select(driver.find_element(By.NAME, "exhaustion_policy")).select_by_value("overflow")
    driver.find_element(By.ID, "save-pool").click()
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "Pool saved.")
    )
    assert driver.find_element(By.ID, "lease_seconds").get_attribute("value") == "900"
    shot(driver, "pool")
    live.db.expire_all()
    pool = live.db.get(Pool, admin_user.pool.id)
    assert (pool.lease_seconds, pool.exhaustion_policy) == (900, "overflow")


def test_create_an_api_key_shown_once(live, admin_user):
    driver = live.driver
    driver.get(f"{live.url}/login")
    log_in(live)
    WebDriverWait(driver, WAIT).until(ec.url_to_be(f"{live.url}/dashboard"))
    driver.get(f"{live.url}/dashboard/access")
    form = driver.find_element(By.CSS_SELECTOR, "form[action$='/dashboard/access/keys']")
    form.find_element(By.NAME, "name").send_keys("Reporting script")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    key = WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "new-key"))).text
    assert key.startswith("rt_")
    shot(driver, "access")
    driver.get(f"{live.url}/dashboard/access")
    assert key not in driver.page_source
    assert "Reporting script" in driver.page_source


def test_enrol_two_factor_and_log_in_with_a_code(live, admin_user):
    """Set up two-factor from the Account page, then log in again with a code."""
    import time

    import pyotp

    driver = live.driver
    driver.get(f"{live.url}/login")
    log_in(live)
    WebDriverWait(driver, WAIT).until(ec.url_to_be(f"{live.url}/dashboard"))
    driver.find_element(By.CSS_SELECTOR, ".who-name").click()
    WebDriverWait(driver, WAIT).until(ec.url_to_be(f"{live.url}/dashboard/account"))
    driver.find_element(By.ID, "enrol").click()
    key = (
        WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "totp-key"))).text
    )
    assert driver.find_element(By.ID, "totp-uri").text.startswith("otpauth://totp/Ringtrail:")
    shot(driver, "two-factor-key")
    totp = pyotp.TOTP(key.replace(" ", ""))
    # The previous step's code: the current one stays unused for the login below.
    driver.find_element(By.NAME, "code").send_keys(totp.at(time.time() - 30))
    driver.find_element(By.CSS_SELECTOR, "form[action$='/confirm'] button").click()
    codes = (
        WebDriverWait(driver, WAIT)
        .until(ec.presence_of_element_located((By.ID, "recovery-codes")))
        .text.split()
    )
    assert len(codes) == 10
    shot(driver, "two-factor-recovery-codes")

    driver.find_element(By.CSS_SELECTOR, ".who button").click()  # log out
    WebDriverWait(driver, WAIT).until(ec.url_contains("/login"))
    log_in(live)
    WebDriverWait(driver, WAIT).until(ec.url_contains("/login/code"))
    shot(driver, "two-factor-login")
    driver.find_element(By.NAME, "code").send_keys(totp.now())
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(ec.url_to_be(f"{live.url}/dashboard"))
    assert "Log out" in driver.find_element(By.CSS_SELECTOR, ".who").text
