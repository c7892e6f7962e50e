"""The page never breaks: whatever the backend does, the business number stays.

Each test proves two things: the business number is still there once the snippet has
given up, and no uncaught error or unhandled rejection reached the page (Chromium's
console log, and the page's own listeners). The snippet's debug warnings say when it
gave up; tests without data-debug check the console holds nothing from the snippet.
"""

from __future__ import annotations

import socket

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import WAIT, assert_no_page_errors, assert_swapped

pytestmark = pytest.mark.browser

BUSINESS = {"#phone": "(415) 555-0100"}


def gave_up(live, reason: str = "") -> list[str]:
    """Wait for the snippet's debug warning (data-debug) that it gave up."""

    def warnings(_):
        found = [
            e["message"]
            for e in live.logs()
            if e.get("source") == "console-api" and '"ringtrail"' in e["message"]
        ]
        return [w for w in found if reason in w]

    return WebDriverWait(live.driver, WAIT).until(warnings, message="the snippet never gave up")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_backend_down(live):
    live.site_for(numbers=1)
    live.app.config["RT_PAGE"].update(api=f"http://127.0.0.1:{closed_port()}", debug=True)
    live.open("failure")
    gave_up(live, "Failed to fetch")
    assert_swapped(live.driver, BUSINESS)
    assert_no_page_errors(live)


def test_backend_slow_gives_up_within_2_seconds(live, standin):
    live.site_for(numbers=1)
    standin.reset("slow")  # would answer a valid lease after 10 s
    live.open("failure")
    WebDriverWait(live.driver, WAIT).until(
        lambda _: standin.hangups, message="the snippet kept waiting"
    )
    assert standin.hangups[0] <= 2.5, standin.hangups  # the 2 s timeout, plus scheduling
    assert_swapped(live.driver, BUSINESS)
    assert_no_page_errors(live)
    assert not [e for e in live.logs() if e.get("source") == "console-api"], "quiet without debug"


def test_backend_answers_500(live, standin):
    live.site_for(numbers=1)
    standin.reset("500")
    live.app.config["RT_PAGE"]["debug"] = True
    live.open("failure")
    gave_up(live, "500")
    assert_swapped(live.driver, BUSINESS)
    assert_no_page_errors(live)


GARBAGE = {
    "html": b"<html><body>Bad gateway</body></html>",
    "truncated": b'{"session": "abc", "numbers": {"+14155550100": {"e164": "+1628',
    "array": b"[1, 2, 3]",
    "null": b"null",
    "wrong-types": b'{"session": 42, "numbers": "+16282000000", "ttl": "soon"}',
    "bad-number": b'{"session": null, "numbers": {"+14155550100": {"e164": "<img src=x>"}}}',
    "short-number": b'{"session": null, "numbers": {"+14155550100": {"e164": "+1628"}}}',
    "number-object": b'{"session": null, "numbers": {"+14155550100": {"e164": {"x": 1}}}}',
}


@pytest.mark.parametrize("kind", list(GARBAGE))
def test_backend_answers_garbage(live, standin, kind):
    live.site_for(numbers=1)
    standin.reset("garbage", GARBAGE[kind])
    live.open("failure")
    answered(live)
    assert_swapped(live.driver, BUSINESS)
    assert_swapped(live.driver, {"#phone": "tel:+14155550100"}, attr="href")
    assert "<img" not in live.js("return document.body.innerHTML")
    assert live.js("return sessionStorage.length") == 0, "garbage is not kept"
    assert_no_page_errors(live)


def answered(live) -> None:
    """Wait until the browser has the whole answer to the snippet's request.

    The snippet handles an answer in the same task that receives it, so once the
    resource timing entry is there, any later script sees what the snippet made of it.
    """
    WebDriverWait(live.driver, WAIT).until(
        lambda _: live.js(
            "return performance.getEntriesByType('resource').some(function (e) {"
            "  return e.name.indexOf('/v1/sessions') > 0 && e.responseEnd > 0; })"
        ),
        message="no answer reached the browser",
    )


def test_backend_refuses_cors(live):
    # The real backend, for a site that does not list this page's origin.
    live.site_for(numbers=1, origins=("https://elsewhere.example",))
    live.open("basic")
    (call,) = live.wait_calls("session")
    assert call["status"] == 403
    assert "Access-Control-Allow-Origin" not in call.get("answer", {})
    assert_swapped(live.driver, BUSINESS)
    assert_no_page_errors(live)


def test_backend_without_cors_headers(live, standin):
    live.site_for(numbers=1)
    standin.reset("nocors")  # a valid answer, but the browser may not read it
    live.app.config["RT_PAGE"]["debug"] = True
    live.open("failure")
    gave_up(live, "Failed to fetch")
    assert_swapped(live.driver, BUSINESS)
    assert_no_page_errors(live)


def test_unknown_site_key_for_the_script(live):
    live.site_for(numbers=1)
    live.open("unknown")  # also queues ringtrail('consent', true) for a snippet that never comes
    WebDriverWait(live.driver, WAIT).until(lambda _: live.js("return window.__failed === true"))
    assert_swapped(live.driver, BUSINESS)
    assert live.calls() == []
    assert_no_page_errors(live)


def test_unknown_site_key_at_the_api(live, standin):
    live.site_for(numbers=1)
    standin.reset("unknown")  # 404 {"error": "unknown site key"}
    live.app.config["RT_PAGE"]["debug"] = True
    live.open("failure")
    gave_up(live, "404")
    assert len(standin.requests) == 1, "a 404 for a new visit is no reason to retry"
    assert_swapped(live.driver, BUSINESS)
    assert_no_page_errors(live)


def test_the_snippet_never_preflights(live, standin):
    live.site_for(numbers=1)
    standin.reset("ok")
    live.open("failure")
    assert_swapped(live.driver, {"#phone": "(628) 555-0123"})
    (req,) = standin.requests
    assert req["method"] == "POST" and req["content_type"].startswith("text/plain")
    assert_no_page_errors(live)
