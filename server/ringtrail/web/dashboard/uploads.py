"""Dashboard pages for ad platform uploads: each client's "Ad platforms" page (connect
Google Ads or GA4, which calls count, test connection, each destination's log and
errors) and the uploads section of a call's page.

Report-only users read both; every POST needs an agency admin or a client manager. A
HIPAA-mode client's page says why it cannot connect any.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import flash, redirect, render_template, request, url_for

from ringtrail.errors import RingtrailError, Unprocessable
from ringtrail.outbound.platforms import destinations, log, rules
from ringtrail.storage.models import Client
from ringtrail.storage.sql import get_db
from ringtrail.terms import EDITORS, LEAD_LABELS, LEAD_STATUSES
from ringtrail.web.dashboard.blueprints import dashboard as bp
from ringtrail.web.login import current_principal, login_required, owned

PLATFORM = "<any(google_ads, ga4):platform>"
FIELDS = {
    rules.GOOGLE_ADS: (
        "account_id",
        "login_account_id",
        "conversion_action_id",
        "oauth_client_id",
        "oauth_client_secret",
        "refresh_token",
    ),
    rules.GA4: ("measurement_id", "api_secret", "event_name"),
}


@bp.app_template_global("call_uploads")
def call_uploads(call_id: int) -> list[dict[str, Any]]:
    """A call's uploads per destination, for its page."""
    return log.call_uploads(get_db(), call_id)


def _page(client_id: int):
    return redirect(url_for("dashboard.client_uploads", client_id=client_id))


@bp.get("/dashboard/settings/clients/<int:client_id>/ad-platforms")
@login_required()
def client_uploads(client_id: int):
    """The client's ad platforms: settings, pause notices, uploads by status, errors."""
    client = owned(Client, client_id)
    db = get_db()
    shown = {}
    for dest in destinations.for_client(db, client.id):
        shown[dest.platform] = {
            "view": destinations.view(dest),
            "counts": destinations.counts_by_status(db, dest.id),
            "errors": destinations.recent_errors(db, dest.id),
        }
    return render_template(
        "settings_uploads.html",
        client=client,
        shown=shown,
        platforms=rules.PLATFORMS,
        names=rules.PLATFORM_NAMES,
        can_edit=current_principal().role in EDITORS and not client.hipaa,
        hipaa_off=rules.HIPAA_OFF,
        lead_statuses=LEAD_STATUSES,
        lead_labels=LEAD_LABELS,
        confidences=rules.CONFIDENCE_ORDER,
        statuses=log.STATUSES,
    )


def _form(platform: str) -> dict[str, Any]:
    """The form as the service takes it; empty secrets keep the stored ones."""
    form = request.form
    data: dict[str, Any] = {
        "enabled": form.get("enabled") == "on",
        "lead_statuses": [s for s in form.getlist("lead_status") if s],
        "tags": [t.strip() for t in form.get("tags", "").split(",") if t.strip()],
        "min_confidence": form.get("min_confidence") or rules.DEFAULT_MIN_CONFIDENCE,
        "currency": (form.get("currency") or "USD").strip().upper(),
    }
    seconds = form.get("min_duration_seconds", "").strip()
    try:
        data["min_duration_seconds"] = int(seconds) if seconds else None
    except ValueError:
        raise Unprocessable("the minimum duration is a number of seconds") from None
    amount = form.get("default_value", "").strip().replace(",", "")
    try:
        data["default_value_minor"] = (
            int((Decimal(amount) * 100).to_integral_exact()) if amount else None
        )
    except (InvalidOperation, ValueError):
        raise Unprocessable("the default value is an amount such as 125.50") from None
    if len(data["currency"]) != 3 or not data["currency"].isalpha():
        raise Unprocessable("the currency is three letters, such as USD")
    for name in FIELDS[platform]:
        value = (form.get(name) or "").strip()
        if value or name not in destinations.SECRETS:
            data[name] = value or None
    if platform == rules.GA4 and not data.get("event_name"):
        data["event_name"] = "phone_call"
    return data


@bp.post(f"/dashboard/settings/clients/<int:client_id>/ad-platforms/{PLATFORM}")
@login_required(*EDITORS)
def save_destination(client_id: int, platform: str):
    """Connect or change one platform."""
    client = owned(Client, client_id)
    db = get_db()
    try:
        data = _form(platform)
        dest = destinations.connect(db, client, platform, data)
        destinations.audit_change(db, current_principal(), client, dest, "update", data)
        db.commit()
    except RingtrailError as exc:
        db.rollback()
        flash(exc.reason, "error")
    else:
        flash(f"{rules.PLATFORM_NAMES[platform]} saved.", "success")
    return _page(client_id)


@bp.post(f"/dashboard/settings/clients/<int:client_id>/ad-platforms/{PLATFORM}/test")
@login_required(*EDITORS)
def test_destination(client_id: int, platform: str):
    """Test the connection (nothing is kept by the platform)."""
    client = owned(Client, client_id)
    try:
        answer = destinations.test_connection(destinations.get(get_db(), client.id, platform))
    except RingtrailError as exc:
        flash(exc.reason, "error")
        return _page(client_id)
    name = rules.PLATFORM_NAMES[platform]
    if answer.kind == "ok":
        flash(f"{name} accepted the test: the connection works.", "success")
    else:
        flash(f"{name} did not accept the test: {answer.reason}", "error")
    return _page(client_id)


@bp.post(f"/dashboard/settings/clients/<int:client_id>/ad-platforms/{PLATFORM}/delete")
@login_required(*EDITORS)
def delete_destination(client_id: int, platform: str):
    """Disconnect one platform (its log goes too)."""
    client = owned(Client, client_id)
    db = get_db()
    try:
        dest = destinations.get(db, client.id, platform)
        destinations.audit_change(db, current_principal(), client, dest, "delete", {})
        destinations.disconnect(db, dest)
        db.commit()
    except RingtrailError as exc:
        db.rollback()
        flash(exc.reason, "error")
    else:
        flash(f"{rules.PLATFORM_NAMES[platform]} disconnected.", "success")
    return _page(client_id)
