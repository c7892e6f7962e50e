"""The demo's pages: a page whose number the real snippet swaps, and a button that places
a signed test call through the real voice webhook.

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

from flask import Blueprint, current_app, jsonify, render_template, request
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from ringtrail.demo.seed import DEMO_AGENCY, DEMO_CALLER, seed_demo
from ringtrail.errors import NotFound
from ringtrail.storage.models import Agency, Call
from ringtrail.storage.sql import get_db

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
    return jsonify(call_sid=sid, webhook_status=status, twiml=twiml)


@bp.get("/demo/calls/<sid>")
def call_status(sid: str):
    """The call record, once the worker has written it."""
    _demo()
    demo_agency = select(Agency.id).where(Agency.name == DEMO_AGENCY).scalar_subquery()
    call = get_db().scalar(select(Call).where(Call.agency_id == demo_agency, Call.call_sid == sid))
    if call is None:
        return jsonify(found=False, checked_at=time.time())
    visit = call.visit
    return jsonify(
        found=True,
        confidence=call.confidence,
        status=call.status,
        answered=call.answered,
        source=call.source,
        medium=call.medium,
        landing_url=visit.landing_url if visit else None,
        pages=visit.pages if visit else [],
    )
