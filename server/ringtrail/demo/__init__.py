"""The demo: seed data, and a page that leases a number and places a signed test call."""

from __future__ import annotations

import os
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, jsonify, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from ringtrail.storage.models import Agency, Call, Client, Pool, Site, TrackingNumber, User
from ringtrail.storage.sql import get_db

demo_bp = Blueprint("demo", __name__)

DEMO_AGENCY = "Demo Agency"
DEMO_BUSINESS = "+14155550100"
DEMO_TRACKING = [f"+1415555{n:04d}" for n in range(101, 111)]
DEMO_SOURCE_NUMBER = "+14155550120"
DEMO_CALLER = "+12125550143"
DEMO_EMAIL = "demo@ringtrail.local"


def _origins(public_url: str) -> list[str]:
    parts = urlsplit(public_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    out = [origin]
    if parts.hostname in ("127.0.0.1", "localhost"):
        port = f":{parts.port}" if parts.port else ""
        out += [f"{parts.scheme}://localhost{port}", f"{parts.scheme}://127.0.0.1{port}"]
    return sorted(set(out))


def seed_demo(db: Session, public_url: str) -> dict[str, Any]:
    """Create the demo agency, client, site and pool once; describe them either way."""
    agency = db.scalar(select(Agency).where(Agency.name == DEMO_AGENCY))
    if agency is None:
        agency = Agency(
            name=DEMO_AGENCY,
            twilio_account_sid="AC" + secrets.token_hex(16),
            twilio_auth_token=secrets.token_hex(16),
        )
        client = Client(
            agency=agency,
            name="Demo Plumbing",
            business_number=DEMO_BUSINESS,
            timezone="America/Los_Angeles",
            us_state="CA",
            record_calls=True,
        )
        site = Site(
            client=client,
            name="Demo site",
            public_key=secrets.token_hex(10),
            allowed_origins=_origins(public_url),
        )
        pool = Pool(site=site, name="Website visitors", business_number=DEMO_BUSINESS)
        pool.numbers = [TrackingNumber(number=n, role="pool") for n in DEMO_TRACKING]
        pool.numbers.append(TrackingNumber(number=DEMO_SOURCE_NUMBER, role="source", source="*"))
        db.add_all([agency, client, site, pool])
        db.commit()
    site = agency.clients[0].sites[0]
    wanted = set(site.allowed_origins) | set(_origins(public_url))
    if wanted != set(site.allowed_origins):
        site.allowed_origins = sorted(wanted)
        db.commit()
    pool = site.pools[0]
    password = _demo_login(db, agency)
    return {
        "site_key": site.public_key,
        "account_sid": agency.twilio_account_sid,
        "auth_token": agency.twilio_auth_token,
        "business_number": pool.business_number,
        "tracking_numbers": [n.number for n in pool.numbers if n.role == "pool"],
        "source_numbers": [n.number for n in pool.numbers if n.role == "source"],
        "public_url": public_url,
        "dashboard": {
            "url": f"{public_url.rstrip('/')}/login",
            "email": DEMO_EMAIL,
            "password": password,
        },
    }


def _demo_login(db: Session, agency: Agency) -> str:
    """The demo agency admin's password: made once, kept (0600) in the instance folder.

    It exists only for the local demo; real users are made with ``ringtrail user``.
    """
    from ringtrail.accounts.auth import hash_password

    path = os.path.join(current_app.instance_path, "demo-password")
    user = db.scalar(select(User).where(User.email == DEMO_EMAIL))
    if user is not None and os.path.exists(path):
        with open(path) as fh:
            return fh.read().strip()
    password = secrets.token_urlsafe(12)
    if user is None:
        user = User(
            agency_id=agency.id,
            email=DEMO_EMAIL,
            name="Demo admin",
            role="agency_admin",
            password_hash=hash_password(password),
        )
        db.add(user)
    else:
        user.password_hash = hash_password(password)
    db.commit()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password)
    return password


def _demo() -> dict[str, Any]:
    db = get_db()
    if db.scalar(select(Agency).where(Agency.name == DEMO_AGENCY)) is None:
        abort(404)
    return seed_demo(db, current_app.config["PUBLIC_URL"])


@demo_bp.get("/demo")
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


@demo_bp.post("/demo/call")
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


@demo_bp.get("/demo/calls/<sid>")
def call_status(sid: str):
    """The call record, once the worker has written it."""
    _demo()
    call = get_db().scalar(select(Call).where(Call.call_sid == sid))
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
