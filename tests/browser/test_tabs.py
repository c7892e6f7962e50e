"""Tabs: two tabs of one site in one browser are one visit with one number, found over a
BroadcastChannel (nothing stored for it), with and without consent."""

from __future__ import annotations

import pytest

from tests.browser.conftest import assert_no_page_errors, assert_swapped

pytestmark = pytest.mark.browser

SWAPPED = {"#phone": "(628) 200-0000"}


def shared_storage(live) -> dict:
    """What the tab keeps where other tabs could read it: cookies and localStorage."""
    return live.js("return {cookie: document.cookie, local: localStorage.length};")


def two_tabs(live, page: str) -> tuple[str, str]:
    """Open ``page`` in this tab, then in a second one; the window handles."""
    live.open(page)
    assert_swapped(live.driver, SWAPPED)
    first = live.driver.current_window_handle
    live.driver.switch_to.new_window("tab")
    live.open(page)
    return first, live.driver.current_window_handle


@pytest.mark.parametrize(
    ("page", "consent_mode", "consent"),
    [("basic", "auto", False), ("queue", "required", True)],
    ids=["without-consent", "with-consent"],
)
def test_two_tabs_share_one_visit_and_one_number(live, page, consent_mode, consent):
    live.site_for(numbers=3, consent_mode=consent_mode)
    first, second = two_tabs(live, page)
    try:
        # The second tab shows the first tab's number: one session, no second lease.
        assert_swapped(live.driver, SWAPPED)
        (view,) = live.wait_calls("pageview")
        (start,) = live.calls("session")
        assert start["body"]["consent"] is consent
        assert view["path"] == f"/v1/sessions/{start['answer']['session']}/pageviews"
        assert view["answer"]["numbers"] == start["answer"]["numbers"]
        # Finding each other stored nothing another tab reads: no cookie, no localStorage.
        assert shared_storage(live) == {"cookie": "", "local": 0}
        assert_no_page_errors(live)
        # Back in the first tab, it is the same visit still.
        live.driver.switch_to.window(first)
        assert_swapped(live.driver, SWAPPED)
        assert len(live.calls("session")) == 1
    finally:
        live.driver.switch_to.window(second)
        live.driver.close()
        live.driver.switch_to.window(first)


def test_a_tab_that_refused_consent_takes_no_visit_from_another(live):
    live.site_for(numbers=3)
    first, second = two_tabs(live, "basic")
    try:
        assert_swapped(live.driver, SWAPPED)
        live.js("ringtrail('consent', false)")
        assert_swapped(live.driver, {"#phone": "(415) 555-0100"})
        # A third tab asks the channel: the first tab answers, the refusing tab takes
        # nothing from it and keeps the business number.
        live.driver.switch_to.new_window("tab")
        live.open("basic")
        assert_swapped(live.driver, SWAPPED)
        live.wait_calls("pageview", 2)  # the third tab carries on with the first's visit
        live.driver.close()
        live.driver.switch_to.window(second)
        assert_swapped(live.driver, {"#phone": "(415) 555-0100"})
        assert len(live.calls("session")) == 1
    finally:
        live.driver.switch_to.window(second)
        live.driver.close()
        live.driver.switch_to.window(first)
