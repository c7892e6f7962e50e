"""Phone numbers in one place: reading, showing, withheld caller ids, approximate states."""

from __future__ import annotations

import pytest

from ringtrail import phones


@pytest.mark.parametrize(
    ("number", "state"),
    [
        ("+12065550100", "WA"),  # "Washington State"
        ("+12025550100", "DC"),  # "Washington D.C."
        ("+14155550100", "CA"),  # "San Francisco, CA"
        ("+13055550100", "FL"),  # "Florida"
        ("+12125550143", "NY"),  # "New York, NY"
        ("+18085550100", "HI"),
        ("+18005550100", None),  # toll-free: ""
        ("+442079460000", None),  # foreign: "London"
        ("+14165550100", None),  # Canada: "Ontario"
        ("+266696687", None),  # Twilio's anonymous
        ("anonymous", None),
        ("sip:alice@example.com", None),
        ("client:alice", None),
        ("", None),
        (None, None),
    ],
)
def test_state_of_names_the_area_of_the_number(number, state):
    assert phones.state_of(number) == state


WITHHELD = [
    "+266696687",
    "+7378742833",
    "+2562533",
    "+8656696",
    "+86282452253",
    "anonymous",
    "Restricted",
    " unknown ",
    "unavailable",
    "private",
    "",
    None,
]


@pytest.mark.parametrize("caller", WITHHELD)
def test_withheld_caller_ids_name_nobody(caller):
    assert phones.is_withheld(caller)
    assert phones.normalise(caller) is None
    assert phones.state_of(caller) is None


@pytest.mark.parametrize(
    ("caller", "e164"),
    [
        ("+12125550143", "+12125550143"),
        ("(212) 555-0143", "+12125550143"),
        (" 212.555.0143 ", "+12125550143"),
        ("+44 20 7946 0000", "+442079460000"),
        ("sip:alice@example.com", None),
        ("client:alice", None),
        ("12345", None),
        ("+1 212 555 0143" + "0" * 40, None),
    ],
)
def test_normalise_reads_a_caller_id_and_never_raises(caller, e164):
    assert phones.normalise(caller) == e164
    assert phones.is_withheld(caller) is False


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "required"),
        ("555-0143", "not a valid phone number"),
        ("call me", "not a phone number"),
        ("1" * 41, "too long"),
    ],
)
def test_parse_says_why_a_number_is_refused(raw, reason):
    with pytest.raises(ValueError, match=reason):
        phones.parse(raw)


def test_parse_reads_national_numbers_in_the_region_given():
    assert phones.parse("020 7946 0000", "GB") == "+442079460000"
    assert phones.parse("(415) 555-0100") == "+14155550100"


def test_display_formats():
    assert phones.national("+14155550100") == "(415) 555-0100"
    assert phones.international("+14155550100") == "+1 415-555-0100"
    assert phones.international(None) == "–"
    assert phones.international("client:alice") == "client:alice"
    assert phones.national("not a number") == "not a number"


def test_written_forms_cover_what_people_and_carriers_write():
    forms = phones.written_forms("+12125550143")
    assert {"+12125550143", "12125550143", "2125550143", "(212) 555-0143"} <= forms
    assert "+1 212-555-0143" in forms
