"""Admin API: each user's notification preferences per client, and each client's Slack
URL and summary hour (``outbound/preferences.py`` holds the rules)."""

from __future__ import annotations

from typing import Any

from ringtrail.outbound import messages, preferences
from ringtrail.storage.models import Client, User
from ringtrail.storage.sql import get_db
from ringtrail.web.api.blueprint import bp, principal
from ringtrail.web.login import owned
from ringtrail.web.schemas import (
    ClientNotificationsOut,
    ClientNotificationsPatch,
    NotificationsOut,
    NotificationsPatch,
    PageQuery,
    page_of,
)


@bp.get("/users/<int(min=1):user_id>/notifications")
@bp.doc(tags=["notifications"])
@bp.arguments(PageQuery, location="query")
@bp.response(200, page_of(NotificationsOut))
def list_notifications(query: dict[str, Any], user_id: int):
    """What the user is told about, for every client they may be told about."""
    items = preferences.preferences_of(get_db(), owned(User, user_id))
    page, per_page = query["page"], query["per_page"]
    start = (page - 1) * per_page
    return {
        "items": items[start : start + per_page],
        "page": page,
        "per_page": per_page,
        "total": len(items),
    }


@bp.patch("/users/<int(min=1):user_id>/notifications/<int(min=1):client_id>")
@bp.doc(tags=["notifications"])
@bp.arguments(NotificationsPatch)
@bp.response(200, NotificationsOut)
def update_notifications(data: dict[str, Any], user_id: int, client_id: int):
    """Change what the user is told about the client (422 for a client the user cannot
    be told about)."""
    db = get_db()
    out = preferences.set_preferences(
        db, principal(), owned(User, user_id), owned(Client, client_id), data
    )
    db.commit()
    return out


@bp.delete("/users/<int(min=1):user_id>/notifications/<int(min=1):client_id>")
@bp.doc(tags=["notifications"])
@bp.response(204)
def clear_notifications(user_id: int, client_id: int):
    """Tell the user nothing more about the client."""
    db = get_db()
    preferences.clear_preferences(db, principal(), owned(User, user_id), owned(Client, client_id))
    db.commit()


@bp.get("/clients/<int(min=1):client_id>/notifications")
@bp.doc(tags=["notifications"])
@bp.response(200, ClientNotificationsOut)
def client_notifications(client_id: int):
    """Whether the client has a Slack URL (never the URL), its summary hour, and whether
    e-mail is on."""
    out = preferences.client_settings(get_db(), owned(Client, client_id))
    return out | {"email_enabled": messages.mail_enabled()}


@bp.patch("/clients/<int(min=1):client_id>/notifications")
@bp.doc(tags=["notifications"])
@bp.arguments(ClientNotificationsPatch)
@bp.response(200, ClientNotificationsOut)
def update_client_notifications(data: dict[str, Any], client_id: int):
    """Set or remove the client's Slack incoming-webhook URL (stored sealed) and the
    local hour its summaries go out (agency admins and client managers)."""
    db = get_db()
    out = preferences.set_client_settings(db, principal(), owned(Client, client_id), data)
    db.commit()
    return out | {"email_enabled": messages.mail_enabled()}
