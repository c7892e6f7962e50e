"""Numbers outside North America: national with the trunk prefix, international (+ and
00), E.164 and "(0)" forms, each with its country's separators; and a tracking number of
another length, which takes its own display in the same style."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import assert_no_page_errors, assert_swapped

pytestmark = pytest.mark.browser


def reformat(text: str, shown: str) -> str:
    """``text`` with its digits replaced, in order, by the last digits of ``shown``."""
    count = len(re.findall(r"\d", text))
    digits = iter(re.sub(r"\D", "", shown)[-count:])
    return re.sub(r"\d", lambda _: next(digits), text)


# country: business number, tracking number (same length), how people write the business
# number there, and which digit form of the tracking number each takes: its national
# digits (N), its international ones (I), or both ("+44 (0)20": Z).
SAME_LENGTH = {
    "uk": (
        "+442079460018",
        "+442079460999",
        [
            ("020 7946 0018", "N"),
            ("020-7946-0018", "N"),
            ("(020) 7946 0018", "N"),
            ("02079460018", "N"),
            ("+44 20 7946 0018", "I"),
            ("+44 (0)20 7946 0018", "Z"),
            ("+44 (0) 20 7946 0018", "Z"),
            ("0044 20 7946 0018", "00I"),
            ("+442079460018", "I"),
            ("44 20 7946 0018", "I"),
        ],
    ),
    "ireland": (
        "+35312345678",
        "+35312349999",
        [
            ("(01) 234 5678", "N"),
            ("01 234 5678", "N"),
            ("01-234-5678", "N"),
            ("+353 1 234 5678", "I"),
            ("+353 (0)1 234 5678", "Z"),
            ("00353 1 234 5678", "00I"),
            ("+35312345678", "I"),
        ],
    ),
    "france": (
        "+33123456789",
        "+33198765432",
        [
            ("01 23 45 67 89", "N"),
            ("01.23.45.67.89", "N"),
            ("01-23-45-67-89", "N"),
            ("+33 1 23 45 67 89", "I"),
            ("+33 (0)1 23 45 67 89", "Z"),
            ("0033 1 23 45 67 89", "00I"),
        ],
    ),
    "australia": (
        "+61212345678",
        "+61298765432",
        [
            ("(02) 1234 5678", "N"),
            ("02 1234 5678", "N"),
            ("02-1234-5678", "N"),
            ("+61 2 1234 5678", "I"),
            ("+61 (0)2 1234 5678", "Z"),
            ("+61212345678", "I"),
        ],
    ),
    "mexico": (
        "+525512345678",
        "+525598765432",
        [
            ("55 1234 5678", "N"),
            ("(55) 1234-5678", "N"),
            ("55-1234-5678", "N"),
            ("+52 55 1234 5678", "I"),
            ("+52 (55) 1234-5678", "I"),
            ("+525512345678", "I"),
        ],
    ),
    "germany": (
        "+493012345678",
        "+493087654321",
        [
            ("030 12345678", "N"),
            ("030/12345678", "N"),
            ("030 - 123 456 78", "N"),
            ("(030) 1234 5678", "N"),
            ("+49 30 12345678", "I"),
            ("+49 (0)30 12345678", "Z"),
            ("0049 30 12345678", "00I"),
        ],
    ),
}

NATIONAL_TRUNK = {"uk": "0", "ireland": "0", "france": "0", "australia": "0", "germany": "0"}


def expected(country: str, variant: str, form: str, tracking: str) -> str:
    """What ``variant`` becomes: the same format, with the tracking number's digits of
    the same form."""
    code = {"uk": "44", "ireland": "353", "france": "33", "australia": "61", "mexico": "52"}
    code |= {"germany": "49"}
    significant = tracking[1 + len(code[country]) :]
    trunk = NATIONAL_TRUNK.get(country, "")
    digits = {
        "N": trunk + significant,
        "I": code[country] + significant,
        "Z": code[country] + trunk + significant,
        "00I": "00" + code[country] + significant,
    }[form]
    return reformat(variant, digits)


def open_country(live, business: str, tracking: list[str], variants: list[str]) -> None:
    live.site_for(numbers=tracking, business=business)
    live.app.config["RT_PAGE"].update(variants=variants, tel=business, business_name="Example Ltd")
    live.open("country")


@pytest.mark.parametrize("country", sorted(SAME_LENGTH))
def test_every_way_a_country_writes_its_numbers_keeps_its_format(live, country):
    business, tracking, cases = SAME_LENGTH[country]
    open_country(live, business, [tracking], [v for v, _ in cases])
    want = {
        f"#v{i}": f"Phone: {expected(country, v, f, tracking)}." for i, (v, f) in enumerate(cases)
    }
    assert_swapped(live.driver, want)
    assert_swapped(live.driver, {"#call": f"tel:{tracking}"}, attr="href")
    seen = live.js(
        "return [document.querySelector('#long').textContent,"
        " document.querySelector('script[type=\"application/ld+json\"]').textContent,"
        " document.querySelector('footer').textContent]"
    )
    assert seen[0] == f"Invoice 9{cases[0][0].replace(' ', '')}7", "a longer digit string"
    assert cases[0][0] in seen[1], "JSON-LD is never swapped"
    assert expected(country, cases[0][0], "N", tracking) in seen[2].replace("\xa0", " ")
    assert_no_page_errors(live)


def test_a_tracking_number_of_another_length_shows_its_own_display(live):
    """Germany's numbers vary in length: 030 12345678 leased 030 1234567 cannot keep the
    format digit for digit, so each occurrence shows the tracking number's display, in
    the style it was written in (national or international)."""
    business, tracking = "+493012345678", "+49301234567"
    variants = [
        "030 12345678",
        "030/12345678",
        "+49 30 12345678",
        "+49 (0)30 12345678",
        "0049 30 12345678",
    ]
    open_country(live, business, [tracking], variants)
    national, international = "030 1234567", "+49 30 1234567"
    want = [national, national, international, international, international]
    assert_swapped(live.driver, {f"#v{i}": f"Phone: {w}." for i, w in enumerate(want)})
    assert_swapped(live.driver, {"#call": "Call 030 1234567"})
    # A tel: link dials, so it takes the tracking number in E.164, not its display.
    assert_swapped(live.driver, {"#call": f"tel:{tracking}"}, attr="href")
    assert_no_page_errors(live)


def test_a_withdrawn_consent_takes_a_number_of_another_length_back_to_the_business(live):
    """Once consent is withdrawn the page must stop showing the visit's tracking number,
    even where it cannot swap back digit for digit (030 1234567 was 030 12345678): the
    business number comes back in E.164, the one display of it the snippet knows."""
    business, tracking = "+493012345678", "+49301234567"
    open_country(live, business, [tracking], ["030 12345678", "+49 30 12345678"])
    assert_swapped(live.driver, {"#v0": "Phone: 030 1234567.", "#v1": "Phone: +49 30 1234567."})
    live.js("ringtrail('consent', false)")
    assert_swapped(live.driver, {"#v0": f"Phone: {business}.", "#v1": f"Phone: {business}."})
    assert_swapped(live.driver, {"#call": f"tel:{business}"}, attr="href")
    assert_no_page_errors(live)


def test_a_tel_link_written_nationally_takes_the_e164_of_another_length(live):
    """href="tel:030 12345678" (a national href) of a number of another length dials the
    tracking number: tel:+49301234567."""
    business, tracking = "+493012345678", "+49301234567"
    open_country(live, business, [tracking], ["030 12345678"])
    live.app.config["RT_PAGE"]["tel"] = "030 12345678"
    live.open("country")
    assert_swapped(live.driver, {"#call": f"tel:{tracking}"}, attr="href")
    assert_swapped(live.driver, {"#v0": "Phone: 030 1234567."})
    assert_no_page_errors(live)
