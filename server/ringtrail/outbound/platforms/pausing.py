"""Pausing a destination whose credentials stopped working, and telling the agency.

The pause is a column (``paused_at``, ``paused_reason``) that the dashboard shows; its
rows stay queued and go once the destination is connected again (:func:`resume`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ringtrail.outbound import messages
from ringtrail.outbound.platforms import rules
from ringtrail.storage.models import AdDestination, AdUpload, Client, User

log = logging.getLogger(__name__)


def pause(db: Session, dest: AdDestination, reason: str, now: datetime) -> None:
    """Pause the destination (once) and tell the agency."""
    if dest.paused_at is not None:
        return
    dest.paused_at = now
    dest.paused_reason = reason[:300]
    log.warning("uploads: destination %s paused: %s", dest.id, reason)
    tell_agency(db, dest, reason)


def resume(db: Session, dest: AdDestination, now: datetime) -> None:
    """Unpause: its queued rows are due at once."""
    dest.paused_at = None
    dest.paused_reason = ""
    db.execute(
        update(AdUpload)
        .where(AdUpload.destination_id == dest.id, AdUpload.status == "queued")
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


def tell_agency(db: Session, dest: AdDestination, reason: str) -> None:
    """E-mail the agency's admins (through the outbound mail queue, when present)."""
    name = rules.PLATFORM_NAMES.get(dest.platform, dest.platform)
    subject = f"Ringtrail: {name} uploads paused for a client"
    body = (
        f"{name} refused the credentials of destination {dest.id} (client {dest.client_id}).\n"
        f"{reason}\n\nNo calls go to {name} for this client until someone connects it "
        "again on the client's Ad platforms page. Calls waiting are kept and sent then."
    )
    notify(db, dest, subject, body)


def notify(db: Session, dest: AdDestination, subject: str, body: str) -> None:
    """Queue the e-mail to the agency's admins in this transaction (once per pause)."""
    client = db.get(Client, dest.client_id)
    if client is None:
        return
    admins = db.scalars(
        select(User.email).where(
            User.agency_id == client.agency_id,
            User.client_id.is_(None),
            User.active.is_(True),
        )
    ).all()
    messages.queue_email(
        db,
        list(admins),
        subject,
        body,
        agency_id=client.agency_id,
        key=f"ad-destination-paused:{dest.id}:{dest.paused_at.isoformat()}",
    )
