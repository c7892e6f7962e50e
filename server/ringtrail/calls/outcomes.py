"""A call's outcome: its tags, lead status, value and notes, and the history of each change.

People (the dashboard, the admin API, the command line) and rules (``calls/rules.py``)
change outcomes through :func:`apply`, the one place that validates a change, records who
set each field (``Call.outcome_sources``: "manual", "rule" or "block"), writes the audit
entry (who, when, old → new) in the same transaction through :func:`changed`.

:func:`changed` is the seam for whatever must follow an outcome change or a call's
completion: it audits, then tells the listeners of :mod:`ringtrail.calls.hooks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ringtrail.calls import hooks
from ringtrail.errors import Forbidden, Unprocessable
from ringtrail.storage.models import AuditEntry, Call, CallNote, CallTag, ClientTag
from ringtrail.terms import EDITORS, LEAD_STATUSES, NOTE_MAX, OUTCOME_FIELDS

READ_ONLY = "report-only users may read outcomes but not change them"


class Actor(Protocol):
    """Who changes an outcome (an ``accounts.auth.Principal``, or a rule's :class:`RuleActor`)."""

    kind: str
    id: int | None
    label: str
    role: str


@dataclass(frozen=True)
class RuleActor:
    """A rule acting in the worker's job."""

    id: int
    label: str
    kind: str = "rule"
    role: str = "agency_admin"


@dataclass(frozen=True)
class Value:
    """A value in minor units (cents) of a three-letter currency."""

    amount_minor: int
    currency: str


def may_change(actor: Actor) -> None:
    """Forbidden unless the actor may change outcomes (report-only users may not)."""
    if actor.role not in EDITORS:
        raise Forbidden(READ_ONLY)


def outcome_of(call: Call) -> dict[str, Any]:
    """The call's outcome as the API, the dashboard and exports show it."""
    value = None
    if call.value_minor is not None and call.currency:
        value = {"amount_minor": call.value_minor, "currency": call.currency}
    return {
        "tags": call.tag_names,
        "lead_status": call.lead_status or "new",
        "value": value,
        "blocked": bool(call.blocked),
        "sources": dict(call.outcome_sources or {}),
        "notes": [
            {"id": n.id, "author": n.author, "body": n.body, "at": n.created_at} for n in call.notes
        ],
    }


def client_tags(db: Session, client_id: int | None) -> dict[str, ClientTag]:
    """The client's tag vocabulary, by lower-cased name."""
    if client_id is None:
        return {}
    rows = db.scalars(select(ClientTag).where(ClientTag.client_id == client_id)).all()
    return {t.name.lower(): t for t in rows}


def _tags(db: Session, call: Call, names: list[str]) -> list[ClientTag]:
    vocabulary = client_tags(db, call.client_id)
    found = []
    for name in names:
        tag = vocabulary.get(name.strip().lower())
        if tag is None:
            if call.client_id is None:
                raise Unprocessable("a call of no client cannot carry tags")
            raise Unprocessable(f"unknown tag {name.strip()!r}: add it to the client's tags first")
        if tag not in found:
            found.append(tag)
    return found


def apply(
    db: Session,
    call: Call,
    change: dict[str, Any],
    actor: Actor,
    *,
    source: str = "manual",
) -> dict[str, list]:
    """Change the call's outcome; returns what changed ({field: [old, new]}).

    ``change`` may hold ``tags`` (the whole list), ``add_tags``, ``remove_tags``,
    ``lead_status`` and ``value`` (a :class:`Value`, a dict of it, or None to clear).
    A "rule" change skips every field a person set, so a manual change is never
    overwritten; a field is marked as set by whoever last changed it. Nothing is
    committed here: the caller commits with the audit entry.
    """
    if source == "manual":
        may_change(actor)
    sources = dict(call.outcome_sources or {})
    protected = set() if source == "manual" else {f for f, s in sources.items() if s != "rule"}
    diff: dict[str, list] = {}

    wants_tags = any(k in change for k in ("tags", "add_tags", "remove_tags"))
    if wants_tags and "tags" not in protected:
        before = call.tag_names
        current = {t.tag_id: t for t in call.tags}
        if "tags" in change:
            wanted = _tags(db, call, list(change["tags"] or []))
        else:
            keep = [t.tag for t in call.tags]
            removed = {t.id for t in _tags(db, call, list(change.get("remove_tags") or []))}
            wanted = [t for t in keep if t.id not in removed]
            wanted += [
                t for t in _tags(db, call, list(change.get("add_tags") or [])) if t not in wanted
            ]
        wanted_ids = [t.id for t in wanted]
        for tag_id, link in current.items():
            if tag_id not in wanted_ids:
                call.tags.remove(link)
        for tag in wanted:
            if tag.id not in current:
                call.tags.append(CallTag(tag_id=tag.id, tag=tag, source=source))
        after = [t.name for t in wanted]
        if before != after:
            diff["tags"] = [before, after]
            sources["tags"] = source

    if "lead_status" in change and "lead_status" not in protected:
        status = change["lead_status"]
        if status not in LEAD_STATUSES:
            raise Unprocessable(f"lead_status must be one of {', '.join(LEAD_STATUSES)}")
        if status != call.lead_status:
            diff["lead_status"] = [call.lead_status, status]
            call.lead_status = status
            sources["lead_status"] = source

    if "value" in change and "value" not in protected:
        value = change["value"]
        if isinstance(value, dict):
            if "amount_minor" not in value or "currency" not in value:
                raise Unprocessable("a value needs amount_minor and currency")
            value = Value(int(value["amount_minor"]), str(value["currency"]))
        old = _value_text(call.value_minor, call.currency)
        if value is None:
            call.value_minor, call.currency = None, None
        else:
            if value.amount_minor < 0:
                raise Unprocessable("a value cannot be negative")
            call.value_minor, call.currency = value.amount_minor, value.currency.upper()
        new = _value_text(call.value_minor, call.currency)
        if old != new:
            diff["value"] = [old, new]
            sources["value"] = source

    if sources != (call.outcome_sources or {}):
        call.outcome_sources = {f: sources[f] for f in OUTCOME_FIELDS if f in sources}
    if diff:
        changed(db, call, "outcome", actor, {"changes": diff, "source": source})
    return diff


def _value_text(amount: int | None, currency: str | None) -> str | None:
    return None if amount is None or not currency else f"{amount} {currency}"


def add_note(db: Session, call: Call, body: str, actor: Actor) -> CallNote:
    """Add a note to the call, signed with the actor's name and the time."""
    may_change(actor)
    body = (body or "").strip()
    if not body:
        raise Unprocessable("a note needs some text")
    if len(body) > NOTE_MAX:
        raise Unprocessable(f"a note holds at most {NOTE_MAX} characters")
    note = CallNote(author=(actor.label or actor.kind)[:254], body=body)
    call.notes.append(note)
    db.flush()
    changed(db, call, "note", actor, {"note_id": note.id, "body": body[:200]})
    return note


def audit(
    db: Session, call: Call, actor: Actor, action: str, details: dict[str, Any]
) -> AuditEntry:
    """The audit entry of a change to the call (committed with the change)."""
    entry = AuditEntry(
        agency_id=call.agency_id,
        actor_type=actor.kind[:10],
        actor_id=actor.id,
        actor=(actor.label or "")[:254],
        action=action,
        object_type="call",
        object_id=call.id,
        details=details,
    )
    db.add(entry)
    return entry


def history_query(call: Call) -> Select:
    """Every change to the call's outcome and its notes, oldest first (a select)."""
    return (
        select(AuditEntry)
        .where(
            AuditEntry.object_type == "call",
            AuditEntry.object_id == call.id,
            AuditEntry.action.in_(("outcome", "note")),
            AuditEntry.agency_id == call.agency_id,
        )
        .order_by(AuditEntry.id)
    )


def history(db: Session, call: Call) -> list[AuditEntry]:
    """Every change to the call's outcome and its notes, oldest first."""
    return list(db.scalars(history_query(call)).all())


def changed(
    db: Session,
    call: Call,
    what: str,
    actor: Actor | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """After any outcome change ("outcome", "note") or a call's completion ("completed").

    The one seam for what follows a change: it writes the audit entry (for a change with
    an actor), then tells the listeners of :mod:`ringtrail.calls.hooks` (outbound
    webhooks, notifications, uploads), inside the transaction that made the change, so
    that what they queue is committed with it.
    """
    entry = None
    if actor is not None and details is not None:
        entry = audit(db, call, actor, what, details)
    if what == "completed":
        hooks.emit(db, call, hooks.COMPLETED)
        return
    if entry is not None:
        db.flush()
    hooks.emit(
        db,
        call,
        hooks.UPDATED,
        {
            "what": what,
            "changes": (details or {}).get("changes"),
            "source": (details or {}).get("source"),
            "audit_id": entry.id if entry is not None else None,
        },
    )
