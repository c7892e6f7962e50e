"""Dashboard pages for webhook endpoints: the list (with paused ones called out), one
endpoint with its delivery log, and the buttons: enable, disable, rotate the secret,
send a test event, send a delivery again, delete.

Everyone of the tenant reads them; changes need an agency admin or a client manager (a
client's endpoints) or an agency admin (the agency's own); report-only users get no
form. A new secret is rendered into that one answer, never into a URL or the session.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from sqlalchemy import func, select

from ringtrail.accounts.tenancy import scoped
from ringtrail.errors import Conflict, Forbidden, Invalid
from ringtrail.outbound import events, webhooks
from ringtrail.outbound.payloads import EVENTS
from ringtrail.storage.models import Client, WebhookDelivery, WebhookEndpoint
from ringtrail.storage.sql import get_db
from ringtrail.terms import EDITORS
from ringtrail.web.dashboard.blueprints import dashboard as bp
from ringtrail.web.dashboard.forms import flash_invalid, flash_refusal
from ringtrail.web.login import current_principal, login_required, owned
from ringtrail.web.webhook_schemas import EndpointIn

REFUSED = (Invalid, Conflict, Forbidden)
LOG_ROWS = 50


def paused_endpoints() -> int:
    """How many of this person's endpoints are paused (for the settings page's notice)."""
    p = current_principal()
    if p is None:
        return 0
    stmt = scoped(select(func.count(WebhookEndpoint.id)), WebhookEndpoint, p)
    return get_db().scalar(stmt.where(WebhookEndpoint.state == webhooks.PAUSED)) or 0


@bp.app_context_processor
def _webhook_helpers() -> dict[str, Any]:
    return {"paused_webhook_endpoints": paused_endpoints}


def _list_page(new_secret: str | None = None, new_id: int | None = None, status: int = 200):
    db, p = get_db(), current_principal()
    clients = db.scalars(scoped(select(Client).order_by(Client.name), Client, p)).all()
    shown = request.args.get("client", "")
    one = owned(Client, int(shown)).id if shown.isdigit() else None
    endpoints = db.scalars(webhooks.endpoints_query(p, one)).all()
    names = {c.id: c.name for c in clients}
    page = render_template(
        "settings_webhooks.html",
        endpoints=endpoints,
        clients=clients,
        client_names=names,
        events=EVENTS,
        can_edit=p.role in EDITORS,
        new_secret=new_secret,
        new_id=new_id,
        shown_client=one,
    )
    return page, status


@bp.get("/dashboard/settings/webhooks")
@login_required()
def webhook_endpoints():
    """Every webhook endpoint this person sees, and a form for a new one."""
    return _list_page()


@bp.post("/dashboard/settings/webhooks")
@login_required(*EDITORS)
def create_webhook():
    """Make an endpoint; its secret is shown in this answer only."""
    client_id = request.form.get("client_id", "").strip()
    body: dict[str, Any] = {
        "url": request.form.get("url", ""),
        "description": request.form.get("description", ""),
        "events": request.form.getlist("events"),
        "client_id": int(client_id) if client_id.isdigit() else None,
        "include_caller_number": request.form.get("include_caller_number") == "on",
    }
    try:
        data = EndpointIn().load(body)
    except ValidationError as exc:
        flash_invalid(exc)
        return _list_page(status=422)
    try:
        endpoint, secret = webhooks.create(get_db(), current_principal(), data)
    except REFUSED as exc:
        get_db().rollback()
        return _list_page(status=flash_refusal(exc))
    flash("Endpoint added. Copy its secret now: it will not be shown again.", "success")
    return _list_page(new_secret=secret, new_id=endpoint.id)


def _detail_page(endpoint: WebhookEndpoint, new_secret: str | None = None, status: int = 200):
    db, p = get_db(), current_principal()
    log = db.scalars(events.deliveries_query(endpoint, request.args.get("status")).limit(LOG_ROWS))
    client = db.get(Client, endpoint.client_id) if endpoint.client_id else None
    page = render_template(
        "settings_webhook.html",
        endpoint=endpoint,
        client=client,
        deliveries=log.all(),
        can_edit=p.role in EDITORS and (endpoint.client_id is not None or p.is_agency_admin),
        new_secret=new_secret,
    )
    return page, status


@bp.get("/dashboard/settings/webhooks/<int:endpoint_id>")
@login_required()
def webhook_endpoint(endpoint_id: int):
    """One endpoint: its state and its delivery log."""
    return _detail_page(owned(WebhookEndpoint, endpoint_id))


def _back(endpoint_id: int):
    return redirect(url_for("dashboard.webhook_endpoint", endpoint_id=endpoint_id))


def _act(endpoint: WebhookEndpoint, done: str, action) -> Any:
    try:
        action()
    except REFUSED as exc:
        get_db().rollback()
        flash(exc.reason, "error")
    else:
        flash(done, "success")
    return _back(endpoint.id)


@bp.post("/dashboard/settings/webhooks/<int:endpoint_id>/enable")
@login_required(*EDITORS)
def enable_webhook(endpoint_id: int):
    """Enable (resume) an endpoint: what waited goes out, in order."""
    endpoint = owned(WebhookEndpoint, endpoint_id)
    change = {"enabled": True}
    return _act(
        endpoint,
        "Endpoint enabled: what waited is being sent.",
        lambda: webhooks.update(get_db(), current_principal(), endpoint, change),
    )


@bp.post("/dashboard/settings/webhooks/<int:endpoint_id>/disable")
@login_required(*EDITORS)
def disable_webhook(endpoint_id: int):
    """Disable an endpoint: nothing new is queued for it."""
    endpoint = owned(WebhookEndpoint, endpoint_id)
    change = {"enabled": False}
    return _act(
        endpoint,
        "Endpoint disabled.",
        lambda: webhooks.update(get_db(), current_principal(), endpoint, change),
    )


@bp.post("/dashboard/settings/webhooks/<int:endpoint_id>/test")
@login_required(*EDITORS)
def test_webhook(endpoint_id: int):
    """Send a webhook.test event."""
    endpoint = owned(WebhookEndpoint, endpoint_id)
    return _act(
        endpoint,
        "Test event queued: the log below shows how it went within seconds.",
        lambda: events.test_event(get_db(), current_principal(), endpoint),
    )


@bp.post("/dashboard/settings/webhooks/<int:endpoint_id>/rotate")
@login_required(*EDITORS)
def rotate_webhook(endpoint_id: int):
    """A new secret, shown in this answer only."""
    endpoint = owned(WebhookEndpoint, endpoint_id)
    try:
        secret = webhooks.rotate(get_db(), current_principal(), endpoint)
    except REFUSED as exc:
        return _detail_page(endpoint, status=flash_refusal(exc))
    flash("New secret made. Copy it now: it will not be shown again.", "success")
    return _detail_page(endpoint, new_secret=secret)


@bp.post("/dashboard/settings/webhooks/<int:endpoint_id>/delete")
@login_required(*EDITORS)
def delete_webhook(endpoint_id: int):
    """Delete an endpoint and its log."""
    endpoint = owned(WebhookEndpoint, endpoint_id)
    try:
        webhooks.delete(get_db(), current_principal(), endpoint)
    except REFUSED as exc:
        flash(exc.reason, "error")
        return _back(endpoint.id)
    flash("Endpoint deleted.", "success")
    return redirect(url_for("dashboard.webhook_endpoints"))


@bp.post("/dashboard/settings/webhook-deliveries/<int:delivery_id>/resend")
@login_required(*EDITORS)
def resend_webhook_delivery(delivery_id: int):
    """Send one delivery again, with the same webhook-id."""
    row: WebhookDelivery = owned(WebhookDelivery, delivery_id)
    endpoint = get_db().get(WebhookEndpoint, row.endpoint_id)
    return _act(
        endpoint,
        "Sent again: the log shows how it went within seconds.",
        lambda: events.resend(get_db(), current_principal(), row),
    )
