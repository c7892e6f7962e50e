"""Back and forward: a page restored from the back/forward cache re-checks its lease."""

from __future__ import annotations

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import WAIT, assert_no_page_errors, assert_swapped

pytestmark = pytest.mark.browser


def leave_and_come_back(live, while_away=None) -> None:
    """Go to another page and back; the page must come back from the back/forward cache
    (its JavaScript state kept), or the test would not be about restoring."""
    live.js("window.__kept = 'still here'")
    live.driver.get(f"{live.url}/pages/away.html")
    WebDriverWait(live.driver, WAIT).until(lambda d: d.title == "Away")
    if while_away:
        while_away()
    live.driver.back()
    WebDriverWait(live.driver, WAIT).until(lambda d: d.title == "Visit page")
    why = live.js(
        "var n = performance.getEntriesByType('navigation')[0];"
        "return n && n.notRestoredReasons ? JSON.stringify(n.notRestoredReasons) : '';"
    )
    assert live.js("return window.__kept") == "still here", f"not restored from bfcache: {why}"


def test_a_restored_page_renews_its_lease(live):
    live.site_for(numbers=3)
    live.open("visit")
    assert_swapped(live.driver, {"#phone": "(628) 200-0000"})
    (first,) = live.calls("session")
    assert live.calls("pageview") == []
    leave_and_come_back(live)
    (view,) = live.wait_calls("pageview")
    assert view["status"] == 200
    assert view["path"] == f"/v1/sessions/{first['answer']['session']}/pageviews"
    assert view["body"]["url"].endswith("/pages/visit.html")
    assert_swapped(live.driver, {"#phone": "(628) 200-0000"})
    assert len(live.calls("session")) == 1
    assert_no_page_errors(live)


def test_a_restored_page_whose_visit_ended_swaps_to_the_new_lease(live, redis_client):
    live.site_for(numbers=3)
    live.open("visit")
    assert_swapped(live.driver, {"#phone": "(628) 200-0000"})

    def visit_ends():
        for key in redis_client.scan_iter("ringtrail:visit:*"):
            redis_client.delete(key)  # the visit expired on the server meanwhile

    leave_and_come_back(live, visit_ends)
    (view,) = live.wait_calls("pageview")
    assert view["status"] == 404
    first, second = live.wait_calls("session", 2)
    assert second["answer"]["session"] != first["answer"]["session"]
    assert_swapped(live.driver, {"#phone": "(628) 200-0001"})  # the new lease, at once
    assert_no_page_errors(live)
