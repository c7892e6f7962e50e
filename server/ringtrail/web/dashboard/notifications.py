"""The dashboard's Notifications page: what a person is told about each client, and how;
managers may set it for the users of their tenant, and each client's Slack URL and
summary hour. It says whether e-mail is on and what waits in the outbox.

Everyone reaches the page (report-only users set their own preferences: being told is
reading); the service (``outbound/preferences.py``) decides who may change whose.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from ringtrail.accounts.tenancy import scoped
from ringtrail.errors import RingtrailError
from ringtrail.outbound import messages, preferences
from ringtrail.storage.models import Client, User
from ringtrail.storage.sql import get_db
from ringtrail.terms import EDITORS
from ringtrail.web.dashboard.blueprints import dashboard as bp
from ringtrail.web.login import current_principal, login_required, owned


@bp.get("/dashboard/notifications")
@login_required()
def notifications():
    """The person's own notifications (or, for a manager, another user's: ``?user=ID``)."""
    db, p = get_db(), current_principal()
    user = db.get(User, p.id)
    raw = request.args.get("user", "")
    if raw.isdigit() and int(raw) != p.id:
        user = owned(User, int(raw))
    can_edit = p.role in EDITORS
    people = []
    if can_edit:
        people = db.scalars(scoped(select(User), User, p).order_by(User.email)).all()
    clients = db.scalars(scoped(select(Client), Client, p).order_by(Client.name)).all()
    return render_template(
        "notifications.html",
        user=user,
        own=user.id == p.id,
        rows=preferences.preferences_of(db, user),
        fields=preferences.FIELDS,
        words=preferences.WORDS,
        can_edit=can_edit,
        people=people,
        clients=clients,
        client_settings={c.id: preferences.client_settings(db, c) for c in clients},
        email_on=messages.mail_enabled(),
        outbox=messages.counts_by_status(db, p.agency_id, p.client_id),
        max_age_hours=int(messages.MAX_AGE.total_seconds() // 3600),
    )


def _back(user_id: int | None = None):
    me = current_principal().id
    args: dict[str, Any] = {} if user_id in (None, me) else {"user": user_id}
    return redirect(url_for("dashboard.notifications", **args))


@bp.post("/dashboard/users/<int:user_id>/notifications/<int:client_id>")
@login_required()
def save_notifications(user_id: int, client_id: int):
    """Save one client's row of a user's notifications (the checked boxes)."""
    user, client = owned(User, user_id), owned(Client, client_id)
    data = {name: request.form.get(name) == "1" for name in preferences.FIELDS}
    db = get_db()
    try:
        preferences.set_preferences(db, current_principal(), user, client, data)
        db.commit()
    except RingtrailError as exc:
        db.rollback()
        flash(exc.reason, "error")
    else:
        flash(f"Notifications about {client.name} saved.", "success")
    return _back(user.id)


@bp.post("/dashboard/clients/<int:client_id>/notifications")
@login_required(*EDITORS)
def save_client_notifications(client_id: int):
    """Set or remove the client's Slack URL, and its summary hour."""
    client = owned(Client, client_id)
    data: dict[str, Any] = {}
    url = request.form.get("slack_webhook_url", "").strip()
    if request.form.get("remove_slack") == "1":
        data["slack_webhook_url"] = None
    elif url:
        data["slack_webhook_url"] = url
    hour = request.form.get("summary_hour", "").strip()
    if hour:
        data["summary_hour"] = int(hour) if hour.isdigit() else -1
    db = get_db()
    try:
        preferences.set_client_settings(db, current_principal(), client, data)
        db.commit()
    except RingtrailError as exc:
        db.rollback()
        flash(exc.reason, "error")
    else:
        flash(f"{client.name}: notification settings saved.", "success")
    return _back()
