"""Admin API: webhook endpoints (signed call events), their delivery logs, sending a
delivery again and sending a test event."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from ringtrail.outbound import events, webhooks
from ringtrail.storage.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from ringtrail.storage.sql import get_db
from ringtrail.web.api.blueprint import bp, paginate, principal
from ringtrail.web.login import owned
from ringtrail.web.schemas import PageQuery, page_of
from ringtrail.web.webhook_schemas import (
    DeliveryDetailOut,
    DeliveryOut,
    DeliveryQuery,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    NewEndpointOut,
    SecretOut,
)

TAG = ["webhooks"]


def endpoint_out(endpoint: WebhookEndpoint, secret: str | None = None) -> dict[str, Any]:
    """An endpoint as the API shows it (its secret only when just made)."""
    out = {name: getattr(endpoint, name) for name in EndpointOut._declared_fields}
    if secret is not None:
        out["secret"] = secret
    return out


def delivery_out(row: WebhookDelivery, *, detail: bool = False) -> dict[str, Any]:
    """A delivery as the API shows it; with ``detail``, its attempts and body."""
    out = {name: getattr(row, name) for name in DeliveryOut._declared_fields}
    if detail:
        out["log"] = [
            {
                "at": a.at,
                "response_code": a.response_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
                "manual": a.manual,
            }
            for a in get_db().scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == row.id)
                .order_by(WebhookAttempt.id)
            )
        ]
        out["payload"] = json.loads(row.body)
    return out


@bp.get("/webhooks")
@bp.doc(tags=TAG)
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(EndpointOut))
def list_endpoints(query: dict[str, Any]):
    """Webhook endpoints: the agency's own and its clients' (a client key: its client's)."""
    return paginate(webhooks.endpoints_query(principal()), query, endpoint_out)


@bp.post("/webhooks")
@bp.doc(tags=TAG)
@bp.arguments(EndpointIn)
@bp.response(201, NewEndpointOut)
def create_endpoint(data: dict[str, Any]):
    """A webhook endpoint: every client's calls (agency admins), or one client's. Its
    secret (``whsec_...``) is in this answer only; requests are signed with it as the
    Standard Webhooks specification says, and their bodies are ``WebhookEvent``s."""
    endpoint, secret = webhooks.create(get_db(), principal(), data)
    return endpoint_out(endpoint, secret)


@bp.get("/webhooks/<int(min=1):endpoint_id>")
@bp.doc(tags=TAG)
@bp.response(200, EndpointOut)
def get_endpoint(endpoint_id: int):
    """One endpoint, with its state (enabled, paused after 3 days of failures, disabled)."""
    return endpoint_out(owned(WebhookEndpoint, endpoint_id))


@bp.patch("/webhooks/<int(min=1):endpoint_id>")
@bp.doc(tags=TAG)
@bp.arguments(EndpointPatch)
@bp.response(200, EndpointOut)
def update_endpoint(data: dict[str, Any], endpoint_id: int):
    """Change an endpoint; ``enabled: true`` resumes a paused or disabled one."""
    endpoint = owned(WebhookEndpoint, endpoint_id)
    return endpoint_out(webhooks.update(get_db(), principal(), endpoint, data))


@bp.delete("/webhooks/<int(min=1):endpoint_id>")
@bp.doc(tags=TAG)
@bp.response(204)
def delete_endpoint(endpoint_id: int):
    """Delete an endpoint and its delivery log."""
    webhooks.delete(get_db(), principal(), owned(WebhookEndpoint, endpoint_id))


@bp.post("/webhooks/<int(min=1):endpoint_id>/rotate")
@bp.doc(tags=TAG)
@bp.response(200, SecretOut)
def rotate_secret(endpoint_id: int):
    """A new secret; the previous one keeps signing beside it for the grace period."""
    endpoint = owned(WebhookEndpoint, endpoint_id)
    secret = webhooks.rotate(get_db(), principal(), endpoint)
    return {"secret": secret, "previous_secret_until": endpoint.previous_secret_until}


@bp.post("/webhooks/<int(min=1):endpoint_id>/test")
@bp.doc(tags=TAG)
@bp.response(202, DeliveryOut)
def send_test(endpoint_id: int):
    """Send a ``webhook.test`` event (whatever the endpoint's state): the answer is its
    delivery, queued; its log shows the attempt within seconds."""
    endpoint = owned(WebhookEndpoint, endpoint_id)
    return delivery_out(events.test_event(get_db(), principal(), endpoint))


@bp.get("/webhooks/<int(min=1):endpoint_id>/deliveries")
@bp.doc(tags=TAG)
@bp.arguments(DeliveryQuery, location="query")
@bp.response(200, page_of(DeliveryOut))
def list_deliveries(query: dict[str, Any], endpoint_id: int):
    """The endpoint's delivery log, newest first: status, attempts, last answer, latency
    and next attempt. ``status`` filters."""
    endpoint = owned(WebhookEndpoint, endpoint_id)
    stmt = events.deliveries_query(endpoint, query.get("status"))
    return paginate(stmt, query, delivery_out)


@bp.get("/webhook-deliveries/<int(min=1):delivery_id>")
@bp.doc(tags=TAG)
@bp.response(200, DeliveryDetailOut)
def get_delivery(delivery_id: int):
    """One delivery with every attempt and the body sent."""
    return delivery_out(owned(WebhookDelivery, delivery_id), detail=True)


@bp.post("/webhook-deliveries/<int(min=1):delivery_id>/resend")
@bp.doc(tags=TAG)
@bp.response(202, DeliveryOut)
def resend_delivery(delivery_id: int):
    """Send a delivery again now, with the same webhook-id, whatever its status and its
    endpoint's state (409 while an attempt is in flight). The answer is the delivery,
    queued; its log shows the attempt within seconds."""
    row = owned(WebhookDelivery, delivery_id)
    events.resend(get_db(), principal(), row)
    return delivery_out(row)
