"""Privacy: GPC, Do-Not-Track, consent; and headless browsers as bots by default."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from ringtrail.storage.models import Site
from tests.browser.conftest import assert_no_page_errors, assert_swapped

pytestmark = pytest.mark.browser

SOURCE = "+13235550142"  # the site's source-level number for any source
SWAPPED = {"#phone": "(628) 200-0000"}
BUSINESS = {"#phone": "(415) 555-0100"}
SOURCE_SHOWN = {"#phone": "(323) 555-0142"}


def nothing_stored(live) -> bool:
    return live.js(
        "return sessionStorage.length === 0 && localStorage.length === 0 && document.cookie === ''"
    )


def test_global_privacy_control_gets_the_source_number_and_nothing_is_stored(live):
    live.site_for(numbers=1, source_numbers={"*": SOURCE})
    live.app.config["RT_PAGE"]["signal"] = "gpc"
    live.open("privacy")
    assert_swapped(live.driver, SOURCE_SHOWN)
    (call,) = live.calls("session")
    assert call["body"]["gpc"] is True and call["answer"]["session"] is None
    assert nothing_stored(live)
    assert_no_page_errors(live)


def test_sec_gpc_header_alone_gets_no_lease(live):
    live.site_for(numbers=1)  # no source-level number: the business number stays
    with extra_headers(live.driver, {"Sec-GPC": "1"}):
        live.open("basic")
        (call,) = live.wait_calls("session")
    assert call["headers"].get("Sec-Gpc") == "1" and call["body"]["gpc"] is False
    assert call["answer"] == {"session": None, "numbers": {}, "ttl": call["answer"]["ttl"]}
    assert_swapped(live.driver, BUSINESS)
    assert nothing_stored(live)
    assert_no_page_errors(live)


@contextmanager
def extra_headers(driver, headers: dict[str, str]):
    """Chromium sends these headers with every request meanwhile."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": headers})
    try:
        yield
    finally:
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})


@pytest.mark.parametrize("honour", [True, False])
def test_do_not_track_when_the_site_honours_it(live, honour):
    setup = live.site_for(numbers=1, source_numbers={"*": SOURCE})
    live.db.get(Site, setup.site.id).honor_dnt = honour
    live.db.commit()
    with extra_headers(live.driver, {"DNT": "1"}):  # as a browser with DNT on sends it
        live.open("basic")
        (call,) = live.wait_calls("session")
    assert call["headers"].get("Dnt") == "1"
    assert_swapped(live.driver, SWAPPED if honour is False else SOURCE_SHOWN)
    assert (call["answer"]["session"] is None) is honour
    assert nothing_stored(live) is honour
    assert_no_page_errors(live)


def test_consent_required_nothing_until_consent_then_a_lease(live):
    live.site_for(numbers=1, consent_mode="required", source_numbers={"*": SOURCE})
    live.open("privacy")
    assert_swapped(live.driver, SOURCE_SHOWN)
    (first,) = live.calls("session")
    assert first["body"]["consent"] is False and first["answer"]["session"] is None
    assert nothing_stored(live)

    live.js("ringtrail('consent', true)")
    _, second = live.wait_calls("session", 2)
    assert second["body"]["consent"] is True and second["answer"]["session"]
    assert_swapped(live.driver, SWAPPED)
    assert not nothing_stored(live)

    # The next page keeps the visit without being asked again.
    live.open("privacy")
    assert_swapped(live.driver, SWAPPED)
    live.wait_calls("pageview")
    assert len(live.calls("session")) == 2

    # Withdrawn: forgotten, and the business number is back.
    live.js("ringtrail('consent', false)")
    assert_swapped(live.driver, BUSINESS)
    assert nothing_stored(live)
    live.open("privacy")
    assert_swapped(live.driver, SOURCE_SHOWN)
    assert live.calls("session")[-1]["answer"]["session"] is None
    assert_no_page_errors(live)


def test_consent_refused_in_auto_mode_takes_no_lease(live):
    live.site_for(numbers=1)
    live.open("privacy")
    assert_swapped(live.driver, SWAPPED)
    live.js("ringtrail('consent', false)")
    assert_swapped(live.driver, BUSINESS)
    assert nothing_stored(live)
    assert_no_page_errors(live)


def test_headless_is_a_bot_by_default(live):
    live.app.config["HEADLESS_IS_BOT"] = True  # the default, which these tests turn off
    live.site_for(numbers=1)
    live.open("basic")
    (call,) = live.wait_calls("session")
    assert "HeadlessChrome" in call["headers"]["User-Agent"]
    assert call["answer"]["session"] is None and call["answer"]["numbers"] == {}
    assert_swapped(live.driver, BUSINESS)
    assert nothing_stored(live)
    assert_no_page_errors(live)
