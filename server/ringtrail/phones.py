"""Phone numbers, in one place: reading them, showing them, and withheld caller ids.

- :func:`parse` reads a number someone typed (a tracking number, a business number) and
  says why it is not one; :func:`normalise` reads a caller id, which may be withheld,
  ``sip:``, ``client:`` or junk, and never raises.
- :func:`national` and :func:`international` format a number for people
  (:func:`is_north_american` says whether a number is +1, :func:`country_code_and_trunk`
  what a national form drops); :func:`national_table` and :func:`international_table`
  format many at once (a site's pools, when the directory loads).
- :func:`is_withheld` knows every form a withheld caller id takes: Twilio's stand-in
  numbers for "anonymous" and the words carriers use. None of them is one caller.
- :func:`state_of` names the US state a number's area belongs to: approximate, it is
  where the number was issued, not where the caller is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
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
    return _national(e164)


def _national(e164: str) -> str:
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


# Numbers of at least 11 digits (North American ones have 11) are formatted by template;
# in shorter ones the last four digits can decide the format (Slovakia's 7-digit ones).
TEMPLATED = re.compile(r"\+[1-9]\d{10,14}")


def national_table(numbers: Iterable[str]) -> dict[str, str]:
    """:func:`national` of many numbers at once: the same answers, at about a µs each.

    A number's national format depends on its country code, its length and its leading
    digits, never on its last four; so numbers that differ only there are shown alike.
    One number per leading part is formatted by ``phonenumbers`` and the result, with
    its last four digits as slots, is the template of the others; each template is
    checked on a second number before it is trusted, else every number of that part is
    formatted on its own; so is every number shorter than 11 digits. A pool of 100,000
    North American numbers costs a few hundred parses.
    """
    return _table(numbers, _national, national)


def international_table(numbers: Iterable[str]) -> dict[str, str]:
    """:func:`international_display` of many numbers at once, made as
    :func:`national_table` is: a North American number by its fixed pattern, any other
    by its leading part's template, checked on a second number."""
    return _table(numbers, _international_display, international_display)


def _table(
    numbers: Iterable[str], exact: Callable[[str], str], short: Callable[[str], str]
) -> dict[str, str]:
    """``exact`` of every number, by template where the last four digits cannot change
    the format (see :func:`national_table`); ``short`` for numbers under 11 digits."""
    out: dict[str, str] = {}
    templates: dict[str, tuple[str | None, bool]] = {}  # leading part -> (template, checked)
    for number in numbers:
        if number in out:
            continue
        if not TEMPLATED.fullmatch(number):
            out[number] = short(number)
            continue
        head, tail = number[:-4], number[-4:]
        if head not in templates:
            shown = exact(number)
            templates[head] = (_template(shown, tail), False)
            out[number] = shown
            continue
        template, checked = templates[head]
        if template is None:
            out[number] = exact(number)
            continue
        shown = template.format(*tail)
        if not checked:
            exact_form = exact(number)
            templates[head] = (template if exact_form == shown else None, True)
            shown = exact_form
        out[number] = shown
    return out


def _template(shown: str, tail: str) -> str | None:
    """``shown`` with the four digits of ``tail`` as format slots; None if they are not
    its last four digits (or it holds braces)."""
    if "{" in shown or "}" in shown:
        return None
    places = [i for i, char in enumerate(shown) if char.isdigit()][-4:]
    if len(places) < 4 or "".join(shown[i] for i in places) != tail:
        return None
    chars = list(shown)
    for slot, i in enumerate(places):
        chars[i] = f"{{{slot}}}"
    return "".join(chars)


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


NORTH_AMERICAN = re.compile(r"\+1[2-9]\d{9}")


def is_north_american(e164: str) -> bool:
    """Whether a number (E.164) is in the North American Numbering Plan (+1)."""
    return bool(NORTH_AMERICAN.fullmatch(e164))


@lru_cache(maxsize=4096)
def country_code_and_trunk(e164: str) -> tuple[str, str]:
    """A number's country code and the trunk prefix its national display writes before
    the digits that follow the country code: ("44", "0") for +44 20 7946 0018, written
    020 7946 0018; ("1", "") for North America, ("52", "") for Mexico."""
    try:
        code = str(phonenumbers.parse(e164, None).country_code)
    except phonenumbers.NumberParseException:
        return "", ""
    rest = e164.lstrip("+")[len(code) :]
    written = re.sub(r"\D", "", national(e164))
    return code, written[: -len(rest)] if rest and written.endswith(rest) else ""


def international_display(e164: str) -> str:
    """:func:`international`, without a parse for a North American number (the answer
    of a session reads it from the site's table instead: :func:`international_table`)."""
    if is_north_american(e164):
        return f"+1 {e164[2:5]}-{e164[5:8]}-{e164[8:]}"
    return _international(e164)


def _international_display(e164: str) -> str:
    """:func:`international_display` past its cache (a big pool's table would flush it)."""
    if is_north_american(e164):
        return f"+1 {e164[2:5]}-{e164[5:8]}-{e164[8:]}"
    return international(e164)


@lru_cache(maxsize=4096)
def _international(e164: str) -> str:
    return international(e164)


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
