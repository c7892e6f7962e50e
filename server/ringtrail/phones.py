"""Phone numbers, in one place: reading them, showing them, and withheld caller ids.

- :func:`parse` reads a number someone typed (a tracking number, a business number) and
  says why it is not one; :func:`normalise` reads a caller id, which may be withheld,
  ``sip:``, ``client:`` or junk, and never raises.
- :func:`national` and :func:`international` format a number for people.
- :func:`is_withheld` knows every form a withheld caller id takes: Twilio's stand-in
  numbers for "anonymous" and the words carriers use. None of them is one caller.
- :func:`state_of` names the US state a number's area belongs to: approximate, it is
  where the number was issued, not where the caller is.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import geocoder

DEFAULT_REGION = "US"
MAX_INPUT = 40

# Caller ids that stand for "withheld": Twilio's stand-in numbers (every such call would
# otherwise look like one caller) and the words carriers send instead of a number.
WITHHELD_NUMBERS = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"})
WITHHELD_WORDS = frozenset({"", "anonymous", "restricted", "unknown", "unavailable", "private"})

US_STATES: dict[str, str] = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
}
# What the geocoder writes, beyond the plain state names: "Washington State" (not the
# city), "Washington D.C.", and "City, ST".
_STATE_NAMES = {name.lower(): code for code, name in US_STATES.items()}
_STATE_NAMES |= {"washington state": "WA", "washington d.c.": "DC", "washington, d.c.": "DC"}
_CITY_STATE = re.compile(r",\s*([A-Z]{2})$")


def is_withheld(caller: str | None) -> bool:
    """Whether a caller id stands for a withheld number rather than one caller."""
    text = (caller or "").strip()
    return text.lower() in WITHHELD_WORDS or text in WITHHELD_NUMBERS


def parse(raw: str, region: str = DEFAULT_REGION) -> str:
    """A number someone typed, in E.164; ValueError with a readable reason if it is none."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("a phone number is required")
    if len(raw) > MAX_INPUT:
        raise ValueError("phone number is too long")
    try:
        parsed = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise(caller: str | None, region: str = DEFAULT_REGION) -> str | None:
    """A caller id in E.164 if it is a real number; None if withheld, sip:, client: or junk."""
    if not caller or is_withheld(caller):
        return None
    try:
        e164 = parse(caller, region)
    except ValueError:
        return None
    return None if e164 in WITHHELD_NUMBERS else e164


def possible(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """E.164 for anything shaped like a number, valid or not (erasure searches by it)."""
    return _possible(raw.strip(), region)


@lru_cache(maxsize=4096)
def _possible(raw: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def written_forms(e164: str) -> set[str]:
    """The ways a number is commonly written: E.164, its digits, national, international."""
    forms = {e164, e164.lstrip("+")}
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return forms
    forms.add(str(parsed.national_number))
    forms.add(national(e164))
    forms.add(international(e164))
    return forms


@lru_cache(maxsize=4096)
def national(e164: str) -> str:
    """A number in its national format, e.g. (555) 123-4567; as given if it is none."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def international(number: str | None) -> str:
    """A number in international format for reading; "–" for none; junk as it is."""
    if not number:
        return "–"
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    if not phonenumbers.is_possible_number(parsed):
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def state_of(number: str | None) -> str | None:
    """The US state (or DC) a number's area belongs to; None when there is none.

    Approximate: it names the area the number was issued in, not where the caller is.
    Toll-free, foreign, withheld and non-geographic numbers have none.
    """
    if not number or is_withheld(number):
        return None
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.region_code_for_number(parsed) != "US":
        return None
    text = (geocoder.description_for_number(parsed, "en") or "").strip()
    if not text:
        return None  # toll-free and non-geographic numbers
    if (match := _CITY_STATE.search(text)) and match.group(1) in US_STATES:
        return match.group(1)
    return _STATE_NAMES.get(text.lower())
