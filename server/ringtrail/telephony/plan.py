"""How a call is answered: where it goes and whether it is recorded, from its route alone.

Recording rules, on every path that answers a call (voice, dial, fallback, whisper,
voicemail): nothing is recorded unless the client (or its pool or number) records, the
client is not in HIPAA mode, the notice text is not empty, the routing table is known current and
the call's record is safely queued. When something is recorded the notice is said first
(in one_party mode it may be skipped only for callers from known one-party states), and a
voicemail always says it. The degraded answer forwards plainly and records nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ringtrail.hours import open_now
from ringtrail.telephony import consent
from ringtrail.tracking.directory import Directory, Route, Snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """How one call is answered."""

    kind: str  # "normal", "overflow", "after_hours" or "voicemail" (Call.route_kind)
    target: str | None  # the number dialled; None for voicemail
    record: bool  # the <Dial> (or, for voicemail, the message) is recorded
    notice: str  # said first; "" when nothing is recorded or one-party consent applies
    transcribe: bool
    whisper: bool

    def degraded(self, route: Route) -> Plan:
        """The same call forwarded plainly: no notice, no recording, no whisper."""
        if self.kind == "voicemail":
            return Plan("after_hours", route.forward_to, False, "", False, False)
        return Plan(self.kind, self.target, False, "", False, False)


def may_record(route: Route, fresh: bool) -> bool:
    """Whether anything at all may be recorded on this route now."""
    return fresh and not route.hipaa and bool(consent.notice_text(route.notice))


def voicemail_plan(route: Route, fresh: bool) -> Plan | None:
    """Voicemail, if the client takes it and it may be recorded: notice always first."""
    if not route.voicemail or not may_record(route, fresh):
        return None
    notice = consent.notice_text(route.notice)
    return Plan("voicemail", None, True, notice, route.transcribe and not route.hipaa, False)


def plan_call(route: Route, caller_state: str | None, now: float, fresh: bool) -> Plan:
    """Decide where the call goes and whether it is recorded, from the route alone."""
    kind = "overflow" if route.role == "overflow" else "normal"
    target = route.forward_to
    if not open_now(route.business_hours, route.timezone, now):
        if route.after_hours_number:
            kind, target = "after_hours", route.after_hours_number
        elif (plan := voicemail_plan(route, fresh)) is not None:
            return plan
        else:
            kind = "after_hours"  # no after-hours number and no voicemail: ring the business
    record = route.record and may_record(route, fresh)
    say = ""
    if record and consent.notice_required(route.consent_mode, route.us_state, caller_state):
        say = consent.notice_text(route.notice)
    return Plan(
        kind,
        target,
        record,
        say,
        transcribe=record and route.transcribe,
        # A whisper only on unrecorded calls: Twilio's docs do not promise that the
        # whisper stays out of a record-from-answer recording (see README).
        whisper=route.whisper and not record and fresh,
    )


def whisper_text(route: Route) -> str:
    """What the person answering hears: where the call came from, never who is calling.

    Pool numbers are leased to visits, and which visit is not known until the call's job
    has run, so their whisper names the pool (or site) the number belongs to.
    """
    if route.role == "source" and route.source and route.source != "*":
        source, _, medium = route.source.partition("/")
        words = " ".join(w for w in (source, medium) if w and w != "*")
        return f"Call from {words}."
    if route.role == "overflow":
        return f"Call from {route.label}, overflow number."
    return f"Call from {route.label}."


def routing_fresh(directory: Directory, snapshot: Snapshot) -> bool:
    """Whether the routing table is known to be current (``Directory.current``).

    A quiet line's first call is answered as configured: the table stays confirmed while
    the database or the change channel answers, however long since the last call. Only
    when neither can confirm it (or it is the copy on disk of a process started during
    an outage) are calls routed the degraded way: they connect, unrecorded.
    """
    return directory.current(snapshot)


def disclosure(plan: Plan | None, now: float) -> dict:
    """Proof of disclosure for the call record: whether, which text and when."""
    if plan is None or not plan.record or not plan.notice:
        return {"notice_played": False, "notice_version": None, "notice_at": None}
    return {
        "notice_played": True,
        "notice_version": consent.notice_version(plan.notice),
        "notice_at": now,
    }
