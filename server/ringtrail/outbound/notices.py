"""Telling people about their webhook endpoints: who is told that an endpoint was paused,
and what they read. The e-mail goes through the durable outbox (``messages.py``),
written in the pausing transaction, once per pause."""

from __future__ import annotations

import logging

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ringtrail.outbound import messages
from ringtrail.storage.models import User, WebhookEndpoint

log = logging.getLogger(__name__)


def admins_of(db: Session, endpoint: WebhookEndpoint) -> list[str]:
    """E-mail addresses of who manages the endpoint: the agency's admins and, for a
    client's endpoint, that client's managers (active users only)."""
    whose = User.client_id.is_(None)
    if endpoint.client_id is not None:
        whose = or_(whose, User.client_id == endpoint.client_id)
    rows = db.scalars(
        select(User.email)
        .where(
            User.agency_id == endpoint.agency_id,
            User.active.is_(True),
            User.role.in_(("agency_admin", "client_manager")),
            whose,
        )
        .order_by(User.id)
    ).all()
    return list(rows)


def paused_text(endpoint: WebhookEndpoint) -> tuple[str, str]:
    """The subject and body of the notice that an endpoint was paused."""
    subject = "Ringtrail paused a webhook endpoint"
    body = (
        f"The webhook endpoint {endpoint.url} has failed every delivery since "
        f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC, so Ringtrail paused it.\n\n"
        "Its deliveries are kept and wait. Once the receiver answers again, resume the "
        "endpoint (dashboard: Settings, Webhooks; or `ringtrail webhooks enable "
        f"{endpoint.id}`) and they are sent, in order."
    )
    return subject, body


def endpoint_paused(db: Session, endpoint: WebhookEndpoint) -> list[str]:
    """Tell the endpoint's admins it was paused (in the caller's transaction); returns
    who is told."""
    to = admins_of(db, endpoint)
    if not to:
        log.warning("webhooks: endpoint %s paused, and nobody manages it to be told", endpoint.id)
        return []
    subject, body = paused_text(endpoint)
    stamp = endpoint.state_changed_at.isoformat() if endpoint.state_changed_at else ""
    messages.queue_email(
        db,
        to,
        subject,
        body,
        agency_id=endpoint.agency_id,
        client_id=endpoint.client_id,
        key=f"webhook-paused:{endpoint.id}:{stamp}"[:120],
    )
    return to
