"""Pages rendered on the server and hydrated in the browser (React, Vue): the snippet
swaps after hydration, so the framework finds the HTML it rendered and logs no error.

The pages and bundles are real production builds of React and Vue, made once by
``tests/browser/fixtures-src/build.mjs``; their bundle arrives 0.3 s after the lease
answer (a slow network, a large bundle), so a snippet that swapped on the answer would
change the HTML before the framework hydrates it.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import WAIT, assert_no_page_errors, assert_swapped

pytestmark = pytest.mark.browser

TEXT = {
    "#text": "Call us at (628) 200-0000, day or night.",
    "#tel": "628.200.0000",
    "#split": "Or text (628) 200-0000",
}
ATTRIBUTES = {
    "href": "tel:+16282000000",
    "title": "Call (628) 200-0000",
    "aria-label": "Call us at 628-200-0000",
}


def complaints(live) -> list[str]:
    """Console errors (SEVERE), and any warning about hydration, logged so far."""
    return [
        entry["message"]
        for entry in live.logs()
        if entry["level"] == "SEVERE"
        or "ydration" in entry["message"]
        or "mismatch" in entry["message"]
    ]


@pytest.mark.parametrize("framework", ["react", "vue"])
@pytest.mark.parametrize("hide", [False, True], ids=["plain", "data-hide"])
def test_swaps_after_hydration_without_errors(live, framework, hide):
    live.site_for(numbers=1)
    live.app.config["RT_PAGE"]["hide"] = hide
    live.open(framework)
    WebDriverWait(live.driver, WAIT).until(lambda _: live.js("return window.__hydrated"))
    assert live.js("return window.__hydrated") == framework
    live.wait_calls("session")
    assert_swapped(live.driver, TEXT)
    # The page is alive: the framework handles the click on the HTML it hydrated.
    live.driver.find_element("id", "clicks").click()
    assert_swapped(live.driver, {"#clicks": "Clicked 1 times"})
    assert complaints(live) == []
    assert_no_page_errors(live)
    for attribute, value in ATTRIBUTES.items():
        assert_swapped(live.driver, {"#tel": value}, attr=attribute)
    if hide:  # the anti-flicker hiding is over, whatever hydration took
        assert live.js("return document.getElementById('text').style.opacity") == ""
