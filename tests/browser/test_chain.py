"""The whole chain: a page in Chromium, the snippet, a lease, a signed call, attribution."""

from __future__ import annotations

import pytest
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from ringtrail.storage.models import Call
from tests.browser.conftest import WAIT, assert_no_page_errors, assert_swapped
from tests.helpers import call_params, run_jobs, twilio_post

pytestmark = pytest.mark.browser

LANDING = "visit.html?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=abc123"


def test_a_call_to_the_number_a_visitor_saw_is_attributed_to_the_visit(live):
    setup = live.site_for(numbers=3)
    live.driver.get(f"{live.url}/pages/{LANDING}")
    assert_swapped(live.driver, {"#phone": "(628) 200-0000"})
    live.driver.find_element("id", "next").click()
    WebDriverWait(live.driver, WAIT).until(lambda d: d.current_url.endswith("?p=2"))
    live.wait_calls("pageview")
    assert_swapped(live.driver, {"#phone": "(628) 200-0000"})  # swapped 50 ms after load
    (visit,) = live.calls("session")
    session = visit["answer"]["session"]

    # The visitor dials the number on the page; the carrier calls the signed webhook.
    shown = live.js("return document.getElementById('phone').getAttribute('href')")
    dialled = "+" + shown.removeprefix("tel:+")
    assert dialled in setup.numbers
    path = "/telephony/twilio/voice"
    params = call_params(setup, to=dialled)
    client = live.app.test_client()
    answer = twilio_post(client, path, params, setup.token, signed_url=live.url + path)
    assert answer.status_code == 200 and b"<Dial" in answer.data
    assert run_jobs(live.app) >= 1

    live.db.expire_all()
    call = live.db.scalar(select(Call).where(Call.call_sid == params["CallSid"]))
    assert call is not None, "the call was not recorded"
    assert call.confidence == "exact"
    assert call.tracking_number == dialled and call.session_id == session
    assert (call.source, call.medium) == ("google", "cpc")
    snap = call.visit
    assert snap.landing_url == f"{live.url}/pages/visit.html"
    assert (snap.source, snap.medium, snap.campaign) == ("google", "cpc", "spring")
    assert snap.click_ids == {"gclid": "abc123"}
    assert [p[1] for p in snap.pages] == ["/pages/visit.html", "/pages/visit.html"]
    assert_no_page_errors(live)
