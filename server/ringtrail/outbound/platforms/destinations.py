"""Connecting a client's ad platforms: the service the API and the dashboard share.

Secrets (the OAuth client secret, the refresh token, GA4's API secret) are sealed at
once and never shown again (masked). A HIPAA-mode client cannot connect any: the reason
is :data:`rules.HIPAA_OFF`. Connecting again (new credentials) resumes a paused one.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.crypto import seal, unseal
from ringtrail.errors import Conflict, Invalid, NotFound
from ringtrail.outbound.platforms import answers, ga4, google_ads, rules
from ringtrail.outbound.platforms.pausing import resume
from ringtrail.storage.models import AdDestination, AdUpload, Client, utcnow
from ringtrail.terms import LEAD_STATUSES

SECRETS = ("oauth_client_secret", "refresh_token", "api_secret")
PLAIN = (
    "enabled",
    "lead_statuses",
    "tags",
    "min_duration_seconds",
    "min_confidence",
    "default_value_minor",
    "currency",
    "account_id",
    "login_account_id",
    "conversion_action_id",
    "oauth_client_id",
    "measurement_id",
    "event_name",
)
REQUIRED = {
    rules.GOOGLE_ADS: (
        "account_id",
        "conversion_action_id",
        "oauth_client_id",
        "oauth_client_secret",
        "refresh_token",
    ),
    rules.GA4: ("measurement_id", "api_secret"),
}
ACCOUNT = re.compile(r"^[0-9]{10}$")
MEASUREMENT = re.compile(r"^G-[A-Z0-9]{4,16}$")
EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")


def mask(secret: str | None) -> str | None:
    if not secret:
        return None
    return "…" + secret[-4:] if len(secret) > 8 else "…"


def view(dest: AdDestination) -> dict[str, Any]:
    """The destination as shown: settings, masked secrets, whether it is paused."""
    out: dict[str, Any] = {"id": dest.id, "client_id": dest.client_id, "platform": dest.platform}
    out |= {name: getattr(dest, name) for name in PLAIN}
    out |= {name: mask(unseal(getattr(dest, name))) for name in SECRETS}
    out["paused"] = dest.paused_at is not None
    out["paused_at"] = dest.paused_at
    out["paused_reason"] = dest.paused_reason
    return out


def for_client(db: Session, client_id: int) -> list[AdDestination]:
    return list(
        db.scalars(
            select(AdDestination)
            .where(AdDestination.client_id == client_id)
            .order_by(AdDestination.id)
        )
    )


def get(db: Session, client_id: int, platform: str) -> AdDestination:
    dest = db.scalar(
        select(AdDestination).where(
            AdDestination.client_id == client_id, AdDestination.platform == platform
        )
    )
    if dest is None:
        raise NotFound("no such destination")
    return dest


def check(data: dict[str, Any], platform: str) -> None:
    """Reasons, in words, for what a destination cannot hold."""
    for status in data.get("lead_statuses") or []:
        if status not in LEAD_STATUSES:
            raise Invalid(f"unknown lead status {status!r}")
    if data.get("min_confidence") not in (None, *rules.CONFIDENCE_ORDER):
        raise Invalid("min_confidence must be one of " + ", ".join(rules.CONFIDENCE_ORDER))
    for name in ("account_id", "login_account_id"):
        value = data.get(name)
        if value and not ACCOUNT.match(str(value).replace("-", "")):
            raise Invalid(f"{name} must be a Google Ads customer id (10 digits)")
    if data.get("measurement_id") and not MEASUREMENT.match(str(data["measurement_id"])):
        raise Invalid("measurement_id must look like G-XXXXXXX")
    if data.get("event_name") and not EVENT_NAME.match(str(data["event_name"])):
        raise Invalid("event_name: letters, digits and _, starting with a letter, 40 at most")
    if platform not in rules.PLATFORMS:
        raise Invalid("platform must be one of " + ", ".join(rules.PLATFORMS))


def connect(
    db: Session, client: Client, platform: str, data: dict[str, Any], now: datetime | None = None
) -> AdDestination:
    """Create or change the client's destination on ``platform``; new credentials resume
    a paused one. Secrets left out (or empty) keep their stored value."""
    if client.hipaa:
        raise Conflict(rules.HIPAA_OFF)
    check(data, platform)
    dest = db.scalar(
        select(AdDestination).where(
            AdDestination.client_id == client.id, AdDestination.platform == platform
        )
    )
    if dest is None:
        dest = AdDestination(
            client_id=client.id,
            platform=platform,
            enabled=True,
            lead_statuses=[],
            tags=[],
            min_duration_seconds=rules.DEFAULT_MIN_DURATION,
            min_confidence=rules.DEFAULT_MIN_CONFIDENCE,
            currency="USD",
            event_name="phone_call",
            paused_reason="",
        )
        db.add(dest)
    for name in PLAIN:
        if name in data:
            value = data[name]
            if name in ("account_id", "login_account_id") and value:
                value = str(value).replace("-", "")
            setattr(dest, name, value)
    new_secret = False
    for name in SECRETS:
        if data.get(name):
            setattr(dest, name, seal(str(data[name])))
            new_secret = True
    missing = [name for name in REQUIRED[platform] if not getattr(dest, name)]
    if missing:
        raise Invalid("missing: " + ", ".join(missing))
    db.flush()
    if new_secret and dest.paused_at is not None:
        resume(db, dest, now or utcnow())
    return dest


def audit_change(
    db: Session, p: Any, client: Client, dest: AdDestination, action: str, data: dict[str, Any]
) -> None:
    """The audit entry of a connect or disconnect: which fields and which secrets changed
    (never a secret's value)."""
    audit.record(
        db,
        action,
        "ad_destination",
        dest.id,
        {
            "platform": dest.platform,
            "fields": sorted(k for k in data if k not in SECRETS),
            "secrets": sorted(k for k in data if k in SECRETS and data[k]),
        },
        principal=p,
        agency_id=client.agency_id,
    )


def disconnect(db: Session, dest: AdDestination) -> None:
    """Forget the destination and its log."""
    db.query(AdUpload).filter(AdUpload.destination_id == dest.id).delete()
    db.delete(dest)


def test_connection(dest: AdDestination) -> answers.Answer:
    """Ask the platform to check the settings without keeping anything."""
    if dest.platform == rules.GOOGLE_ADS:
        return google_ads.test_connection(dest)
    return ga4.test_connection(dest)


def counts_by_status(db: Session, dest_id: int) -> dict[str, int]:
    """Rows of the destination's log by status, for the client's page."""
    from sqlalchemy import func

    rows = db.execute(
        select(AdUpload.status, func.count())
        .where(AdUpload.destination_id == dest_id)
        .group_by(AdUpload.status)
    ).all()
    return {status: n for status, n in rows}


def recent_errors(db: Session, dest_id: int, limit: int = 20) -> list[AdUpload]:
    """The destination's latest rejections and retries, newest first."""
    return list(
        db.scalars(
            select(AdUpload)
            .where(
                AdUpload.destination_id == dest_id,
                (AdUpload.status == "rejected")
                | ((AdUpload.status == "queued") & (AdUpload.reason != "")),
            )
            .order_by(AdUpload.updated_at.desc(), AdUpload.id.desc())
            .limit(limit)
        )
    )
