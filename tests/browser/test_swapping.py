"""Where and how numbers are swapped: every format, text, tel: links, titles, <title>."""

from __future__ import annotations

import re

import pytest

from ringtrail.storage.models import Pool, TrackingNumber
from tests.browser.conftest import assert_no_page_errors, assert_swapped

pytestmark = pytest.mark.browser

LEASED = "+16282000000"  # make_site(numbers=1) leases this one
NBSP = "\u00a0"

# Every North American variant (with and without 1 or +1; space, dash, dot, parentheses,
# slash, other punctuation; no-break spaces; each Unicode dash; up to four separators),
# and E.164.
VARIANTS = [
    "4155550100",
    "415 555 0100",
    "415-555-0100",
    "415.555.0100",
    "415/555-0100",
    "415/555/0100",
    "(415) 555-0100",
    "(415)555-0100",
    "(415) 555 0100",
    "(415) 555.0100",
    "(415)-555-0100",
    "1 415 555 0100",
    "1-415-555-0100",
    "1.415.555.0100",
    "1 (415) 555-0100",
    "14155550100",
    "+1 415 555 0100",
    "+1-415-555-0100",
    "+1.415.555.0100",
    "+1 (415) 555-0100",
    "+1(415)555-0100",
    "+14155550100",
    f"415{NBSP}555{NBSP}0100",
    f"({NBSP}415){NBSP}555-0100",
    f"+1{NBSP}415{NBSP}555{NBSP}0100",
    # Up to four separator characters between groups.
    "(415) 555 - 0100",
    "(415) - 555 - 0100",
    "415 . 555 . 0100",
    "+1 - 415 - 555 - 0100",
    f"(415){NBSP}555{NBSP}-{NBSP}0100",
    # Any punctuation but , : ; (a middle dot, a bar, a bullet).
    "415\u00b7555\u00b70100",
    "415 | 555 | 0100",
    "(415) \u2022 555 \u2022 0100",
] + [f"415{dash}555{dash}0100" for dash in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"]


def reformat(text: str, e164: str) -> str:
    """``text`` with its digits replaced, in order, by the last digits of ``e164``."""
    count = len(re.findall(r"\d", text))
    digits = iter(re.sub(r"\D", "", e164)[-count:])
    return re.sub(r"\d", lambda _: next(digits), text)


def test_every_format_keeps_its_own_format(live):
    live.site_for(numbers=1)
    live.app.config["RT_PAGE"]["variants"] = VARIANTS
    live.open("formats")
    assert_swapped(
        live.driver,
        {f"#v{i}": f"Call {reformat(v, LEASED)} today" for i, v in enumerate(VARIANTS)},
    )
    assert_no_page_errors(live)


def test_text_tel_links_titles_and_the_document_title(live):
    live.site_for(numbers=1)
    live.open("where")
    assert_swapped(
        live.driver, {"#text": "Phone: 628-200-0000.", "#hidden": "Hidden: 628.200.0000"}
    )
    assert_swapped(
        live.driver,
        {
            "#tel1": "tel:+16282000000",
            "#tel2": "tel:6282000000",
            "#tel3": "tel:1-628-200-0000",
            "#tel4": "tel:(628)200.0000",
            "#other": "https://example.com/?ref=4155550100",
        },
        attr="href",
    )
    assert_swapped(live.driver, {"#tip": "Questions? (628) 200-0000"}, attr="title")
    # Screen readers hear the number that is shown.
    assert_swapped(live.driver, {"#aria": "Call us at (628) 200-0000"}, attr="aria-label")
    assert_swapped(live.driver, {"#aria": "Our office line, 628.200.0000"}, attr="aria-description")
    assert live.driver.title == "Call (628) 200-0000 now"
    assert_no_page_errors(live)


def test_a_number_split_across_inline_elements(live):
    live.site_for(numbers=1)
    live.open("split")
    assert_swapped(
        live.driver,
        {
            "#s1": "(628) 200-0000",
            "#s1 span": "(628)",
            "#s2": "628-200-0000",
            "#s3": "Call +1 628.200.0000 now",
            "#s4": "Suite 100",
            "#s5": "(628) 200-0000",
        },
    )
    assert_swapped(live.driver, {"#s1": "tel:+16282000000"}, attr="href")
    assert_no_page_errors(live)


def test_never_touches_code_fields_opt_outs_or_longer_digit_strings(live):
    live.site_for(numbers=1)
    live.open("never")
    assert_swapped(live.driver, {"#ok": "(628) 200-0000"})
    business = "(415) 555-0100"
    seen = live.js(
        """
        var $ = function (s) { return document.querySelector(s); };
        return {
          script: $('#js').textContent, style: $('#css').textContent,
          template: $('#tpl').content.textContent, textarea: $('#ta').value,
          textareaText: $('#ta').textContent, input: $('#in').value,
          inputTitle: $('#in').title, option: $('#sel option').textContent,
          noswap: $('#no').textContent, noswapTitle: $('#no span').title,
          noswapTel: $('#notel').getAttribute('href'),
          noswapAria: $('#notel').getAttribute('aria-label'),
          long1: $('#long1').textContent, long2: $('#long2').textContent,
          long3: $('#long3').textContent, long4: $('#long4').textContent,
          listed: $('#listed').textContent
        };
        """
    )
    assert business in seen["script"] and business in seen["style"]
    assert seen["template"] == business
    assert seen["textarea"] == seen["textareaText"] == business
    assert seen["input"] == seen["inputTitle"] == seen["option"] == business
    assert seen["noswap"].count(business) == 3 and seen["noswapTitle"] == business
    assert seen["noswapTel"] == "tel:+14155550100"
    assert seen["noswapAria"] == business
    assert seen["long1"] == "Order 14155550100123"
    assert seen["long2"] == "Ref 94155550100"
    assert seen["long3"] == "Id 41555501009"
    assert seen["long4"] == "Tracking +1415555010012"
    # Digits in a list (, : ;) are not a phone number's groups.
    assert seen["listed"] == "Codes 415,555,0100 and 415:555:0100; 415;555;0100"
    assert_no_page_errors(live)


def test_event_listeners_on_swapped_elements_still_fire(live):
    live.site_for(numbers=1)
    live.open("listeners")
    assert_swapped(live.driver, {"#btn span": "(628) 200-0000", "#link": "(628) 200-0000"})
    live.driver.find_element("id", "btn").click()
    live.driver.find_element("id", "link").click()
    assert_swapped(live.driver, {"#clicks": "2"})
    assert_no_page_errors(live)


def test_several_business_numbers_each_get_their_own_pools_number(live):
    setup = live.site_for(numbers=1)
    second = Pool(site=setup.site, business_number="+12125550123", lease_seconds=60)
    second.numbers = [TrackingNumber(number="+13105550177", role="pool")]
    live.db.add(second)
    live.db.commit()
    live.open("pools")
    assert_swapped(live.driver, {"#sales": "(628) 200-0000", "#service": "310-555-0177"})
    assert_swapped(live.driver, {"#both": "628.200.0000 or 310.555.0177"})
    assert_swapped(
        live.driver, {"#sales": "tel:+16282000000", "#service": "tel:+13105550177"}, attr="href"
    )
    assert_no_page_errors(live)
