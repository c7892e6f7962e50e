"""Ad platform uploads in Chromium: the snippet sends GA4's ids only with consent and
never with GPC; and the whole chain, from a page with a gclid to exactly one event at
the Google stand-in."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ringtrail.accounts import automation
from ringtrail.accounts.auth import cli_principal
from ringtrail.outbound.platforms import destinations
from ringtrail.storage.models import AdUpload, Call, VisitSnapshot
from tests.browser.conftest import assert_no_page_errors, assert_swapped
from tests.helpers import call_params, run_jobs, twilio_post
from tests.standins.google import start_google

pytestmark = pytest.mark.browser

SWAPPED = {"#phone": "(628) 200-0000"}
GA_COOKIES = {"_ga": "GA1.1.1111111111.1733000000", "_ga_TEST123": "GS2.1.s1733000555$o1$g1"}


@pytest.fixture
def google():
    state, server = start_google()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_config(app_config, google):
    return app_config | {
        "SECURE_COOKIES": False,  # session cookies over the live server's plain http
        "GOOGLE_DATAMANAGER_URL": google.url,
        "GOOGLE_TOKEN_URL": google.url + "/token",
        "GOOGLE_ANALYTICS_URL": google.url,
    }


def with_ga4(live, google, **site):
    setup = live.site_for(numbers=1, **site)
    google.ga4_secrets["G-BROWSER1"] = "browser-secret"
    destinations.connect(
        live.db,
        setup.client,
        "ga4",
        {"measurement_id": "G-BROWSER1", "api_secret": "browser-secret"},
    )
    live.db.commit()
    # GA's own cookies, as gtag.js would have set them on this origin.
    live.driver.get(f"{live.url}/no-such-page")
    for name, value in GA_COOKIES.items():
        live.driver.add_cookie({"name": name, "value": value, "path": "/"})
    return setup


def test_with_consent_the_snippet_sends_ga4s_ids_and_the_visit_keeps_them(live, google):
    with_ga4(live, google, consent_mode="required")
    live.open("privacy")
    (first,) = live.wait_calls("session")
    assert first["body"]["consent"] is False and not first["body"].get("ga")
    live.js("ringtrail('consent', true)")
    _, second = live.wait_calls("session", 2)
    assert second["body"]["consent"] is True
    assert sorted(second["body"]["ga"]) == sorted(f"{k}={v}" for k, v in GA_COOKIES.items())
    assert_swapped(live.driver, SWAPPED)
    from ringtrail.tracking.visits import get_visits

    with live.app.app_context():
        visit = get_visits().get(second["answer"]["session"])
    assert visit.ga4 == {"cid": "1111111111.1733000000", "sid": "1733000555"}
    assert visit.consent == "granted"
    assert_no_page_errors(live)


def test_without_consent_nothing_of_ga4_is_sent(live, google):
    with_ga4(live, google)  # "auto": a lease, but no consent was given
    live.open("privacy")
    (call,) = live.wait_calls("session")
    assert call["answer"]["session"] and not call["body"].get("ga")
    assert_no_page_errors(live)


def test_with_gpc_nothing_of_ga4_is_sent_even_with_consent(live, google):
    with_ga4(live, google, consent_mode="required")
    live.app.config["RT_PAGE"]["signal"] = "gpc"
    live.open("privacy")
    live.wait_calls("session")
    live.js("ringtrail('consent', true)")
    calls = live.wait_calls("session", 2)
    assert all(not c["body"].get("ga") for c in calls)
    assert all(c["answer"]["session"] is None for c in calls)
    assert_no_page_errors(live)


LANDING = "privacy.html?utm_source=google&utm_medium=cpc&gclid=EAIaIQ-chain-click"


def test_a_qualified_call_from_a_gclid_visit_reaches_google_exactly_once(live, google):
    setup = live.site_for(numbers=1, consent_mode="required")
    google.refresh_tokens.add("1//chain")
    destinations.connect(
        live.db,
        setup.client,
        "google_ads",
        {
            "account_id": "1112223333",
            "conversion_action_id": "444",
            "oauth_client_id": "chain.apps.googleusercontent.com",
            "oauth_client_secret": "chain-secret",
            "refresh_token": "1//chain",
            "lead_statuses": ["qualified"],
            "min_duration_seconds": None,
        },
    )
    automation.create_rule(
        live.db,
        cli_principal(),
        setup.client,
        {"actions": [{"kind": "set_lead_status", "lead_status": "qualified"}]},
    )
    live.db.commit()

    live.driver.get(f"{live.url}/pages/{LANDING}")
    live.wait_calls("session")
    live.js("ringtrail('consent', true)")
    live.wait_calls("session", 2)
    assert_swapped(live.driver, SWAPPED)
    dialled = setup.numbers[0]  # the one number, shown as (628) 200-0000

    client = live.app.test_client()
    params = call_params(setup, to=dialled)
    voice, status = "/telephony/twilio/voice", "/telephony/twilio/status"
    assert (
        twilio_post(client, voice, params, setup.token, signed_url=live.url + voice).status_code
        == 200
    )
    done = dict(params, CallStatus="completed", CallDuration="95")
    assert (
        twilio_post(client, status, done, setup.token, signed_url=live.url + status).status_code
        == 204
    )
    for _ in range(3):  # the call's jobs, then the upload job they queue (and nothing more)
        run_jobs(live.app)

    live.db.expire_all()
    call = live.db.scalar(select(Call).where(Call.call_sid == params["CallSid"]))
    assert call.lead_status == "qualified" and call.confidence == "exact"
    snap = live.db.get(VisitSnapshot, call.visit_id)
    assert snap.consent == "granted"
    (event,) = google.events()
    assert event["adIdentifiers"] == {"gclid": "EAIaIQ-chain-click"}
    assert event["consent"] == {
        "adUserData": "CONSENT_GRANTED",
        "adPersonalization": "CONSENT_GRANTED",
    }
    assert event["transactionId"] == params["CallSid"]
    row = live.db.scalar(select(AdUpload).where(AdUpload.call_id == call.id))
    assert row.status == "accepted"
    assert_no_page_errors(live)


def test_a_manager_connects_ga4_in_the_dashboard_and_sees_a_calls_upload(live, google):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from ringtrail.accounts import access
    from ringtrail.outbound.platforms import send
    from tests.browser.conftest import WAIT
    from tests.helpers import add_call

    setup = live.site_for(numbers=1)
    google.ga4_secrets["G-DASHBRD1"] = "dash-secret"
    manager = {"email": "m@client.example", "role": "client_manager"}
    manager |= {"password": "correct horse battery", "client_id": setup.client.id}
    with live.app.test_request_context():
        access.create_user(live.db, cli_principal(), manager, setup.agency.id)
    driver = live.driver
    page = f"{live.url}/dashboard/settings/clients/{setup.client.id}/ad-platforms"
    driver.get(page)
    driver.find_element(By.NAME, "email").send_keys("m@client.example")
    driver.find_element(By.NAME, "password").send_keys("correct horse battery")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "form-ga4")))
    form = driver.find_element(By.ID, "form-ga4")
    form.find_element(By.NAME, "measurement_id").send_keys("G-DASHBRD1")
    form.find_element(By.NAME, "api_secret").send_keys("dash-secret")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "main"), "Google Analytics 4 saved.")
    )
    driver.find_element(By.CSS_SELECTOR, "#test-ga4 button").click()
    WebDriverWait(driver, WAIT).until(
        ec.text_to_be_present_in_element((By.TAG_NAME, "main"), "the connection works")
    )

    from datetime import UTC, datetime, timedelta

    from ringtrail.calls import hooks

    call = add_call(
        live.db,
        setup,
        datetime.now(UTC) - timedelta(minutes=5),
        talk=120,
        visit={"click_ids": {}, "consent": "granted", "ga4": {"cid": "5.6", "sid": "7"}},
    )
    hooks.emit(live.db, call, hooks.COMPLETED)
    live.db.commit()
    with live.app.app_context():
        send.send_due()
    driver.get(f"{live.url}/dashboard/calls/{call.id}")
    item = WebDriverWait(driver, WAIT).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "#uploads li[data-platform=ga4]"))
    )
    assert item.get_attribute("data-status") == "sent"
    assert "Google Analytics 4" in item.text
    assert len(google.collected) == 1
