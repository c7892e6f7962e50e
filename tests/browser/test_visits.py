"""Visits and leases: one lease per visit, kept alive while in use, taken on intent."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import WAIT, assert_no_page_errors, assert_swapped

pytestmark = pytest.mark.browser

SWAPPED = {"#phone": "(628) 200-0000"}
BUSINESS = {"#phone": "(415) 555-0100"}


def stored(live) -> dict:
    """What the page keeps: sessionStorage and cookies."""
    return live.js(
        "var s = {}; for (var i = 0; i < sessionStorage.length; i++) {"
        "  s[sessionStorage.key(i)] = sessionStorage.getItem(sessionStorage.key(i)); }"
        "return {session: s, cookie: document.cookie, local: localStorage.length};"
    )


@pytest.mark.parametrize("storage", ["", "cookie"])
def test_one_lease_per_visit_reused_across_pages(live, storage):
    live.site_for(numbers=3)
    live.app.config["RT_PAGE"]["storage"] = storage
    live.open("visit")
    assert_swapped(live.driver, SWAPPED)
    (first,) = live.calls("session")
    kept = stored(live)
    if storage == "cookie":
        assert kept["session"] == {} and "ringtrail=" in kept["cookie"]
        raw = unquote(kept["cookie"].split("ringtrail=", 1)[1].split(";")[0])
    else:
        assert kept["cookie"] == "" and list(kept["session"]) == ["ringtrail"]
        raw = unquote(kept["session"]["ringtrail"])
    assert json.loads(raw)["session"] == first["answer"]["session"]

    live.driver.find_element("id", "next").click()
    WebDriverWait(live.driver, WAIT).until(lambda d: d.current_url.endswith("?p=2"))
    assert_swapped(live.driver, SWAPPED)  # at once, from the stored answer
    (view,) = live.wait_calls("pageview")
    assert view["path"] == f"/v1/sessions/{first['answer']['session']}/pageviews"
    assert view["answer"]["numbers"] == first["answer"]["numbers"]
    assert len(live.calls("session")) == 1, "no new lease per page"
    assert_no_page_errors(live)


def test_a_session_the_server_forgot_is_replaced(live, redis_client):
    live.site_for(numbers=3)
    live.open("visit")
    assert_swapped(live.driver, SWAPPED)
    for key in redis_client.scan_iter("ringtrail:visit:*"):
        redis_client.delete(key)  # the visit expired on the server
    live.driver.find_element("id", "next").click()
    (view,) = live.wait_calls("pageview")
    assert view["status"] == 404
    first, second = live.wait_calls("session", 2)
    assert second["answer"]["session"] != first["answer"]["session"]
    assert_swapped(live.driver, {"#phone": "(628) 200-0001"})  # the new lease
    assert_no_page_errors(live)


def test_heartbeat_while_visible_and_in_use_and_none_when_hidden(live):
    live.site_for(numbers=1)
    live.open("heartbeat")  # the page's fake timers make the 60 s heartbeat 300 ms
    assert_swapped(live.driver, SWAPPED)
    live.wait_calls("heartbeat", 1)  # the page was just opened: it is in use

    def ticks_pass(n):
        start = live.js("return window.__ticks")
        WebDriverWait(live.driver, WAIT).until(
            lambda _: live.js("return window.__ticks") >= start + n
        )

    # Idle: no activity, no heartbeat.
    ticks_pass(2)
    idle = len(live.calls("heartbeat"))
    ticks_pass(3)
    assert len(live.calls("heartbeat")) == idle

    # Activity renews the lease at the next tick.
    live.driver.find_element("id", "phone").click()
    live.wait_calls("heartbeat", idle + 1)
    assert all(c["status"] == 200 for c in live.calls("heartbeat"))

    # Hidden: activity or not, no heartbeat.
    live.driver.minimize_window()
    try:
        WebDriverWait(live.driver, WAIT).until(lambda _: live.js("return document.hidden"))
        ticks_pass(1)
        before = len(live.calls("heartbeat"))
        live.js("window.dispatchEvent(new Event('keydown'))")
        ticks_pass(3)
        assert len(live.calls("heartbeat")) == before
    finally:
        live.driver.maximize_window()
    WebDriverWait(live.driver, WAIT).until(lambda _: not live.js("return document.hidden"))
    live.driver.find_element("id", "phone").click()
    live.wait_calls("heartbeat", before + 1)
    assert_no_page_errors(live)


def test_on_intent_no_lease_until_a_number_scrolls_into_view(live):
    live.site_for(numbers=1)
    live.open("intent")
    assert_swapped(live.driver, {"#top": "Welcome."})
    # No request is made while the number is out of sight and the visitor does nothing.
    now = live.js("return performance.now()")
    WebDriverWait(live.driver, WAIT).until(
        lambda _: live.js("return performance.now()") > now + 500
    )
    assert live.calls() == []
    assert_swapped(live.driver, BUSINESS)
    live.js("document.getElementById('phone').scrollIntoView()")
    live.wait_calls("session")
    assert_swapped(live.driver, SWAPPED)
    assert_no_page_errors(live)


def test_on_intent_a_number_shown_without_any_interaction(live):
    live.site_for(numbers=1)
    live.open("intent")
    assert_swapped(live.driver, {"#top": "Welcome."})
    assert live.calls() == []
    live.js("document.getElementById('later').style.display = 'block'")  # e.g. a timer
    live.wait_calls("session")
    assert_swapped(live.driver, {"#later": "Now open: (628) 200-0000"})


def test_on_intent_first_interaction_leases(live):
    live.site_for(numbers=1)
    live.open("intent")
    assert_swapped(live.driver, {"#top": "Welcome."})
    assert live.calls() == []
    live.driver.find_element("id", "top").click()
    live.wait_calls("session")
    assert_swapped(live.driver, SWAPPED)  # out of sight, but swapped for when it is seen
    assert_no_page_errors(live)


def test_anti_flicker_hides_numbers_until_the_swap(live):
    live.site_for(numbers=1)
    live.app.config["RT_PAGE"]["api"] = ""  # the real backend
    live.open("hide")
    assert_swapped(live.driver, SWAPPED)
    WebDriverWait(live.driver, WAIT).until(lambda _: len(live.js("return __seen")) >= 2)
    seen = live.js("return __seen")
    hidden, shown = seen[0], seen[-1]
    assert hidden["opacity"] == "0" and hidden["text"] == "(415) 555-0100"
    assert shown["opacity"] == "" and shown["text"] == "(628) 200-0000", seen
    assert_no_page_errors(live)


def test_anti_flicker_gives_up_after_500_ms(live, standin):
    live.site_for(numbers=1)
    standin.reset("slow")
    live.open("hide")  # data-api: the stand-in, which takes 10 s
    WebDriverWait(live.driver, WAIT).until(lambda _: len(live.js("return __seen")) >= 2)
    hidden, shown = live.js("return __seen")[:2]
    assert hidden["opacity"] == "0" and shown["opacity"] == ""
    assert shown["text"] == "(415) 555-0100"
    assert 450 <= shown["t"] - hidden["t"] <= 900, (hidden, shown)  # 500 ms, on a busy CPU
    assert_no_page_errors(live)
