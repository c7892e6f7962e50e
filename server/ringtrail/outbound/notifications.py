"""Notifications of calls: the listener on :mod:`ringtrail.calls.hooks` that queues an
e-mail (or a Slack post) for each user who asked to be told.

- A call **completes**: users who asked about new calls, missed calls (not answered) or
  first-time callers (no earlier call of that caller to the client, by keyed hash; a
  withheld number is never one) get one message naming every reason that applies.
- A call's lead status **becomes qualified** (by a person, a script or a rule): users who
  asked about qualified leads get one message.

Each message is keyed on (user, call, kind), so a job that runs twice writes it once;
Slack gets one post per (client, call, kind) however many users chose Slack. Blocked
callers are never announced. Messages are written in the call's transaction and sent
by the outbox's jobs (:mod:`ringtrail.outbound.messages`): a mail server or Slack that is
down delays them and never touches the call.

What a message says: when (in the client's time zone), the tracking number, the source,
medium and campaign, the duration, the outcome and a link to the call's page. Never a
recording or a transcript; the caller's number only outside HIPAA mode.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ringtrail import phones
from ringtrail.calls import hooks
from ringtrail.calls.rules import facts_of
from ringtrail.context import setting
from ringtrail.outbound import messages, preferences
from ringtrail.reports.queries import zone
from ringtrail.storage.models import Call, Client, Pool, User

log = logging.getLogger(__name__)

COMPLETED = "completed"
QUALIFIED = "qualified"
COMPLETED_REASONS = ("new_calls", "missed_calls", "first_time_callers")
HEADLINES = {
    "missed_calls": "Missed call",
    "first_time_callers": "First-time caller",
    "new_calls": "New call",
    "qualified_leads": "Qualified lead",
}


def register() -> None:
    """Listen to every call change (``web.init_app`` calls this in every process)."""
    hooks.register("notifications", on_call)


def on_call(db: Session, call: Call, kind: str, details: dict[str, Any]) -> None:
    """The hooks listener: writes the messages this change calls for, nothing else.

    It runs in a savepoint: whatever goes wrong in it (even a failed SQL statement, which
    on PostgreSQL would abort the whole transaction) is rolled back alone and logged, and
    the call's own change commits without its notifications.
    """
    if call.client_id is None or call.blocked:
        return
    try:
        with db.begin_nested():
            _on_call(db, call, kind, details)
    except Exception:
        log.exception("notifications: none written for call %s (%s)", call.id, kind)


def _on_call(db: Session, call: Call, kind: str, details: dict[str, Any]) -> None:
    if kind == hooks.COMPLETED:
        wanted = preferences.wanted_by_anyone(db, call.client_id, COMPLETED_REASONS)
        reasons = [r for r in ("new_calls", "missed_calls") if r in wanted]
        if "missed_calls" in reasons and call.answered:
            reasons.remove("missed_calls")
        # The first-time check costs a query: only when someone asked for it.
        if "first_time_callers" in wanted and facts_of(db, call).first_time_caller:
            reasons.append("first_time_callers")
        if reasons:
            notify(db, call, COMPLETED, reasons)
    elif kind == hooks.UPDATED and details.get("what") == "outcome":
        change = (details.get("changes") or {}).get("lead_status")
        qualified = bool(change) and change[-1] == "qualified"
        if qualified and preferences.wanted_by_anyone(db, call.client_id, ("qualified_leads",)):
            notify(db, call, QUALIFIED, ["qualified_leads"])


def notify(db: Session, call: Call, kind: str, reasons: list[str]) -> int:
    """Queue the messages for this call and kind; returns how many were written."""
    client = db.get(Client, call.client_id)
    if client is None:
        return 0
    wanted: dict[int, tuple[User, set[str], bool, bool]] = {}
    for reason in reasons:
        for user, pref in preferences.listeners_of(db, client, reason):
            _, got, email, slack = wanted.get(user.id, (user, set(), False, False))
            got.add(reason)
            wanted[user.id] = (user, got, email or pref.by_email, slack or pref.by_slack)
    written = 0
    slack_reasons: set[str] = set()
    for user, got, email, slack in wanted.values():
        if slack:
            slack_reasons |= got
        if not email:
            continue
        subject, body = content(db, call, client, _ordered(got))
        written += bool(
            messages.queue_email(
                db,
                [user.email],
                subject,
                body,
                agency_id=client.agency_id,
                client_id=client.id,
                key=f"notify:{user.id}:{call.id}:{kind}",
                call_id=call.id,
            )
        )
    url = preferences.slack_url_of(db, client.id) if slack_reasons else None
    if url:
        subject, body = content(db, call, client, _ordered(slack_reasons))
        written += bool(
            messages.queue_slack(
                db,
                url,
                f"*{subject}*\n{body}",
                sealed=True,
                agency_id=client.agency_id,
                client_id=client.id,
                key=f"notify:slack:{client.id}:{call.id}:{kind}",
                call_id=call.id,
            )
        )
    return written


def _ordered(reasons: set[str]) -> list[str]:
    return [r for r in HEADLINES if r in reasons]


@dataclass(frozen=True)
class Line:
    label: str
    text: str


def content(db: Session, call: Call, client: Client, reasons: list[str]) -> tuple[str, str]:
    """The subject and plain-text body of a notification about ``call``."""
    headline = HEADLINES[reasons[0]]
    extra = [HEADLINES[r].lower() for r in reasons[1:] if r != "new_calls"]
    if headline == "New call" and extra:
        headline, extra = extra[0].capitalize(), extra[1:]
    title = ", ".join([headline, *extra])
    subject = f"{title}: {client.name}"
    lines = [Line(label, text) for label, text in facts(db, call, client) if text]
    width = max(len(line.label) for line in lines) + 1
    body = "\n".join(f"{(line.label + ':').ljust(width)} {line.text}" for line in lines)
    footer = (
        "\n\nYou are told because of your notification settings for this client; change "
        f"them at {_url('/dashboard/notifications')}.\n"
    )
    return subject, f"{title} for {client.name}\n\n{body}{footer}"


def facts(db: Session, call: Call, client: Client) -> list[tuple[str, str]]:
    """(label, text) of what a notification says about the call, in order."""
    tz = zone(client.timezone)
    when = call.started_at.astimezone(tz) if call.started_at else None
    visit = call.visit
    pool = db.get(Pool, call.pool_id) if call.pool_id else None
    number = phones.international(call.tracking_number) if call.tracking_number else ""
    if pool is not None and pool.name:
        number = f"{number} (pool {pool.name})"
    source = " / ".join(p for p in (call.source, call.medium) if p) or "(not set)"
    return [
        ("When", f"{when:%a %d %b %Y, %H:%M} ({tz.key})" if when else "unknown"),
        ("Caller", caller_text(call, client)),
        ("Tracking number", number),
        ("Source", source),
        ("Campaign", visit.campaign if visit is not None else ""),
        ("Duration", duration_text(call)),
        ("Outcome", outcome_text(call)),
        ("Call page", _url(f"/dashboard/calls/{call.id}")),
    ]


def caller_text(call: Call, client: Client) -> str:
    """The caller as a notification may show it: never the number in HIPAA mode."""
    if client.hipaa:
        return "hidden (HIPAA mode)"
    if not call.caller_number or phones.is_withheld(call.caller_number):
        return "withheld"
    return phones.international(call.caller_number)


def duration_text(call: Call) -> str:
    if not call.answered:
        return "not answered"
    seconds = int(call.talk_seconds or call.duration_seconds or 0)
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s, answered" if minutes else f"{seconds} s, answered"


def outcome_text(call: Call) -> str:
    parts = [call.lead_status.replace("_", " ")]
    if call.tags:
        parts.append("tags " + ", ".join(call.tag_names))
    if call.value_minor is not None and call.currency:
        parts.append(f"value {call.value_minor / 100:.2f} {call.currency}")
    return "; ".join(parts)


def _url(path: str) -> str:
    return str(setting("PUBLIC_URL")).rstrip("/") + path
