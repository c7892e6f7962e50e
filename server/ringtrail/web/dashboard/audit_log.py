"""The audit log in words: who did what to which object, and each changed field as
"old → new", instead of the stored JSON (which the admin API still returns as it is).

:func:`readable` turns one stored entry into a :class:`Line` for the access page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ringtrail.storage.models import AuditEntry

# What each stored action reads as; any other action reads as its own words.
VERBS = {
    "create": "created",
    "update": "changed",
    "delete": "removed",
    "import": "imported",
    "release": "released to the carrier",
    "buy": "bought",
    "revoke": "revoked",
    "connect": "connected",
    "disconnect": "disconnected",
    "rotate": "started rotating the auth token of",
    "finish_rotation": "finished rotating the auth token of",
    "listen": "listened to the recording of",
    "erase": "erased",
    "denied": "was refused",
    "probed": "was refused (another agency tried)",
    "login_failed": "failed to log in as",
    "two_factor_on": "turned on two-factor for",
    "two_factor_off": "turned off two-factor for",
    "recovery_codes": "made new recovery codes for",
    "recovery_code_used": "used a recovery code for",
    "dismissed": "put away",
}
OBJECTS = {
    "first_run": "the set-up list",
    "carrier": "the Twilio account",
    "api_key": "API key",
    "number": "number",
}
# Details that name the object rather than describe the change, by preference.
NAMES = ("name", "email", "number", "prefix", "account_sid")
SECRET_PARTS = ("token", "secret", "password")


@dataclass
class Line:
    """One entry, readable: "owner@agency.example changed pool “Main line”"."""

    at: str
    who: str
    verb: str
    what: str
    refused: bool
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (field, old, new)
    facts: list[tuple[str, str]] = field(default_factory=list)  # (field, value)


def words(value: Any) -> str:
    """A stored value for reading: none, yes/no, lists joined, text as it is."""
    if value is None or value == "":
        return "(none)"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list | tuple):
        return ", ".join(words(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{label(k)}: {words(v)}" for k, v in value.items()) or "(none)"
    return str(value)


def label(name: str) -> str:
    """A field name for reading: "record_calls" → "record calls"."""
    return str(name).replace("_", " ")


def _is_change(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2


def _walk(details: dict[str, Any], prefix: str, line: Line, skip: set[str]) -> None:
    for key, value in details.items():
        name = f"{prefix}{label(key)}"
        if key in skip:
            continue
        if any(part in str(key) for part in SECRET_PARTS):
            line.facts.append((name, "(hidden)"))
        elif _is_change(value):
            line.changes.append((name, words(value[0]), words(value[1])))
        elif isinstance(value, dict) and value and all(_is_change(v) for v in value.values()):
            _walk(value, f"{name} › ", line, set())
        else:
            line.facts.append((name, words(value)))


def readable(entry: AuditEntry) -> Line:
    """One stored entry as words."""
    details = entry.details if isinstance(entry.details, dict) else {"details": entry.details}
    named = next((k for k in NAMES if k in details and not _is_change(details[k])), None)
    kind = OBJECTS.get(entry.object_type, label(entry.object_type))
    if entry.object_type in ("first_run", "carrier"):
        what = kind
    elif named:
        what = f"{kind} “{details[named]}”"
    else:
        what = f"{kind} #{entry.object_id}" if entry.object_id is not None else kind
    who = entry.actor or {"system": "Ringtrail", "cli": "the command line"}.get(
        entry.actor_type, entry.actor_type
    )
    line = Line(
        at=entry.created_at.strftime("%Y-%m-%d %H:%M:%S") if entry.created_at else "",
        who=who,
        verb=VERBS.get(entry.action, label(entry.action)),
        what=what,
        refused=entry.action in ("denied", "probed", "login_failed"),
    )
    _walk(details, "", line, {named} if named else set())
    return line
