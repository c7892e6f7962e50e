"""The demo's data: one agency, client, site and pool, and a dashboard login."""

from __future__ import annotations

import os
import secrets
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringtrail.accounts.auth import hash_password
from ringtrail.context import instance_path
from ringtrail.crypto import seal, unseal
from ringtrail.storage.models import Agency, Client, Pool, Site, TrackingNumber, User

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
            twilio_auth_token=seal(secrets.token_hex(16)),
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
        "auth_token": unseal(agency.twilio_auth_token),
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
    path = os.path.join(instance_path(), "demo-password")
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
