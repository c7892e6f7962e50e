"""Carrier webhooks (Twilio and compatible): answer calls, then record them through jobs.

The voice webhook answers from the in-process routing table and never waits on SQL or a
slow Redis: the call event is queued (or spooled) and TwiML goes back at once. Any fault
ends in TwiML that forwards the caller; only a bad signature is refused (403), and the
number's Fallback URL (``/telephony/twilio/fallback``) forwards even then.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import quote

import phonenumbers
from flask import Blueprint, Response, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, VoiceResponse
from werkzeug.exceptions import RequestEntityTooLarge

from .directory import Directory, Route, Snapshot, get_directory
from .events import event_id, submit

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
}
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


def caller_id(raw: str) -> str | None:
    """The caller's number if it is a real one; anonymous, sip: and client: ids are not."""
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def forward_twiml(
    forward_to: str | None, caller: str | None, *, record: bool = False, notice: str = ""
) -> VoiceResponse:
    """TwiML that connects the caller; when recording, the notice plays first."""
    response = VoiceResponse()
    if not forward_to:
        # Nowhere to send the call: a busy tone is kinder than a spoken error.
        response.reject(reason="busy")
        return response
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    options: dict[str, Any] = {"action": f"{base}/telephony/twilio/dial", "method": "POST"}
    if caller:
        options["caller_id"] = caller
    if record and notice.strip():
        response.say(notice)
        options["record"] = "record-from-answer-dual"
        options["recording_status_callback"] = f"{base}/telephony/twilio/recording"
        options["recording_status_callback_method"] = "POST"
    dial = Dial(**options)
    dial.number(forward_to)
    response.append(dial)
    return response


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
        k: request.form[k].replace("\x00", "")[:500] for k in KEPT_PARAMS[kind] if k in request.form
    }
    event: dict[str, Any] = {
        "provider": "twilio",
        "kind": kind,
        "call_sid": request.form.get("CallSid", "")[:64],
        "received_at": time.time(),
        "params": params,
    }
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


def _default_number() -> str | None:
    return current_app.config.get("DEFAULT_FORWARD_NUMBER") or None


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
        caller = caller_id(request.form.get("From", ""))
        if snapshot is None or _call_sid() is None:
            return forward_response(route, caller)
        if route is None or route.suspended:
            log.info(
                "voice: %s number, forwarding to the default",
                "unknown" if not route else "suspended",
            )
            return _twiml(forward_twiml(_default_number(), caller))
        fresh = routing_fresh(directory, snapshot)
        record = route.record and bool(route.notice.strip()) and fresh
        event = _event("voice", route)
        event["notice_played"] = record
        event["degraded"] = not fresh
        # Recording only when the record of the call is safely queued: a degraded call
        # is forwarded plainly, and its spooled record says so.
        queued = submit(
            event_id("twilio", event["call_sid"], "voice"),
            event,
            if_spooled=event | {"notice_played": False, "degraded": True},
        )
        return _twiml(
            forward_twiml(route.forward_to, caller, record=record and queued, notice=route.notice)
        )
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
        caller = caller_id(request.form.get("From", ""))
        if _call_sid() and route and signature_valid(snapshot, route):
            event = _event("voice", route)
            event["degraded"] = True
            submit(event_id("twilio", event["call_sid"], "voice"), event)
    except Exception:
        log.exception("fallback: error while noting the call; forwarding anyway")
    return forward_response(route, caller)


def _callback(kind: str, extra: str = "") -> Response:
    snapshot = get_directory().get()
    route = snapshot.routes.get(request.form.get("To", "")) if snapshot else None
    if not signature_valid(snapshot, route):
        return _forbidden()
    sid = request.form.get("CallSid", "")
    if not sid:
        return Response("CallSid is required\n", status=400, mimetype="text/plain")
    if not CALL_SID.fullmatch(sid):
        return Response("CallSid is malformed\n", status=400, mimetype="text/plain")
    event = _event(kind, None)
    submit(event_id("twilio", sid, kind, extra), event)
    return Response(status=204)


@bp.post("/status")
def status() -> Response:
    """The call's status callback: final status and duration."""
    return _callback("status", request.form.get("CallStatus", ""))


@bp.post("/recording")
def recording() -> Response:
    """The recording status callback of a recorded <Dial>."""
    return _callback("recording", request.form.get("RecordingSid", ""))


@bp.post("/dial")
def dial() -> Response:
    """The <Dial> action: whether the business answered. Ends the call."""
    result = _callback("dial")
    if result.status_code != 204:
        return result
    return _twiml(VoiceResponse())
