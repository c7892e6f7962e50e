"""Carrier webhooks (Twilio and compatible): answer calls, then record them through jobs.

The voice webhook answers from the in-process routing table and never waits on SQL or a
slow Redis: the call event is queued (or spooled) and TwiML goes back at once. Any fault
ends in TwiML that forwards the caller; only a bad signature is refused (403), and the
number's Fallback URL (``/telephony/twilio/fallback``) forwards even then.

Recording rules, on every path that answers TwiML (voice, dial, fallback, whisper,
voicemail): nothing is recorded unless the client (or its pool or number) records, the
client is not in HIPAA mode, the notice text is not empty, the routing table is fresh and
the call's record is safely queued. When something is recorded the notice is said first
(in one_party mode it may be skipped only for callers from known one-party states), and a
voicemail always says it. The degraded answer forwards plainly and records nothing.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, VoiceResponse
from werkzeug.exceptions import RequestEntityTooLarge

from ringtrail.calls.intake import event_id, submit
from ringtrail.privacy import hashing as privacy
from ringtrail.telephony import consent
from ringtrail.tracking.directory import Directory, Route, Snapshot, get_directory

log = logging.getLogger(__name__)
bp = Blueprint("telephony", __name__, url_prefix="/telephony/twilio")

# What we keep of each webhook: no more than the call record needs.
KEPT_PARAMS = {
    "voice": ("CallSid", "AccountSid", "From", "To", "CallStatus", "Direction"),
    "status": ("CallSid", "CallStatus", "CallDuration", "SequenceNumber"),
    "dial": ("CallSid", "DialCallStatus", "DialCallDuration"),
    "recording": (
        "CallSid",
        "RecordingSid",
        "RecordingUrl",
        "RecordingDuration",
        "RecordingStatus",
    ),
    "transcription": (
        "CallSid",
        "RecordingSid",
        "TranscriptionSid",
        "TranscriptionStatus",
        "TranscriptionText",
    ),
}
# Most values are ids and statuses; a transcript is longer.
PARAM_LIMITS = {"TranscriptionText": 20_000}
# A <Dial> that ended like this goes to voicemail, when the client takes voicemail.
UNANSWERED = ("no-answer", "busy", "failed")
VOICEMAIL_SECONDS = 120  # Twilio transcribes recordings up to 120 s
NOBODY = "Sorry, nobody can take your call right now. Please call again later."
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Carrier call ids: Twilio's CA…, SignalWire's UUIDs, Telnyx's v3:…; printable, no spaces.
CALL_SID = re.compile(r"[\x21-\x7e]{1,64}")
# How long past its refresh time the routing table may be before calls stop recording.
STALE_AFTER = 60.0


def public_url() -> str:
    """The URL Twilio called: the configured public base, plus the raw path and query.

    ``request.url`` cannot be used: behind a TLS proxy it says http://, and it decodes
    escapes such as %7E that the signature was computed over.
    """
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return base + raw
    path = quote(request.environ.get("SCRIPT_NAME", "") + request.environ.get("PATH_INFO", ""))
    query = request.environ.get("QUERY_STRING", "")
    return base + path + (f"?{query}" if query else "")


def signature_valid(snapshot: Snapshot | None, route: Route | None) -> bool:
    """Check X-Twilio-Signature against the agency tokens that could have signed it."""
    if snapshot is None:
        return False
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    account = request.form.get("AccountSid", "")
    if route is not None:
        candidates = [snapshot.tokens.get(route.agency_id, (None, []))]
    else:
        by_account = [t for t in snapshot.tokens.values() if t[0] and t[0] == account]
        candidates = by_account or list(snapshot.tokens.values())
    url = public_url()
    for sid, tokens in candidates:
        if sid and account and sid != account:
            continue  # a tampered AccountSid cannot borrow another agency's token
        for token in tokens:
            if RequestValidator(token).validate(url, request.form, signature):
                return True
    return False


def _forbidden() -> Response:
    return Response("invalid signature\n", status=403, mimetype="text/plain")


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


def _url(name: str) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/telephony/twilio/{name}"


# Deciding how a call is answered ----------------------------------------------------------


def _minutes(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 60 + int(minutes)


def open_now(hours: dict | None, timezone: str, now: float) -> bool:
    """Whether ``now`` is within business hours ({"mon": [["09:00", "17:00"]], ...}).

    No hours means always open. A range whose end is before its start runs past
    midnight. Hours that cannot be read count as open: the call then reaches the business.
    """
    if not hours:
        return True
    try:
        local = datetime.fromtimestamp(now, ZoneInfo(timezone))
        minute = local.hour * 60 + local.minute
        today, yesterday = DAYS[local.weekday()], DAYS[local.weekday() - 1]
        for start, end in hours.get(today) or ():
            first, last = _minutes(start), _minutes(end)
            if first <= minute < last or (last <= first and minute >= first):
                return True
        for start, end in hours.get(yesterday) or ():
            first, last = _minutes(start), _minutes(end)
            if last <= first and minute < last:
                return True
        return False
    except Exception:  # a bad time zone or a malformed range: never keep a caller out
        log.warning("business hours unreadable; treating as open")
        return True


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


# TwiML -------------------------------------------------------------------------------------


def forward_twiml(
    forward_to: str | None,
    caller: str | None,
    *,
    record: bool = False,
    notice: str = "",
    say_notice: bool = True,
    whisper_for: str | None = None,
) -> VoiceResponse:
    """TwiML that connects the caller; when recording, the notice plays first.

    Nothing is recorded with an empty notice text, even where one-party consent lets the
    notice be skipped for this caller.
    """
    response = VoiceResponse()
    if not forward_to:
        # Nowhere to send the call: a busy tone is kinder than a spoken error.
        response.reject(reason="busy")
        return response
    options: dict[str, Any] = {"action": _url("dial"), "method": "POST"}
    if caller:
        options["caller_id"] = caller
    if record and notice.strip():
        if say_notice:
            response.say(notice)
        options["record"] = "record-from-answer-dual"
        options["recording_status_callback"] = _url("recording")
        options["recording_status_callback_method"] = "POST"
    elif whisper_for:
        options["answer_on_bridge"] = True  # the caller hears ringing during the whisper
    dial = Dial(**options)
    if whisper_for and "record" not in options:
        dial.number(forward_to, url=f"{_url('whisper')}?n={quote(whisper_for)}", method="POST")
    else:
        dial.number(forward_to)
    response.append(dial)
    return response


def voicemail_twiml(notice: str, prompt: str, transcribe: bool) -> VoiceResponse:
    """The notice, the prompt, then <Record>: a voicemail is a recording."""
    response = VoiceResponse()
    if not notice.strip():
        return nobody_twiml()
    response.say(notice)
    response.say(prompt.strip() or NOBODY)
    options: dict[str, Any] = {
        "action": _url("voicemail"),
        "method": "POST",
        "max_length": VOICEMAIL_SECONDS,
        "play_beep": True,
        "recording_status_callback": _url("recording"),
        "recording_status_callback_method": "POST",
    }
    if transcribe:
        options["transcribe"] = True
        options["transcribe_callback"] = _url("transcription")
    response.record(**options)
    return response


def nobody_twiml() -> VoiceResponse:
    """Voicemail that cannot be taken: say so and hang up, recording nothing."""
    response = VoiceResponse()
    response.say(NOBODY)
    response.hangup()
    return response


def plan_twiml(plan: Plan, caller: str | None, tracking_number: str, route: Route) -> VoiceResponse:
    """The TwiML of a plan."""
    if plan.kind == "voicemail":
        return voicemail_twiml(plan.notice, route.voicemail_prompt, plan.transcribe)
    return forward_twiml(
        plan.target,
        caller,
        record=plan.record,
        notice=consent.notice_text(route.notice),
        say_notice=bool(plan.notice),
        whisper_for=tracking_number if plan.whisper else None,
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


# Events ------------------------------------------------------------------------------------


def _call_sid() -> str | None:
    """The request's CallSid if it looks like a carrier's call id."""
    sid = request.form.get("CallSid", "")
    return sid if CALL_SID.fullmatch(sid) else None


def routing_fresh(directory: Directory, snapshot: Snapshot) -> bool:
    """Whether the routing table was read from SQL lately.

    During a database outage calls are routed from the last table in memory, or from its
    copy on disk after a restart: they connect, but in the degraded way, unrecorded.
    """
    if not snapshot.loaded_at:  # the on-disk copy, of unknown age
        return False
    return time.monotonic() - snapshot.loaded_at <= directory.ttl + STALE_AFTER


def _event(kind: str, route: Route | None) -> dict[str, Any]:
    # NUL bytes would make PostgreSQL refuse the record for good.
    params = {
        k: request.form[k].replace("\x00", "")[: PARAM_LIMITS.get(k, 500)]
        for k in KEPT_PARAMS[kind]
        if k in request.form
    }
    event: dict[str, Any] = {
        "provider": "twilio",
        "kind": kind,
        "call_sid": request.form.get("CallSid", "")[:64],
        "received_at": time.time(),
        "params": params,
    }
    if kind == "voice":
        raw = request.form.get("From", "")
        event["caller_hash"] = privacy.caller_hash(raw)
        event["caller_state"] = consent.state_for_number(raw)
        # In HIPAA mode the number goes no further than this request: not to Redis, the
        # job queue, the spool or SQL. Only its keyed hash does.
        event["hipaa"] = route is None or route.hipaa
        if event["hipaa"]:
            params.pop("From", None)
    if route is not None:
        event["route"] = {
            "role": route.role,
            "pool_id": route.pool_id,
            "site_id": route.site_id,
            "client_id": route.client_id,
            "match_window": route.match_window,
            "source": route.source,
        }
        event["forward_to"] = route.forward_to
    return event


def _disclosure(plan: Plan | None) -> dict[str, Any]:
    """Proof of disclosure for the call record: whether, which text and when."""
    if plan is None or not plan.record or not plan.notice:
        return {"notice_played": False, "notice_version": None, "notice_at": None}
    return {
        "notice_played": True,
        "notice_version": consent.notice_version(plan.notice),
        "notice_at": time.time(),
    }


def _default_number() -> str | None:
    return current_app.config.get("DEFAULT_FORWARD_NUMBER") or None


# Routes ------------------------------------------------------------------------------------


@bp.post("/voice")
def voice() -> Response:
    """A call is ringing on a tracking number: forward it, queue its record."""
    caller = None
    route = None
    try:
        directory = get_directory()
        snapshot = directory.get()
        to = request.form.get("To", "")
        route = snapshot.routes.get(to) if snapshot else None
        if snapshot is not None and snapshot.tokens and not signature_valid(snapshot, route):
            return _forbidden()
        caller = privacy.normalise(request.form.get("From", ""))
        if snapshot is None or _call_sid() is None:
            return forward_response(route, caller)
        if route is None or route.suspended:
            # No client, or one that is suspended: no recording setting and no notice to
            # stand on, so the call is forwarded unrecorded (recording is opt-in).
            log.info(
                "voice: %s number, forwarding to the default",
                "unknown" if not route else "suspended",
            )
            return _twiml(forward_twiml(_default_number(), caller))
        fresh = routing_fresh(directory, snapshot)
        event = _event("voice", route)
        plan = plan_call(route, event["caller_state"], event["received_at"], fresh)
        plain = plan.degraded(route)
        event |= {"route_kind": plan.kind, "forward_to": plan.target or "", "degraded": not fresh}
        event |= _disclosure(plan)
        # Recording only when the record of the call is safely queued: a degraded call
        # is forwarded plainly, and its spooled record says so.
        queued = submit(
            event_id("twilio", event["call_sid"], "voice"),
            event,
            if_spooled=event
            | _disclosure(None)
            | {"degraded": True, "route_kind": plain.kind, "forward_to": plain.target or ""},
        )
        return _twiml(plan_twiml(plan if queued else plain, caller, to, route))
    except RequestEntityTooLarge:
        raise  # not a call but a body too big to read: 413, as on every endpoint
    except Exception:
        log.exception("voice: unexpected error; forwarding without recording")
        return forward_response(route, caller)


def forward_response(route: Route | None, caller: str | None) -> Response:
    """The degraded answer: forward, record nothing."""
    target = route.forward_to if route is not None and not route.suspended else _default_number()
    return _twiml(forward_twiml(target, caller))


@bp.post("/fallback")
def fallback() -> Response:
    """The number's Fallback URL: forward only, whatever is wrong with the primary."""
    route = None
    caller = None
    try:
        snapshot = get_directory().get()
        route = snapshot.routes.get(request.form.get("To", "")) if snapshot else None
        caller = privacy.normalise(request.form.get("From", ""))
        if _call_sid() and route and signature_valid(snapshot, route):
            event = _event("voice", route)
            event["degraded"] = True
            submit(event_id("twilio", event["call_sid"], "voice"), event)
    except Exception:
        log.exception("fallback: error while noting the call; forwarding anyway")
    return forward_response(route, caller)


def _verified() -> tuple[Response | None, Snapshot | None, Route | None]:
    """A callback's snapshot and route, or the 403/400 answer it gets."""
    snapshot = get_directory().get()
    route = snapshot.routes.get(request.form.get("To", "")) if snapshot else None
    if not signature_valid(snapshot, route):
        return _forbidden(), snapshot, route
    sid = request.form.get("CallSid", "")
    if not sid:
        return Response("CallSid is required\n", status=400, mimetype="text/plain"), None, None
    if not CALL_SID.fullmatch(sid):
        return Response("CallSid is malformed\n", status=400, mimetype="text/plain"), None, None
    return None, snapshot, route


def _callback(kind: str, extra: str = "") -> Response:
    error, _, _ = _verified()
    if error is not None:
        return error
    event = _event(kind, None)
    submit(event_id("twilio", event["call_sid"], kind, extra), event)
    return Response(status=204)


@bp.post("/status")
def status() -> Response:
    """The call's status callback: final status and duration."""
    return _callback("status", request.form.get("CallStatus", ""))


@bp.post("/recording")
def recording() -> Response:
    """The recording status callback of a recorded <Dial> or a voicemail's <Record>."""
    return _callback("recording", request.form.get("RecordingSid", ""))


@bp.post("/transcription")
def transcription() -> Response:
    """A transcript of a recording: a voicemail's <Record transcribeCallback>, or any
    transcription service that posts CallSid and TranscriptionText, signed the same way.

    Stored only for clients that transcribe and are not in HIPAA mode.
    """
    return _callback("transcription", request.form.get("TranscriptionSid", ""))


@bp.post("/dial")
def dial() -> Response:
    """The <Dial> action: whether the business answered; voicemail if it did not."""
    error, snapshot, route = _verified()
    if error is not None:
        return error
    event = _event("dial", None)
    plan = None
    wants_voicemail = (
        route is not None
        and not route.suspended
        and route.voicemail
        and request.form.get("DialCallStatus", "") in UNANSWERED
    )
    if wants_voicemail:
        try:
            plan = voicemail_plan(route, routing_fresh(get_directory(), snapshot))
        except Exception:
            log.exception("dial: could not plan voicemail; hanging up")
    if plan is not None:
        event |= {"route_kind": "voicemail"} | _disclosure(plan)
    queued = submit(
        event_id("twilio", event["call_sid"], "dial"),
        event,
        if_spooled={k: v for k, v in event.items() if k != "route_kind"} | _disclosure(None),
    )
    if plan is not None and queued:
        return _twiml(voicemail_twiml(plan.notice, route.voicemail_prompt, plan.transcribe))
    if wants_voicemail:
        return _twiml(nobody_twiml())
    return _twiml(VoiceResponse())


@bp.post("/voicemail")
def voicemail_done() -> Response:
    """The voicemail <Record> action: the message is in; thank the caller and hang up."""
    error, _, _ = _verified()
    if error is not None:
        return error
    response = VoiceResponse()
    response.say("Thank you. Goodbye.")
    response.hangup()
    return _twiml(response)


@bp.post("/whisper")
def whisper() -> Response:
    """The <Number url> of a whispered call: said to the person answering, never recorded.

    Only calls that are not recorded get a whisper, so no recording can contain it.
    """
    snapshot = get_directory().get()
    route = snapshot.routes.get(request.args.get("n", "")) if snapshot else None
    if not signature_valid(snapshot, route):
        return _forbidden()
    response = VoiceResponse()
    if route is not None and route.whisper and not route.suspended:
        response.say(whisper_text(route))
    return _twiml(response)
