"""Recording consent: which US states need every party's consent, and what that means here.

The one data table below says, for each state, whether recording a call there needs the
consent of all parties. Everything else (which consent modes a client may choose, whether
a notice plays, what the dashboard explains) is derived from it.

Hawaii, Delaware, Michigan, Oregon and Vermont appear on some all-party lists and not on
others. The lists disagree, so Ringtrail treats them as all-party: the cost of a notice
that was not needed is a few seconds; the cost of a recording without consent is a crime.

A caller's state comes from ``phones.state_of``: the area of the number, not where
the caller is. It is approximate, and it is used only to play a notice *more* often,
never less than the client's own state requires.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ringtrail.phones import US_STATES
from ringtrail.terms import CONSENT_MODES, DEFAULT_CONSENT_MODE

# Whether recording a call in each state needs every party's consent. "disputed" states
# are all-party here (see above).
ALL, ONE, DISPUTED = "all", "one", "disputed"
RULES: dict[str, str] = {
    "AL": ONE,
    "AK": ONE,
    "AZ": ONE,
    "AR": ONE,
    "CA": ALL,
    "CO": ONE,
    "CT": ALL,
    "DE": DISPUTED,
    "DC": ONE,
    "FL": ALL,
    "GA": ONE,
    "HI": DISPUTED,
    "ID": ONE,
    "IL": ALL,
    "IN": ONE,
    "IA": ONE,
    "KS": ONE,
    "KY": ONE,
    "LA": ONE,
    "ME": ONE,
    "MD": ALL,
    "MA": ALL,
    "MI": DISPUTED,
    "MN": ONE,
    "MS": ONE,
    "MO": ONE,
    "MT": ALL,
    "NE": ONE,
    "NV": ALL,
    "NH": ALL,
    "NJ": ONE,
    "NM": ONE,
    "NY": ONE,
    "NC": ONE,
    "ND": ONE,
    "OH": ONE,
    "OK": ONE,
    "OR": DISPUTED,
    "PA": ALL,
    "RI": ONE,
    "SC": ONE,
    "SD": ONE,
    "TN": ONE,
    "TX": ONE,
    "UT": ONE,
    "VT": DISPUTED,
    "VA": ONE,
    "WA": ALL,
    "WV": ONE,
    "WI": ONE,
    "WY": ONE,
}
# code: (name, rule), for forms and explanations.
STATES: dict[str, tuple[str, str]] = {code: (US_STATES[code], rule) for code, rule in RULES.items()}
ALL_PARTY_STATES = frozenset(code for code, rule in RULES.items() if rule != ONE)


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
    mode = mode or DEFAULT_CONSENT_MODE
    return mode if check_mode(client_state, mode) is None else DEFAULT_CONSENT_MODE


def notice_required(mode: str | None, client_state: str | None, caller_state: str | None) -> bool:
    """Whether the notice must play before recording this call.

    Always in all_party mode. In one_party mode the notice is skipped only when the
    caller's number maps to a known one-party state: an unknown, foreign, toll-free or
    anonymous number gets the notice, and so does one from an all-party state.
    """
    if effective_mode(client_state, mode) == "all_party":
        return True
    return caller_state not in STATES or is_all_party(caller_state)


def caller_state_matters(mode: str | None, client_state: str | None) -> bool:
    """Whether :func:`notice_required` depends on the caller's state (one_party mode)."""
    return effective_mode(client_state, mode) != "all_party"


def notice_version(text: str) -> str:
    """A short fingerprint of the exact notice text: which wording a caller heard."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def explain(client: Any) -> str:
    """For the dashboard: which consent rule applies to this client, and why."""
    state = (getattr(client, "us_state", None) or "").upper()
    mode = getattr(client, "consent_mode", None) or DEFAULT_CONSENT_MODE
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
