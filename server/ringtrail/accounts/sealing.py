"""Every secret Ringtrail stores sealed (``ringtrail.crypto``), and sealing them all again.

- :func:`seal_clear` seals the values an older release stored in clear (carrier tokens);
  ``ringtrail migrate`` runs it after the schema upgrade.
- :func:`rotate` seals every secret again with the newest key of
  ``RINGTRAIL_ENCRYPTION_KEYS`` (``ringtrail secrets rotate``), after which the older
  keys can be dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringtrail.crypto import is_sealed, reseal
from ringtrail.storage.models import (
    AdDestination,
    Agency,
    ClientNotifications,
    OutboundMessage,
    User,
    WebhookEndpoint,
)

# (model, column) of every secret stored sealed.
SEALED = (
    (Agency, "twilio_auth_token"),
    (Agency, "twilio_previous_auth_token"),
    (Agency, "twilio_api_key_secret"),
    (User, "two_factor_secret"),
    (WebhookEndpoint, "secret"),
    (WebhookEndpoint, "previous_secret"),
    (OutboundMessage, "slack_url"),
    (ClientNotifications, "slack_webhook_url"),
    # Ad platform credentials (outbound/platforms/destinations.py).
    (AdDestination, "oauth_client_secret"),
    (AdDestination, "refresh_token"),
    (AdDestination, "api_secret"),
)


def _each(db: Session, change: Callable[[str], str | None]) -> int:
    count = 0
    for model, column in SEALED:
        field = getattr(model, column)
        # populate_existing: what SQL holds now, not what this session read before.
        query = select(model).where(field.is_not(None)).execution_options(populate_existing=True)
        for row in db.scalars(query):
            stored = getattr(row, column)
            changed = change(stored)
            if changed is not None and changed != stored:
                setattr(row, column, changed)
                count += 1
    db.commit()
    return count


def seal_clear(db: Session) -> int:
    """Seal the secrets still stored in clear; returns how many."""
    return _each(db, lambda stored: None if is_sealed(stored) else reseal(stored))


def rotate(db: Session) -> int:
    """Seal every stored secret again with the newest key; returns how many."""
    return _each(db, reseal)
