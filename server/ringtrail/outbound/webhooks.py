"""Webhook endpoints, shared by the admin API, the dashboard and the command line.

An endpoint belongs to the agency (it hears every client's calls) or to one client. It
subscribes to events (``payloads.EVENTS``), has a URL (https; http only to a loopback or
private address, when ``RINGTRAIL_WEBHOOKS_ALLOW_HTTP`` says so, for tests and local
receivers) and a secret in the Standard Webhooks form (``whsec_`` + base64), sealed at
rest and shown only when it is made. Rotating it keeps the previous secret signing
beside the new one (``webhook-signature`` carries both) for
``RINGTRAIL_WEBHOOKS_SECRET_GRACE_HOURS``, so receivers can switch without losing one.

Everyone of the tenant reads endpoints and their delivery logs; agency admins and
client managers change a client's endpoints; only an agency admin changes the agency's
own. Every change is audited.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.accounts.configuration import agency_of, require_editor
from ringtrail.accounts.tenancy import get_or_404, scoped
from ringtrail.context import setting
from ringtrail.crypto import seal, unseal
from ringtrail.errors import Forbidden, Unprocessable
from ringtrail.outbound.payloads import EVENTS
from ringtrail.storage.models import Client, WebhookDelivery, WebhookEndpoint, utcnow

ENABLED, PAUSED, DISABLED = "enabled", "paused", "disabled"
STATES = (ENABLED, PAUSED, DISABLED)
URL_MAX = 2000
SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def signing_secrets(endpoint: WebhookEndpoint, now: datetime | None = None) -> list[str]:
    """The secrets that sign now: the current one, and the previous one in its grace."""
    now = now or utcnow()
    found = [unseal(endpoint.secret)]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until is not None and until > now:
        found.append(unseal(endpoint.previous_secret))
    return found


def _private(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def check_url(url: str) -> str:
    """The URL, or Unprocessable with the reason it cannot receive webhooks."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        raise Unprocessable("the URL is not a valid URL") from None
    if len(url) > URL_MAX:
        raise Unprocessable(f"the URL is longer than {URL_MAX} characters")
    if not host:
        raise Unprocessable("the URL needs a host")
    if parts.username or parts.password:
        raise Unprocessable(
            "put no user name or password in the URL: the signature proves who sends"
        )
    if parts.fragment:
        raise Unprocessable("the URL must not have a #fragment")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and setting("WEBHOOKS_ALLOW_HTTP") and _private(host):
        return url
    raise Unprocessable(
        "the URL must start with https:// (http:// is allowed only to a loopback or private "
        "address, with RINGTRAIL_WEBHOOKS_ALLOW_HTTP)"
    )


def check_events(events: list[str]) -> list[str]:
    """The events, deduplicated in the order of ``EVENTS``; at least one."""
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise Unprocessable(f"unknown event {unknown[0]!r}: one of {', '.join(EVENTS)}")
    chosen = [e for e in EVENTS if e in events]
    if not chosen:
        raise Unprocessable("subscribe to at least one event")
    return chosen


def may_change(p: Principal, endpoint_client_id: int | None) -> None:
    """Forbidden unless ``p`` may change an endpoint of that client (None: the agency's)."""
    require_editor(p)
    if endpoint_client_id is None and not p.is_agency_admin:
        raise Forbidden("only an agency admin changes the agency's own endpoints")


def _check_caller_number(db: Session, client_id: int | None, wanted: bool) -> None:
    if not wanted or client_id is None:
        return
    client = db.get(Client, client_id)
    if client is not None and client.hipaa:
        raise Unprocessable(
            "this client is in HIPAA mode: its calls never carry the caller's number"
        )


def endpoints_query(p: Principal, client_id: int | None = None):
    """The principal's endpoints (of one client, when given), oldest first."""
    stmt = scoped(select(WebhookEndpoint), WebhookEndpoint, p).order_by(WebhookEndpoint.id)
    if client_id is not None:
        stmt = stmt.where(WebhookEndpoint.client_id == client_id)
    return stmt


def create(
    db: Session, p: Principal, data: dict[str, Any], agency_id: int | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret in clear (shown this once)."""
    client_id = data.get("client_id")
    if client_id is None and p.client_id is not None:
        client_id = p.client_id  # a client's own key or user makes the client's endpoints
    if client_id is not None:
        client = get_or_404(Client, client_id, p)
        agency = client.agency_id
    else:
        agency = agency_of(p, agency_id)
    may_change(p, client_id)
    wanted = bool(data.get("include_caller_number", False))
    _check_caller_number(db, client_id, wanted)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        agency_id=agency,
        client_id=client_id,
        url=check_url(data["url"]),
        description=data.get("description") or "",
        events=check_events(list(data.get("events") or EVENTS)),
        include_caller_number=wanted,
        secret=seal(secret),
        state=ENABLED,
        state_changed_at=utcnow(),
        created_by=p.label[:254],
    )
    db.add(endpoint)
    db.flush()
    _audit(db, p, "create", endpoint, {"url": endpoint.url, "events": endpoint.events})
    db.commit()
    return endpoint, secret


def update(db: Session, p: Principal, endpoint: WebhookEndpoint, data: dict[str, Any]):
    """Change the URL, description, events, caller-number opt-in, or enable or disable it
    (enabling a paused or disabled endpoint sends what waited, from now on)."""
    may_change(p, endpoint.client_id)
    changes: dict[str, Any] = {}
    if "url" in data:
        changes["url"] = check_url(data["url"])
    if "description" in data:
        changes["description"] = data["description"] or ""
    if "events" in data:
        changes["events"] = check_events(list(data["events"]))
    if "include_caller_number" in data:
        wanted = bool(data["include_caller_number"])
        _check_caller_number(db, endpoint.client_id, wanted)
        changes["include_caller_number"] = wanted
    for field, value in changes.items():
        setattr(endpoint, field, value)
    if "enabled" in data:
        if data["enabled"] and endpoint.state != ENABLED:
            resume(db, endpoint, "enabled by " + p.label)
            changes["state"] = ENABLED
        elif not data["enabled"] and endpoint.state != DISABLED:
            set_state(endpoint, DISABLED, "disabled by " + p.label)
            changes["state"] = DISABLED
    _audit(db, p, "update", endpoint, {"changes": sorted(changes)})
    db.commit()
    return endpoint


def rotate(db: Session, p: Principal, endpoint: WebhookEndpoint) -> str:
    """A new secret (returned in clear, this once); the previous one keeps signing beside
    it for the grace period."""
    may_change(p, endpoint.client_id)
    secret = new_secret()
    hours = float(setting("WEBHOOKS_SECRET_GRACE_HOURS"))
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = utcnow() + timedelta(hours=hours)
    endpoint.secret = seal(secret)
    _audit(db, p, "rotate", endpoint, {"grace_hours": hours})
    db.commit()
    return secret


def delete(db: Session, p: Principal, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its delivery log."""
    may_change(p, endpoint.client_id)
    _audit(db, p, "delete", endpoint, {"url": endpoint.url})
    db.delete(endpoint)
    db.commit()


def set_state(endpoint: WebhookEndpoint, state: str, reason: str, now: datetime | None = None):
    """Move the endpoint to ``state`` with a reason in words (the caller commits)."""
    endpoint.state = state
    endpoint.state_reason = reason[:200]
    endpoint.state_changed_at = now or utcnow()


def resume(db: Session, endpoint: WebhookEndpoint, reason: str, now: datetime | None = None):
    """Enable the endpoint: what waited is due now, and its failing clock starts again."""
    now = now or utcnow()
    set_state(endpoint, ENABLED, reason, now)
    endpoint.failing_since = None
    waiting = select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending"
    )
    for delivery in db.scalars(waiting):
        delivery.next_attempt_at = now


def _audit(db: Session, p: Principal, action: str, endpoint: WebhookEndpoint, details: dict):
    details = {"client_id": endpoint.client_id, **details}
    audit.record(
        db, action, "webhook", endpoint.id, details, principal=p, agency_id=endpoint.agency_id
    )
