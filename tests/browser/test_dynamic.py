"""Single-page apps: content added later, History API navigation, the JS API, the queue."""

from __future__ import annotations

import pytest

from tests.browser.conftest import assert_no_page_errors, assert_swapped

pytestmark = pytest.mark.browser


def test_content_inserted_later_is_swapped(live):
    live.site_for(numbers=1)
    live.open("spa")
    assert_swapped(live.driver, {"#phone": "(628) 200-0000"})
    late = '<p id="late">Call <a id="late-tel" href="tel:4155550100">415.555.0100</a></p>'
    live.js("render(arguments[0])", late)
    assert_swapped(live.driver, {"#late": "Call 628.200.0000"})
    assert_swapped(live.driver, {"#late-tel": "tel:6282000000"}, attr="href")
    # A framework rewriting a text node in place is seen too.
    live.js("document.querySelector('#late-tel').firstChild.data = '(415) 555-0100'")
    assert_swapped(live.driver, {"#late": "Call (628) 200-0000"})
    assert_no_page_errors(live)


@pytest.mark.parametrize("how", ["pushState", "replaceState"])
def test_history_navigation_records_a_page_view_and_swaps(live, how):
    live.site_for(numbers=1)
    live.open("spa")
    assert_swapped(live.driver, {"#phone": "(628) 200-0000"})
    live.js(
        f"history.{how}({{}}, '', '/pages/spa.html?route=2');"
        "document.title = 'App page 2';"
        "render('<p id=\"route2\">Route 2: (415) 555-0100</p>');"
    )
    views = live.wait_calls("pageview")
    assert views[0]["body"]["url"].endswith("/pages/spa.html?route=2")
    assert views[0]["body"]["title"] == "App page 2"
    assert views[0]["status"] == 200
    assert_swapped(live.driver, {"#route2": "Route 2: (628) 200-0000"})
    assert len(live.calls("session")) == 1, "a route change is no new visit"
    assert_no_page_errors(live)


def test_popstate_records_a_page_view(live):
    live.site_for(numbers=1)
    live.open("spa")
    assert_swapped(live.driver, {"#phone": "(628) 200-0000"})
    live.js("history.pushState({}, '', '/pages/spa.html?route=2')")
    live.wait_calls("pageview", 1)
    live.js("history.back()")
    views = live.wait_calls("pageview", 2)
    assert views[1]["body"]["url"].endswith("/pages/spa.html")
    assert_no_page_errors(live)


def test_a_history_update_that_keeps_the_url_is_no_page_view(live):
    live.site_for(numbers=1)
    live.open("spa")
    assert_swapped(live.driver, {"#phone": "(628) 200-0000"})
    live.js("history.replaceState({scroll: 10}, '')")  # frameworks do this all the time
    live.js("history.pushState({}, '', '/pages/spa.html?route=3')")
    views = live.wait_calls("pageview", 1)
    assert [v["body"]["url"].rsplit("/", 1)[1] for v in views] == ["spa.html?route=3"]


def test_swap_command_swaps_at_once(live):
    live.site_for(numbers=1)
    live.open("spa")
    assert_swapped(live.driver, {"#phone": "(628) 200-0000"})
    # Synchronously, before the MutationObserver's batch could run.
    text = live.js(
        "render('<p id=\"now\">(415) 555-0100</p>'); ringtrail('swap');"
        "return document.getElementById('now').textContent;"
    )
    assert text == "(628) 200-0000"
    assert_no_page_errors(live)


def test_queue_stub_calls_before_the_snippet_loads_are_run(live):
    # Consent given through the stub before the snippet loaded, on a site that requires it.
    live.site_for(numbers=1, consent_mode="required")
    live.open("queue")
    assert_swapped(live.driver, {"#phone": "(628) 200-0000"})
    (session,) = live.calls("session")
    assert session["body"]["consent"] is True
    assert session["answer"]["session"]
    assert live.js("return typeof ringtrail === 'function' && !ringtrail.q")
    assert_no_page_errors(live)
