"""The hooks listener: each call change becomes one delivery per subscribed endpoint.

Registered on :mod:`ringtrail.calls.hooks` (from ``web.init_app``), it runs inside the
transaction that changed the call, and only writes rows: the body (built now, see
``payloads.py``) and a message id, due at once. When that transaction commits, a job is
queued to send them (``delivery.send_due``); if the queue is away, the worker's sweep
sends them within a minute. So nothing here can delay or break the call's record.

Each row is keyed on (endpoint, event key), the key naming the call and the change:
``call:<id>:started``, ``call:<id>:completed``, ``call:<id>:outcome:<audit id>``,
``call:<id>:recording:<recording id>``.
A job that applies the same change twice writes one row.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from typing import Any

from sqlalchemy import Select, event, or_, select
from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.calls import hooks
from ringtrail.errors import Conflict
from ringtrail.outbound import delivery, payloads
from ringtrail.outbound.webhooks import DISABLED, may_change
from ringtrail.storage.models import Call, Client, WebhookDelivery, WebhookEndpoint, utcnow

log = logging.getLogger(__name__)

NAME = "outbound.webhooks"
EVENT_OF = {hooks.STARTED: "call.started", hooks.COMPLETED: "call.completed"}
UPDATES = ("outcome", "recording")  # what makes a call.updated (a note does not)
PENDING_KEY = "ringtrail_webhooks_pending"


def new_message_id() -> str:
    """A Standard Webhooks message id: ``msg_`` and 24 random characters."""
    return "msg_" + secrets.token_urlsafe(18)


def event_key(call: Call, kind: str, details: dict[str, Any]) -> str | None:
    """What names this change of this call (None: no webhook event)."""
    change = _change(call, kind, details)
    return None if change is None else f"call:{call.id}:{change}"[:120]


def _change(call: Call, kind: str, details: dict[str, Any]) -> str | None:
    if kind in EVENT_OF:
        return kind
    what = details.get("what")
    if what not in UPDATES:
        return None
    if what == "recording":
        return f"recording:{call.recording_sid or ''}"
    if details.get("audit_id") is not None:
        return f"outcome:{details['audit_id']}"
    digest = hashlib.sha256(
        json.dumps(details.get("changes"), sort_keys=True, default=str).encode()
    ).hexdigest()[:16]
    return f"outcome:{details.get('source') or ''}:{digest}"


def listening_endpoints(db: Session, call: Call, name: str) -> list[WebhookEndpoint]:
    """The endpoints (not disabled) of the call's agency and client subscribed to ``name``."""
    agency_id = call.agency_id
    if agency_id is None and call.client_id is not None:
        client = db.get(Client, call.client_id)
        agency_id = client.agency_id if client is not None else None
    if agency_id is None:
        return []
    whose = WebhookEndpoint.client_id.is_(None)
    if call.client_id is not None:
        whose = or_(whose, WebhookEndpoint.client_id == call.client_id)
    rows = db.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.agency_id == agency_id, whose, WebhookEndpoint.state != DISABLED)
        .order_by(WebhookEndpoint.id)
    ).all()
    return [e for e in rows if name in (e.events or [])]


def on_call(db: Session, call: Call, kind: str, details: dict[str, Any]) -> None:
    """The hooks listener: write one delivery per endpoint that hears this change."""
    key = event_key(call, kind, details)
    if key is None:
        return
    name = EVENT_OF.get(kind, "call.updated")
    endpoints = listening_endpoints(db, call, name)
    if not endpoints:
        return
    taken = set(
        db.scalars(
            select(WebhookDelivery.endpoint_id).where(
                WebhookDelivery.endpoint_id.in_([e.id for e in endpoints]),
                WebhookDelivery.event_key == key,
            )
        )
    )
    client = db.get(Client, call.client_id) if call.client_id is not None else None
    hipaa = client is None or bool(client.hipaa)  # a call of no client: the safer side
    now = utcnow()
    for endpoint in endpoints:
        if endpoint.id in taken:
            continue
        data = payloads.call_data(
            db, call, caller_number=endpoint.include_caller_number and not hipaa
        )
        data["changed"] = details.get("what") if kind == hooks.UPDATED else None
        db.add(
            WebhookDelivery(
                endpoint_id=endpoint.id,
                call_id=call.id,
                event=name,
                event_key=key,
                message_id=new_message_id(),
                body=payloads.encode(name, now, data),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        send_after_commit(db, endpoint.id)


def send_after_commit(db: Session, endpoint_id: int) -> None:
    """Queue a sending job for the endpoint once ``db`` commits (once per endpoint)."""
    db.info.setdefault(PENDING_KEY, set()).add(endpoint_id)
    if not event.contains(db, "after_commit", _enqueue_pending):
        event.listen(db, "after_commit", _enqueue_pending)
        event.listen(db, "after_rollback", _forget_pending)


# Releasing or rolling back a savepoint (the hooks listener runs in one) fires these
# events too, inside the outer transaction: only the outermost commit makes the
# deliveries visible to a job, and only the outermost rollback undoes them.
def _forget_pending(db: Session) -> None:
    if not db.in_nested_transaction():
        db.info.pop(PENDING_KEY, None)


def _enqueue_pending(db: Session) -> None:
    if db.in_nested_transaction():
        return
    endpoint_ids = sorted(db.info.pop(PENDING_KEY, set()))
    if not endpoint_ids:
        return
    try:
        for endpoint_id in endpoint_ids:
            delivery.enqueue_sending(endpoint_id)
    except Exception as exc:  # the queue is away: the periodic sweep sends them
        log.warning("webhooks: could not queue sending (%s); the sweep will", exc)


def test_event(
    db: Session, p: Principal, endpoint: WebhookEndpoint, *, queue: bool = True
) -> WebhookDelivery:
    """A ``webhook.test`` delivery for the endpoint, committed and (unless the caller
    sends it itself) queued to be sent."""
    may_change(p, endpoint.client_id)
    now = utcnow()
    message_id = new_message_id()
    data = {"endpoint_id": endpoint.id, "message": "A test event from Ringtrail."}
    row = WebhookDelivery(
        endpoint_id=endpoint.id,
        call_id=None,
        event=payloads.TEST_EVENT,
        event_key=f"test:{message_id}",
        message_id=message_id,
        body=payloads.encode(payloads.TEST_EVENT, now, data),
        status=delivery.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    db.add(row)
    audit.record(
        db, "test", "webhook", endpoint.id, {"message_id": message_id},
        principal=p, agency_id=endpoint.agency_id,
    )  # fmt: skip
    db.commit()
    if queue:
        _queue_resend(row.id)
    return row


def deliveries_query(endpoint: WebhookEndpoint, status: str | None = None) -> Select:
    """The endpoint's deliveries, newest first (of one status, when given)."""
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
    )
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return stmt


def resend(db: Session, p: Principal, row: WebhookDelivery, *, queue: bool = True) -> None:
    """Send a delivery again, by hand, with the same message id (audited): due now, and
    a job sends it whatever the endpoint's state. Conflict while an attempt is in flight.
    If the queue is away, the sweep sends it (while the endpoint is enabled)."""
    endpoint = db.get(WebhookEndpoint, row.endpoint_id)
    may_change(p, endpoint.client_id)
    if row.status == delivery.SENDING:
        raise Conflict("an attempt of this delivery is in flight; try again in a minute")
    row.status = delivery.PENDING
    row.next_attempt_at = utcnow()
    audit.record(
        db, "resend", "webhook_delivery", row.id, {"endpoint_id": endpoint.id},
        principal=p, agency_id=endpoint.agency_id,
    )  # fmt: skip
    db.commit()
    if queue:
        _queue_resend(row.id)


def _queue_resend(delivery_id: int) -> None:
    try:
        delivery.enqueue_resend(delivery_id)
    except Exception as exc:  # the queue is away: the sweep sends it
        log.warning("webhooks: could not queue a resend (%s); the sweep will", exc)


def register() -> None:
    """Listen to every call change (``web.init_app`` calls this in every process)."""
    hooks.register(NAME, on_call)
