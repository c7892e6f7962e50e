"""The Twilio account in real Chromium: an agency admin connects the account, searches
numbers for sale, buys one into a pool and finds it on the pool's page; the carrier's
refusal on the way is shown as its reason. Against the local Twilio stand-in."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from ringtrail.accounts import access
from ringtrail.accounts.auth import cli_principal
from tests.browser.conftest import WAIT
from tests.browser.test_dashboard_settings import PASSWORD, log_in, shot

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(app_config, stand_in):
    app_config["SECURE_COOKIES"] = False
    return app_config


@pytest.fixture
def admin(live):
    setup = live.site_for(numbers=1)
    setup.pool.name = "Main line"
    setup.agency.twilio_account_sid = None
    setup.agency.twilio_auth_token = None
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


def test_connect_search_buy_and_see_it_in_the_pool(live, admin, stand_in):
    driver = live.driver
    account, token = stand_in.add_account()
    stand_in.offer("+14155550101", "+14155550102", "+16505550103")
    driver.get(f"{live.url}/login")
    log_in(live)
    WebDriverWait(driver, WAIT).until(ec.url_to_be(f"{live.url}/dashboard"))
    banner = driver.find_element(By.ID, "carrier-banner")
    assert "refused as unsigned" in banner.text
    banner.find_element(By.LINK_TEXT, "Connect the Twilio account").click()
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "connect-form")))

    def connect(with_token: str) -> None:
        form = driver.find_element(By.ID, "connect-form")
        sid = form.find_element(By.NAME, "account_sid")
        sid.clear()  # a refused form keeps the account typed (never the token)
        sid.send_keys(account)
        assert form.find_element(By.NAME, "auth_token").get_attribute("value") == ""
        form.find_element(By.NAME, "auth_token").send_keys(with_token)
        form.find_element(By.ID, "connect").click()

    connect("0" * 32)  # a wrong token: Twilio's refusal, on the page
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element(
            (By.CSS_SELECTOR, ".flash-error"), "Twilio refused the credentials (401)"
        )
    )
    kept = driver.find_element(By.CSS_SELECTOR, "#connect-form [name=account_sid]")
    assert kept.get_attribute("value") == account
    connect(token)
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "Twilio account connected.")
    )
    assert driver.find_element(By.ID, "carrier-sid").text == account
    assert driver.find_element(By.ID, "carrier-token").text == "••••" + token[-4:]
    assert token not in driver.page_source
    assert not driver.find_elements(By.ID, "carrier-banner")
    shot(driver, "carrier")

    search = driver.find_element(By.ID, "search-form")
    search.find_element(By.NAME, "area_code").send_keys("415")
    search.find_element(By.ID, "search").click()
    buy = WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "buy-form")))
    assert "+14155550101" in buy.text and "+16505550103" not in buy.text
    buy.find_element(By.CSS_SELECTOR, "input[value='+14155550102']").click()
    Select(buy.find_element(By.NAME, "pool_id")).select_by_value(str(admin.pool.id))
    buy.find_element(By.ID, "buy").click()

    WebDriverWait(driver, WAIT).until(
        ec.url_to_be(f"{live.url}/dashboard/settings/pools/{admin.pool.id}")
    )
    assert (
        "Bought +14155550102 into this pool." in driver.find_element(By.CSS_SELECTOR, ".flash").text
    )
    numbers = driver.find_element(By.XPATH, "//h2[starts-with(., 'Numbers')]/..").text
    assert "+14155550102" in numbers
    shot(driver, "carrier-bought")
    bought = stand_in.owned(account)["+14155550102"]
    assert bought["voice_url"] == f"{live.url}/telephony/twilio/voice"
    assert bought["voice_fallback_url"] == f"{live.url}/telephony/twilio/fallback"
