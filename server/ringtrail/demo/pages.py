"""The demo's pages: a page whose number the real snippet swaps, and a button that places
a signed test call through the real voice webhook.

The result box speaks in words: where the call would ring and which visit it was matched
to (:func:`call_words`), and, when the browser got no number of its own, why
(``/demo/visitor``: the server's own decision, asked again for this browser; the
snippet's answer is the same v1 contract as on any site and never carries a reason).

They exist only in the app ``ringtrail demo`` runs (:func:`ringtrail.demo.create_demo_app`):
the demo page shows the demo agency's login, and no real install may serve it.
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any
from xml.etree import ElementTree

from flask import Blueprint, current_app, jsonify, render_template, request
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from ringtrail.context import setting
from ringtrail.demo.seed import DEMO_AGENCY, DEMO_CALLER, seed_demo
from ringtrail.errors import NotFound
from ringtrail.phones import national
from ringtrail.storage.models import Agency, Call, Client, VisitSnapshot
from ringtrail.storage.sql import get_db
from ringtrail.tracking.devices import bot_reason
from ringtrail.tracking.directory import site_for_key
from ringtrail.tracking.sessions import untracked_because
from ringtrail.web.public import visitor

bp = Blueprint("demo", __name__)


def _demo() -> dict[str, Any]:
    db = get_db()
    if db.scalar(select(Agency).where(Agency.name == DEMO_AGENCY)) is None:
        raise NotFound("the demo is not seeded; run ringtrail seed-demo")
    return seed_demo(db, current_app.config["PUBLIC_URL"])


@bp.get("/demo")
def page():
    """A page with the business number, swapped by the real snippet."""
    return render_template("demo.html", demo=_demo())


def signed_post(url: str, params: dict[str, str], token: str) -> tuple[int, str]:
    """POST form params to ``url`` with a valid X-Twilio-Signature, as Twilio would."""
    signature = RequestValidator(token).compute_signature(url, params)
    data = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 (our own https or http URL)
    req.add_header("X-Twilio-Signature", signature)
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 (our own URL)
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@bp.post("/demo/call")
def place_call():
    """Place a test call to a tracking number through the real, signed voice webhook."""
    demo = _demo()
    to = (request.get_json(silent=True) or {}).get("to", "")
    if to not in demo["tracking_numbers"] + demo["source_numbers"]:
        return jsonify(error="not a demo tracking number"), 400
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    sid = "CA" + secrets.token_hex(16)
    common = {"AccountSid": demo["account_sid"], "CallSid": sid, "From": DEMO_CALLER, "To": to}
    status, twiml = signed_post(
        f"{base}/telephony/twilio/voice",
        common | {"CallStatus": "ringing", "Direction": "inbound"},
        demo["auth_token"],
    )
    # What Twilio would send once the business picked up and the call ended.
    signed_post(
        f"{base}/telephony/twilio/dial",
        common | {"DialCallStatus": "completed", "DialCallDuration": "42"},
        demo["auth_token"],
    )
    signed_post(
        f"{base}/telephony/twilio/status",
        common | {"CallStatus": "completed", "CallDuration": "47"},
        demo["auth_token"],
    )
    return jsonify(
        call_sid=sid,
        webhook_status=status,
        twiml=twiml,
        caller=national(DEMO_CALLER),
        to=national(to),
        rings=[national(n) for n in dialled(twiml)],
    )


def dialled(twiml: str) -> list[str]:
    """The numbers a TwiML answer's <Dial> rings (what "would ring" means)."""
    try:
        root = ElementTree.fromstring(twiml)  # noqa: S314 (our own webhook's answer)
    except ElementTree.ParseError:
        return []
    return [n.text.strip() for n in root.iter("Number") if n.text and n.text.strip()]


UNTRACKED_WORDS = {
    "gpc": "This browser sends Global Privacy Control, so it is not tracked as a person",
    "dnt": "This browser sends Do-Not-Track, which this site honours",
    "consent": "This site waits for the visitor's consent before tracking",
}
UNTRACKED_AFTER = (
    ": it was shown the site's source-level number, not a tracking number of its own, "
    "so a call from it is attributed to its source only."
)


@bp.get("/demo/visitor")
def visitor_status():
    """Whether this browser got a number of its own, and if not, why (the same decision
    the session API made, from the same headers)."""
    demo = _demo()
    site = site_for_key(demo["site_key"])
    who = visitor()
    max_chars = int(setting("UA_MAX_CHARS"))
    headless = bool(setting("HEADLESS_IS_BOT"))
    reason = bot_reason(who.user_agent, max_chars=max_chars, headless_is_bot=headless)
    why = untracked_because(site, who, reason is not None) if site is not None else None
    if why == "bot":
        words = f"This browser was treated as a bot: {reason}" + UNTRACKED_AFTER
    elif why is not None:
        words = UNTRACKED_WORDS[why] + UNTRACKED_AFTER
    else:
        words = "This browser is a visitor: it was leased a tracking number of its own."
    return jsonify(tracked=why is None, why=why, words=words)


@bp.get("/demo/calls/<sid>")
def call_status(sid: str):
    """The call record, once the worker has written it."""
    _demo()
    demo_agency = select(Agency.id).where(Agency.name == DEMO_AGENCY).scalar_subquery()
    call = get_db().scalar(select(Call).where(Call.agency_id == demo_agency, Call.call_sid == sid))
    if call is None:
        return jsonify(found=False, checked_at=time.time())
    visit = call.visit
    client = get_db().get(Client, call.client_id) if call.client_id else None
    return jsonify(
        found=True,
        confidence=call.confidence,
        status=call.status,
        answered=call.answered,
        source=call.source,
        medium=call.medium,
        landing_url=visit.landing_url if visit else None,
        pages=visit.pages if visit else [],
        words=call_words(call, visit, client),
    )


MATCHES = {
    "exact": "It was matched to this visit",
    "late": "It was matched to this visit, after its number had been released",
    "ambiguous": "Several visitors could have called; it was matched to the likeliest visit",
    "repeat": "The caller called before, so it was given that earlier call's visit",
    "source": "It came to a source-level number, so only its source is known",
    "none": "It was not matched to a visit",
}


def visit_words(call: Call, visit: VisitSnapshot | None) -> str:
    """The visit a call was matched to, as a marketer reads it."""
    if visit is None:
        return (
            f"source {call.source or '(none)'} / {call.medium or '(none)'}" if call.source else ""
        )
    parts = [f"source {visit.source or '(direct)'} / {visit.medium or '(none)'}"]
    if visit.campaign:
        parts.append(f"campaign {visit.campaign}")
    if visit.term:
        parts.append(f"keyword “{visit.term}”")
    if visit.landing_url:
        parts.append(f"landing page {visit.landing_url}")
    pages = len(visit.pages or [])
    parts.append(f"{pages} page{'' if pages == 1 else 's'} viewed")
    return ", ".join(parts)


def call_words(call: Call, visit: VisitSnapshot | None, client: Client | None) -> list[str]:
    """The result box's sentences: where the call rang, which visit it was matched to."""
    whose = f", {client.name}'s business number" if client else ""
    lines = [
        f"Your call from {national(call.caller_number or DEMO_CALLER)} to "
        f"{national(call.tracking_number)} would ring {national(call.forwarded_to)}{whose}."
    ]
    match = MATCHES.get(call.confidence, MATCHES["none"])
    detail = visit_words(call, visit)
    lines.append(f"{match}: {detail}." if detail and call.confidence != "none" else f"{match}.")
    if call.answered:
        lines.append(f"The business answered; the call lasted {call.duration_seconds or 0} s.")
    elif call.answered is False:
        lines.append("Nobody answered.")
    return lines
