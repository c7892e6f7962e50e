"""Recording consent: which US states need every party's consent, and what that means here.

The one data table below says, for each state, whether recording a call there needs the
consent of all parties. Everything else (which consent modes a client may choose, whether
a notice plays, what the dashboard explains) is derived from it.

Hawaii, Delaware, Michigan, Oregon and Vermont appear on some all-party lists and not on
others. The lists disagree, so Ringtrail treats them as all-party: the cost of a notice
that was not needed is a few seconds; the cost of a recording without consent is a crime.

A caller's state comes from ``phonenumbers``' geocoder: the area of the number, not where
the caller is. It is approximate, and it is used only to play a notice *more* often,
never less than the client's own state requires.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import phonenumbers
from phonenumbers import geocoder

CONSENT_MODES = ("all_party", "one_party")
DEFAULT_MODE = "all_party"
DEFAULT_NOTICE = "This call may be recorded for quality and training purposes."

# code: (name, all-party consent?). "disputed" states are all-party here (see above).
ALL, ONE, DISPUTED = "all", "one", "disputed"
STATES: dict[str, tuple[str, str]] = {
    "AL": ("Alabama", ONE),
    "AK": ("Alaska", ONE),
    "AZ": ("Arizona", ONE),
    "AR": ("Arkansas", ONE),
    "CA": ("California", ALL),
    "CO": ("Colorado", ONE),
    "CT": ("Connecticut", ALL),
    "DE": ("Delaware", DISPUTED),
    "DC": ("District of Columbia", ONE),
    "FL": ("Florida", ALL),
    "GA": ("Georgia", ONE),
    "HI": ("Hawaii", DISPUTED),
    "ID": ("Idaho", ONE),
    "IL": ("Illinois", ALL),
    "IN": ("Indiana", ONE),
    "IA": ("Iowa", ONE),
    "KS": ("Kansas", ONE),
    "KY": ("Kentucky", ONE),
    "LA": ("Louisiana", ONE),
    "ME": ("Maine", ONE),
    "MD": ("Maryland", ALL),
    "MA": ("Massachusetts", ALL),
    "MI": ("Michigan", DISPUTED),
    "MN": ("Minnesota", ONE),
    "MS": ("Mississippi", ONE),
    "MO": ("Missouri", ONE),
    "MT": ("Montana", ALL),
    "NE": ("Nebraska", ONE),
    "NV": ("Nevada", ALL),
    "NH": ("New Hampshire", ALL),
    "NJ": ("New Jersey", ONE),
    "NM": ("New Mexico", ONE),
    "NY": ("New York", ONE),
    "NC": ("North Carolina", ONE),
    "ND": ("North Dakota", ONE),
    "OH": ("Ohio", ONE),
    "OK": ("Oklahoma", ONE),
    "OR": ("Oregon", DISPUTED),
    "PA": ("Pennsylvania", ALL),
    "RI": ("Rhode Island", ONE),
    "SC": ("South Carolina", ONE),
    "SD": ("South Dakota", ONE),
    "TN": ("Tennessee", ONE),
    "TX": ("Texas", ONE),
    "UT": ("Utah", ONE),
    "VT": ("Vermont", DISPUTED),
    "VA": ("Virginia", ONE),
    "WA": ("Washington", ALL),
    "WV": ("West Virginia", ONE),
    "WI": ("Wisconsin", ONE),
    "WY": ("Wyoming", ONE),
}
ALL_PARTY_STATES = frozenset(code for code, (_, rule) in STATES.items() if rule != ONE)

# What the geocoder writes, beyond the plain state names: "Washington State" (not the
# city), "Washington D.C.", and "City, ST".
_NAMES = {name.lower(): code for code, (name, _) in STATES.items()}
_NAMES |= {"washington state": "WA", "washington d.c.": "DC", "washington, d.c.": "DC"}
_CITY_STATE = re.compile(r",\s*([A-Z]{2})$")


def is_all_party(state: str | None) -> bool:
    """Whether recording in this state needs every party's consent (disputed ones do)."""
    return (state or "").upper() in ALL_PARTY_STATES


def check_mode(client_state: str | None, mode: str) -> str | None:
    """Why a client in ``client_state`` may not use consent ``mode``; None if it may."""
    if mode not in CONSENT_MODES:
        return f"consent mode must be one of {', '.join(CONSENT_MODES)}"
    if mode == "all_party":
        return None
    state = (client_state or "").upper()
    if state not in STATES:
        return "one_party needs the business's US state, and it is not set"
    if is_all_party(state):
        name, rule = STATES[state]
        why = "is on some all-party lists" if rule == DISPUTED else "requires all-party consent"
        return f"{name} {why}, so every recorded call must play the notice"
    return None


def effective_mode(client_state: str | None, mode: str | None) -> str:
    """The mode actually applied: one_party only while it is still allowed."""
    mode = mode or DEFAULT_MODE
    return mode if check_mode(client_state, mode) is None else DEFAULT_MODE


def notice_required(mode: str | None, client_state: str | None, caller_state: str | None) -> bool:
    """Whether the notice must play before recording this call.

    Always in all_party mode. In one_party mode the notice is skipped only when the
    caller's number maps to a known one-party state: an unknown, foreign, toll-free or
    anonymous number gets the notice, and so does one from an all-party state.
    """
    if effective_mode(client_state, mode) == "all_party":
        return True
    return caller_state not in STATES or is_all_party(caller_state)


def state_for_number(raw: str | None) -> str | None:
    """The US state (or DC) a number's area belongs to; None when there is none.

    Approximate: it names the area the number was issued in, not where the caller is.
    """
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.region_code_for_number(number) != "US":
        return None
    text = (geocoder.description_for_number(number, "en") or "").strip()
    if not text:
        return None  # toll-free and non-geographic numbers
    if (match := _CITY_STATE.search(text)) and match.group(1) in STATES:
        return match.group(1)
    return _NAMES.get(text.lower())


def notice_version(text: str) -> str:
    """A short fingerprint of the exact notice text: which wording a caller heard."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def explain(client: Any) -> str:
    """For the dashboard: which consent rule applies to this client, and why."""
    state = (getattr(client, "us_state", None) or "").upper()
    mode = getattr(client, "consent_mode", None) or DEFAULT_MODE
    hipaa = bool(getattr(client, "hipaa", False))
    caveat = (
        " A caller's state is guessed from the area of their number. It is approximate: a "
        "number tells where it was issued, not where the caller is, and courts have applied "
        "all-party rules to calls recorded from another state."
    )
    if hipaa:
        return "HIPAA mode is on: calls are never recorded or transcribed, whatever the settings."
    where = STATES[state][0] if state in STATES else "an unset state"
    refused = check_mode(state, "one_party")
    if mode == "one_party" and refused is None:
        return (
            f"One-party consent: the business is in {where}, which needs only one party's "
            "consent. The recording notice still plays to every caller whose number maps to "
            "an all-party state, and to callers whose state is unknown (toll-free, foreign "
            "or hidden numbers)." + caveat
        )
    text = "All-party consent: the recording notice plays on every recorded call."
    if mode == "one_party":
        text += f" One-party mode was chosen but is not applied: {refused}."
    elif refused:
        text += f" One-party mode is not available: {refused}."
    else:
        text += (
            f" The business is in {where}, so one-party mode could be chosen; the notice "
            "would still play to callers from all-party states."
        )
    return text + caveat


def notice_text(configured: str | None) -> str:
    """The notice to say: the client's text, stripped; empty means "do not record"."""
    return (configured or "").strip()
