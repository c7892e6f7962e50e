"""Carrier webhooks (Twilio and compatible): answer calls, then record them through jobs.

The door (``ringtrail.web.telephony``) reads each request into a :class:`Webhook`; the
functions here decide the answer. The voice webhook answers from the in-process routing
table and never waits on SQL or a slow Redis: the call event is queued (or spooled) and
TwiML goes back at once. Any fault ends in TwiML that forwards the caller; only a bad
signature is refused (403), and the number's Fallback URL forwards even then.

The recording rules are in :mod:`ringtrail.telephony.plan`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from twilio.request_validator import RequestValidator, add_port, remove_port
from twilio.twiml.voice_response import VoiceResponse

from ringtrail import phones
from ringtrail.calls.events import UNREAD, CallEvent, clean, event_id, facts_of, number
from ringtrail.calls.intake import submit
from ringtrail.crypto import SecretUnreadable, unseal
from ringtrail.storage.metrics import count_degraded
from ringtrail.telephony import consent, twiml
from ringtrail.telephony.plan import (
    Plan,
    disclosure,
    plan_call,
    routing_fresh,
    voicemail_plan,
    whisper_text,
)
from ringtrail.tracking.directory import Route, Snapshot, default_number, get_directory

log = logging.getLogger(__name__)

PROVIDER = "twilio"
# A <Dial> that ended like this goes to voicemail, when the client takes voicemail.
UNANSWERED = ("no-answer", "busy", "failed")
# Carrier call ids: Twilio's CA…, SignalWire's UUIDs, Telnyx's v3:…; printable, no spaces.
CALL_SID = re.compile(r"[\x21-\x7e]{1,64}")


@dataclass(frozen=True)
class Webhook:
    """One carrier request, as the door read it."""

    url: str  # the URL the carrier signed: the public base plus the raw path and query
    form: Mapping[str, str]  # as text: what the services read
    signature: str = ""
    args: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # The form exactly as signed, bytes that are not UTF-8 kept as surrogate escapes;
    # None when it is the same as ``form``.
    signed: Mapping[str, str] | None = None

    @property
    def call_sid(self) -> str | None:
        """The CallSid if it looks like a carrier's call id."""
        sid = self.form.get("CallSid", "")
        return sid if CALL_SID.fullmatch(sid) else None


@dataclass(frozen=True)
class Answer:
    """What the door sends back."""

    status: int
    body: str
    mimetype: str = "text/xml"

    @classmethod
    def of(cls, response: VoiceResponse) -> Answer:
        return cls(200, str(response))

    @classmethod
    def twiml(cls, body: str) -> Answer:
        return cls(200, body)

    @classmethod
    def text(cls, status: int, body: str) -> Answer:
        return cls(status, body, "text/plain")


class Validator(RequestValidator):
    """Twilio's validator over the bytes as sent (a value that is not valid UTF-8 was
    signed as its bytes, which the door keeps as surrogate escapes), computing one HMAC
    for a genuine request.

    ``RequestValidator.validate`` always computes two signatures: of the URL without its
    port and with it (443 or 80 added), because Twilio's signing back end is not
    consistent about including the default port. Either form is accepted. Here the
    form that matched last for this host is tried first, and the other one only if it
    fails: the same requests pass, for one HMAC instead of two (a forged or
    misconfigured request costs the two). The ``bodySHA256`` form (JSON bodies) is left
    to the library.
    """

    # (scheme, host) -> whether the port form matched last; per process, a hint only.
    _with_port: dict[tuple[str, str], bool] = {}

    def compute_signature(self, uri, params, algorithm=None):
        """The signature of ``uri`` and ``params`` (HMAC-SHA1, Twilio's algorithm)."""
        if algorithm not in (None, "HMAC_SHA1"):
            return super().compute_signature(uri, params, algorithm)
        text = uri + "".join(
            name + value
            for name in sorted(set(params))
            for value in sorted(set(self.get_values(params, name)))
        )
        digest = hmac.new(self.token, text.encode("utf-8", "surrogateescape"), hashlib.sha1)
        return base64.b64encode(digest.digest()).decode("ascii")

    def validate(self, uri, params, signature, algorithm=None):
        """Whether ``signature`` is Twilio's for ``uri`` (with or without its port)."""
        parsed = urlparse(uri)
        if algorithm is not None or not isinstance(params, Mapping) or "bodySHA256" in uri:
            return super().validate(uri, params, signature, algorithm)
        host = (parsed.scheme, parsed.hostname or "")
        first = self._with_port.get(host, False)
        for ported in (first, not first):
            form = add_port(parsed) if ported else remove_port(parsed)
            computed = self.compute_signature(form, params)
            if hmac.compare_digest(computed.encode(), str(signature).encode()):
                self._with_port[host] = ported
                return True
        return False


FORBIDDEN = Answer.text(403, "invalid signature\n")
NO_CONTENT = Answer(204, "", "text/plain")


def verified_agency(snapshot: Snapshot | None, route: Route | None, hook: Webhook) -> int | None:
    """The agency that sent this request, or None if none can have.

    The request names its agency: the number it is about (``To``, when it is a tracking
    number), else its ``AccountSid``. It must carry that agency's AccountSid and be
    signed with that agency's token (or its previous one, during a rotation). No other
    agency's token is ever tried, so an agency's token vouches for its own calls only.
    """
    if snapshot is None or not hook.signature:
        return None
    account = hook.form.get("AccountSid", "")
    agency = route.agency_id if route is not None else snapshot.accounts.get(account)
    sid, tokens = snapshot.tokens.get(agency, (None, []))
    if not account or sid != account:
        return None  # no account, or a tampered one: it cannot borrow another's token
    params = hook.form if hook.signed is None else hook.signed
    for sealed in tokens:
        checker = snapshot.checkers.get(sealed)
        if checker is None:
            try:
                checker = snapshot.checkers[sealed] = Validator(unseal(sealed))
            except SecretUnreadable:  # a key dropped too early: log it, refuse the call
                log.error("agency %s: auth token opens with no configured key", agency)
                continue
        if checker.validate(hook.url, params, hook.signature):
            return agency
    return None


def signature_valid(snapshot: Snapshot | None, route: Route | None, hook: Webhook) -> bool:
    """Whether the request is signed by the agency it names (see :func:`verified_agency`)."""
    return verified_agency(snapshot, route, hook) is not None


def voice_event(
    hook: Webhook,
    route: Route | None,
    agency_id: int | None = None,
    *,
    e164: str | None | object = UNREAD,
    locate: bool = True,
) -> CallEvent:
    """The call's first event, of the route's agency (else ``agency_id``: the agency whose
    account signed a call to a number we do not route). In HIPAA mode, and for numbers
    of no known client, the caller's number goes no further than this request: only its
    keyed hash does. ``e164`` and ``locate``: see :meth:`CallEvent.voice`."""
    form = hook.form
    return CallEvent.voice(
        provider=PROVIDER,
        call_sid=form.get("CallSid", ""),
        received_at=time.time(),
        to=form.get("To", ""),
        caller=form.get("From", ""),
        route=facts_of(route) if route is not None else None,
        hipaa=route is None or route.hipaa,
        agency_id=route.agency_id if route is not None else agency_id,
        status=form.get("CallStatus", ""),
        forward_to=route.forward_to if route is not None else "",
        e164=e164,
        locate=locate,
    )


def read_caller(hook: Webhook) -> str | None:
    """The caller as E.164 (None if withheld or not a number): read once per call, for
    the answer's caller id and the event's hash alike."""
    return phones.normalise(clean(hook.form.get("From", "")) or None)


def update_event(kind: str, hook: Webhook, agency_id: int) -> CallEvent:
    """A later event of the agency's call, from Twilio's parameter names."""
    form = hook.form
    if kind == "status":
        values = {"status": form.get("CallStatus", ""), "duration_seconds": "CallDuration"}
    elif kind == "dial":
        values = {"dial_status": form.get("DialCallStatus", ""), "talk_seconds": "DialCallDuration"}
    elif kind == "recording":
        values = {
            "recording_sid": form.get("RecordingSid", ""),
            "recording_url": form.get("RecordingUrl", ""),
            "recording_status": form.get("RecordingStatus", ""),
            "recording_seconds": "RecordingDuration",
        }
    else:
        values = {
            "transcription_text": form.get("TranscriptionText", ""),
            "transcription_status": form.get("TranscriptionStatus", ""),
        }
    for name in ("duration_seconds", "talk_seconds", "recording_seconds"):
        if name in values:
            values[name] = number(form.get(values[name]))
    return CallEvent.update(
        kind,
        provider=PROVIDER,
        call_sid=form.get("CallSid", ""),
        received_at=time.time(),
        agency_id=agency_id,
        **values,
    )


def target_of(snapshot: Snapshot | None, route: Route | None, agency_id: int | None) -> str | None:
    """Where a call goes when it is forwarded plainly: the business, or (no route, or a
    suspended client) the agency's default number, then RINGTRAIL_DEFAULT_FORWARD_NUMBER."""
    if route is not None and not route.suspended:
        return route.forward_to
    return default_number(snapshot, route.agency_id if route is not None else agency_id)


def forward_default(
    route: Route | None,
    caller: str | None,
    snapshot: Snapshot | None = None,
    agency_id: int | None = None,
) -> Answer:
    """The degraded answer: forward (to the business, or the default number), record
    nothing."""
    return Answer.twiml(twiml.forward_text(target_of(snapshot, route, agency_id), caller))


def unrouted(
    hook: Webhook, snapshot: Snapshot, route: Route | None, agency: int | None, caller: str | None
) -> Answer:
    """A signed call that no route takes: a number the agency's account holds but
    Ringtrail does not route (released but still ringing, bought elsewhere), or one of a
    suspended client. It goes to the agency's default number, unrecorded (no client, or
    one that is suspended: no recording setting and no notice to stand on), and its
    record is queued for the agency whose account signed it. Unsigned, it is only
    forwarded: no stranger can make a record."""
    target = target_of(snapshot, route, agency)
    kind = "suspended" if route is not None else "unknown_number"
    log.info("voice: %s number, forwarding to the default", kind)
    if agency is not None:
        event = voice_event(hook, route, agency, e164=caller)
        event = dataclasses.replace(event, route_kind=kind, forward_to=target or "")
        submit(_event_id(event, "voice"), event)
    return Answer.twiml(twiml.forward_text(target, caller))


def blocked(snapshot: Snapshot, route: Route, hashed: str | None) -> bool:
    """Whether the route's client blocked this caller (by the keyed hash of the number).

    Read from the cached directory like the rest of the configuration; anything that
    goes wrong reading it counts as not blocked: the call connects.
    """
    try:
        return hashed is not None and hashed in snapshot.blocked.get(route.client_id, ())
    except Exception:
        log.exception("voice: block list unreadable; connecting the call")
        return False


def refuse(event: CallEvent) -> Answer:
    """A blocked caller: refuse the call (``<Reject>``) and queue its record, which says
    so (blocked, spam). The only call Ringtrail does not connect, because a person asked."""
    event = dataclasses.replace(event, blocked=True, route_kind="blocked", forward_to="")
    submit(_event_id(event, "voice"), event)
    log.info("voice: blocked caller refused")
    return Answer.of(twiml.reject())


def voice(hook: Webhook) -> Answer:
    """A call is ringing on a tracking number: forward it, queue its record."""
    caller = None
    route = None
    snapshot = None
    agency = None
    try:
        directory = get_directory()
        snapshot = directory.get()
        to = hook.form.get("To", "")
        route = snapshot.routes.get(to) if snapshot else None
        if snapshot is not None and snapshot.tokens:
            agency = verified_agency(snapshot, route, hook)
            if agency is None:
                return FORBIDDEN
        caller = read_caller(hook)
        if snapshot is None or hook.call_sid is None:
            return forward_default(route, caller, snapshot, agency)
        if route is None or route.suspended:
            return unrouted(hook, snapshot, route, agency, caller)
        fresh = routing_fresh(directory, snapshot)
        # The caller's state is looked up here only if the answer depends on it (a
        # recorded call in one_party mode); else the job looks it up.
        locate = route.record and consent.caller_state_matters(route.consent_mode, route.us_state)
        event = voice_event(hook, route, e164=caller, locate=locate)
        if fresh and blocked(snapshot, route, event.caller_hash):
            return refuse(event)
        plan = plan_call(route, event.caller_state, event.received_at, fresh)
        plain = plan.degraded(route)
        event = dataclasses.replace(
            event,
            route_kind=plan.kind,
            forward_to=plan.target or "",
            degraded=not fresh,
            **disclosure(plan, time.time()),
        )

        # Recording only when the record of the call is safely queued: a degraded call
        # is forwarded plainly, and its spooled record says so.
        def spooled() -> CallEvent:
            return dataclasses.replace(
                event,
                degraded=True,
                route_kind=plain.kind,
                forward_to=plain.target or "",
                **disclosure(None, 0),
            )

        queued = submit(_event_id(event, "voice"), event, if_spooled=spooled)
        if not (fresh and queued):
            count_degraded("stale_routing" if not fresh else "not_queued")
        return Answer.twiml(twiml.of_plan_text(plan if queued else plain, caller, to, route))
    except Exception:
        log.exception("voice: unexpected error; forwarding without recording")
        count_degraded("error")
        return forward_default(route, caller, snapshot, agency)


def fallback(hook: Webhook) -> Answer:
    """The number's Fallback URL: forward plainly, whatever is wrong with the primary,
    and queue the call's record when the request is signed by the agency it names (its
    number's, else its account's): a degraded call of route kind "fallback". It has the
    voice webhook's event id, so a call that reached both is one record."""
    route = None
    caller = None
    snapshot = None
    agency = None
    try:
        snapshot = get_directory().get()
        route = snapshot.routes.get(hook.form.get("To", "")) if snapshot else None
        caller = read_caller(hook)
        if hook.call_sid:
            agency = verified_agency(snapshot, route, hook)
        if agency is not None:
            event = voice_event(hook, route, agency, e164=caller)
            event = dataclasses.replace(
                event,
                degraded=True,
                route_kind="fallback",
                forward_to=target_of(snapshot, route, agency) or "",
            )
            submit(_event_id(event, "voice"), event)
    except Exception:
        log.exception("fallback: error while noting the call; forwarding anyway")
    count_degraded("fallback")
    try:
        return forward_default(route, caller, snapshot, agency)
    except Exception:
        log.exception("fallback: no routing; forwarding to the default number")
        return forward_default(None, caller)


def _event_id(event: CallEvent, kind: str, extra: str = "") -> str:
    return event_id(PROVIDER, event.call_sid, kind, extra, event.agency_id)


def _verified(hook: Webhook) -> tuple[Answer | None, Snapshot | None, Route | None, int]:
    """A callback's snapshot, route and agency, or the 403/400 answer it gets."""
    snapshot = get_directory().get()
    route = snapshot.routes.get(hook.form.get("To", "")) if snapshot else None
    agency = verified_agency(snapshot, route, hook)
    if agency is None:
        return FORBIDDEN, snapshot, route, 0
    sid = hook.form.get("CallSid", "")
    if not sid:
        return Answer.text(400, "CallSid is required\n"), None, None, 0
    if not CALL_SID.fullmatch(sid):
        return Answer.text(400, "CallSid is malformed\n"), None, None, 0
    return None, snapshot, route, agency


def callback(hook: Webhook, kind: str) -> Answer:
    """A status, recording or transcription callback: queue the event, answer 204.

    The event belongs to the agency that signed it, so it can only reach that agency's
    call with this CallSid. The event id includes what makes the callback new (the
    status, the recording or the transcription), so each is applied once however often
    it is delivered.
    """
    error, _, _, agency = _verified(hook)
    if error is not None:
        return error
    extra = {"status": "CallStatus", "recording": "RecordingSid"}.get(kind, "TranscriptionSid")
    event = update_event(kind, hook, agency)
    submit(_event_id(event, kind, hook.form.get(extra, "")), event)
    return NO_CONTENT


def dial(hook: Webhook) -> Answer:
    """The <Dial> action: whether the business answered; voicemail if it did not."""
    error, snapshot, route, agency = _verified(hook)
    if error is not None:
        return error
    event = update_event("dial", hook, agency)
    plan: Plan | None = None
    wants_voicemail = (
        route is not None
        and not route.suspended
        and route.voicemail
        and event.dial_status in UNANSWERED
    )
    if wants_voicemail:
        try:
            plan = voicemail_plan(route, routing_fresh(get_directory(), snapshot))
        except Exception:
            log.exception("dial: could not plan voicemail; hanging up")
    spooled = event
    if plan is not None:
        event = dataclasses.replace(event, route_kind="voicemail", **disclosure(plan, time.time()))
    queued = submit(_event_id(event, "dial"), event, if_spooled=spooled)
    if plan is not None and queued:
        return Answer.of(twiml.voicemail(plan.notice, route.voicemail_prompt, plan.transcribe))
    if wants_voicemail:
        return Answer.of(twiml.nobody())
    return Answer.of(VoiceResponse())


def voicemail_done(hook: Webhook) -> Answer:
    """The voicemail <Record> action: the message is in; thank the caller and hang up."""
    error, _, _, _ = _verified(hook)
    return error if error is not None else Answer.of(twiml.goodbye())


def whisper(hook: Webhook) -> Answer:
    """The <Number url> of a whispered call: said to the person answering, never recorded.

    Only calls that are not recorded get a whisper, so no recording can contain it.
    """
    snapshot = get_directory().get()
    route = snapshot.routes.get(hook.args.get("n", "")) if snapshot else None
    if not signature_valid(snapshot, route, hook):
        return FORBIDDEN
    wanted = route is not None and route.whisper and not route.suspended
    return Answer.of(twiml.say(whisper_text(route) if wanted else ""))
