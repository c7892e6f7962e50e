"""Vanity texts ("415-555-HELP") that stand for a business number: shown as the leased
number's display, left alone when no number is leased."""

from __future__ import annotations

import pytest

from tests.browser.conftest import assert_no_page_errors, assert_swapped

pytestmark = pytest.mark.browser

VANITY = "415-555-HELP"


def vanity_site(live, **kwargs):
    setup = live.site_for(numbers=1, **kwargs)
    setup.pool.vanity_texts = [VANITY]
    live.db.commit()
    return setup


def test_a_vanity_text_shows_the_leased_numbers_display(live):
    vanity_site(live)
    live.open("vanity")
    assert_swapped(
        live.driver,
        {
            "#vanity": "Call (628) 200-0000 today.",
            "#call": "Call (628) 200-0000",
            "#call b": "(628) 200-0000",
            "#plain": "Or (628) 200-0000.",
        },
    )
    assert_swapped(live.driver, {"#call": "tel:+16282000000"}, attr="href")
    # Only the whole text: a longer word or digit string is not the vanity text.
    assert live.js("return document.querySelector('#other').textContent") == (
        "Or 415-555-HELPER, or 1415-555-HELP."
    )
    assert_no_page_errors(live)


def test_a_vanity_text_is_left_alone_without_a_lease(live):
    vanity_site(live, consent_mode="required")
    live.open("vanity")
    live.wait_calls("session")
    live.js("window.ringtrail('swap')")
    seen = live.js(
        "return [document.querySelector('#vanity').textContent,"
        " document.querySelector('#plain').textContent]"
    )
    assert seen == ["Call 415-555-HELP today.", "Or (415) 555-0100."]
    assert_no_page_errors(live)
