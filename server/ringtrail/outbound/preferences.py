"""Who is told about what: each user's notification preferences per client, and each
client's Slack URL and summary hour. One service for the admin API, the dashboard and
the command line.

- A user may be told about the clients they can see: an agency admin about any client
  of the agency, a client's user about that client only.
- Every user sets their own preferences, report-only users too (being told is reading).
  Changing another user's preferences takes an agency admin or a client manager (of
  that user's client), and the user must be in their tenant.
- The client's Slack URL and summary hour are configuration: agency admins and client
  managers change them. The URL is stored sealed and never shown back, only whether one
  is set.

Every change is audited.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.accounts.configuration import require_editor
from ringtrail.crypto import seal
from ringtrail.errors import Forbidden, NotFound, Unprocessable
from ringtrail.outbound.messages import check_slack_url
from ringtrail.storage.models import (
    Client,
    ClientNotifications,
    NotificationPreference,
    User,
)

# What a user can be told about, in the order pages and the CLI show them.
EVENTS = ("new_calls", "missed_calls", "first_time_callers", "qualified_leads")
SUMMARIES = ("daily_summary", "weekly_summary")
CHANNELS = ("by_email", "by_slack")
FIELDS = EVENTS + SUMMARIES + CHANNELS
WORDS = {
    "new_calls": "every new call",
    "missed_calls": "missed calls",
    "first_time_callers": "first-time callers",
    "qualified_leads": "calls marked qualified",
    "daily_summary": "a daily summary",
    "weekly_summary": "a weekly summary (Mondays)",
    "by_email": "by e-mail",
    "by_slack": "on the client's Slack",
}
DEFAULTS = {name: name == "by_email" for name in FIELDS}
DEFAULT_SUMMARY_HOUR = 8


def clients_for(db: Session, user: User) -> list[Client]:
    """The clients ``user`` may be told about, by name."""
    query = select(Client).where(Client.agency_id == user.agency_id)
    if user.client_id is not None:
        query = query.where(Client.id == user.client_id)
    return list(db.scalars(query.order_by(Client.name, Client.id)).all())


def may_manage(p: Principal, user: User) -> None:
    """Forbidden (or NotFound, for a user outside the tenant) unless ``p`` may change
    ``user``'s preferences: their own, or a manager's of a user in their tenant."""
    if p.kind == "user" and p.id == user.id:
        return
    if p.agency_id is not None and user.agency_id != p.agency_id:
        raise NotFound("no such user")
    if p.client_id is not None and user.client_id != p.client_id:
        raise NotFound("no such user")
    if not p.can_edit:
        raise Forbidden("only an agency admin or a client manager changes another user's")


def _row(db: Session, user_id: int, client_id: int) -> NotificationPreference | None:
    return db.scalar(
        select(NotificationPreference).where(
            NotificationPreference.user_id == user_id,
            NotificationPreference.client_id == client_id,
        )
    )


def as_dict(client: Client, row: NotificationPreference | None) -> dict[str, Any]:
    """One client's preferences of a user (the defaults where none are set)."""
    values = {name: getattr(row, name) if row else DEFAULTS[name] for name in FIELDS}
    return {"client_id": client.id, "client_name": client.name, **values}


def preferences_of(db: Session, user: User) -> list[dict[str, Any]]:
    """The user's preferences for every client they may be told about."""
    rows = {
        r.client_id: r
        for r in db.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    return [as_dict(c, rows.get(c.id)) for c in clients_for(db, user)]


def set_preferences(
    db: Session, p: Principal, user: User, client: Client, data: dict[str, Any]
) -> dict[str, Any]:
    """Change (some of) the user's preferences for the client; the caller commits."""
    may_manage(p, user)
    if client.id not in {c.id for c in clients_for(db, user)}:
        raise Unprocessable(f"{user.email} cannot be told about that client")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise Unprocessable(f"unknown preference(s): {', '.join(unknown)}")
    row = _row(db, user.id, client.id)
    if row is None:
        row = NotificationPreference(user_id=user.id, client_id=client.id, **DEFAULTS)
        db.add(row)
    changes = {}
    for name, value in data.items():
        if not isinstance(value, bool):
            raise Unprocessable(f"{name} is true or false")
        if getattr(row, name) != value:
            changes[name] = [getattr(row, name), value]
            setattr(row, name, value)
    db.flush()
    if changes:
        details = {"user_id": user.id, "client_id": client.id, "changes": changes}
        audit.record(
            db, "update", "notifications", user.id, details, principal=p, agency_id=user.agency_id
        )
    return as_dict(client, row)


def clear_preferences(db: Session, p: Principal, user: User, client: Client) -> None:
    """Back to the defaults (told about nothing) for that client; the caller commits."""
    may_manage(p, user)
    row = _row(db, user.id, client.id)
    if row is not None:
        db.delete(row)
        details = {"user_id": user.id, "client_id": client.id}
        audit.record(
            db, "delete", "notifications", user.id, details, principal=p, agency_id=user.agency_id
        )


def client_settings(db: Session, client: Client) -> dict[str, Any]:
    """The client's notification settings as shown: whether a Slack URL is set, never it."""
    row = db.get(ClientNotifications, client.id)
    return {
        "client_id": client.id,
        "slack": bool(row and row.slack_webhook_url),
        "summary_hour": row.summary_hour if row else DEFAULT_SUMMARY_HOUR,
    }


def set_client_settings(
    db: Session, p: Principal, client: Client, data: dict[str, Any]
) -> dict[str, Any]:
    """Set the client's Slack URL (``slack_webhook_url``: a URL, or "" / None to remove
    it) and ``summary_hour`` (0-23, the client's local time); the caller commits."""
    require_editor(p)
    row = db.get(ClientNotifications, client.id)
    if row is None:
        row = ClientNotifications(client_id=client.id, summary_hour=DEFAULT_SUMMARY_HOUR)
        db.add(row)
    changed = []
    if "slack_webhook_url" in data:
        url = data["slack_webhook_url"]
        row.slack_webhook_url = seal(check_slack_url(url)) if url else None
        changed.append("slack_webhook_url")
    if "summary_hour" in data:
        hour = data["summary_hour"]
        if not isinstance(hour, int) or isinstance(hour, bool) or not 0 <= hour <= 23:
            raise Unprocessable("summary_hour is an hour from 0 to 23")
        row.summary_hour = hour
        changed.append("summary_hour")
    db.flush()
    if changed:
        # Which settings changed, never the URL itself: it is a secret.
        audit.record(
            db,
            "update",
            "client_notifications",
            client.id,
            {"changed": changed},
            principal=p,
            agency_id=client.agency_id,
        )
    return client_settings(db, client)


def slack_url_of(db: Session, client_id: int) -> str | None:
    """The client's Slack URL as stored (sealed), or None."""
    row = db.get(ClientNotifications, client_id)
    return row.slack_webhook_url if row else None


def wanted_by_anyone(db: Session, client_id: int, fields: tuple[str, ...]) -> set[str]:
    """Which of ``fields`` at least one user asked for about the client (one query: most
    calls of most clients interest nobody, and cost nothing more)."""
    columns = [getattr(NotificationPreference, name) for name in fields]
    rows = db.execute(
        select(*columns).where(
            NotificationPreference.client_id == client_id, or_(*[c.is_(True) for c in columns])
        )
    ).all()
    return {name for row in rows for name, on in zip(fields, row, strict=True) if on}


def listeners_of(
    db: Session, client: Client, field: str
) -> list[tuple[User, NotificationPreference]]:
    """The active users of the client's agency who asked for ``field`` about the client
    and may still be told about it (a user moved to another client is not)."""
    rows = db.execute(
        select(User, NotificationPreference)
        .join(NotificationPreference, NotificationPreference.user_id == User.id)
        .where(
            NotificationPreference.client_id == client.id,
            getattr(NotificationPreference, field).is_(True),
            User.active.is_(True),
            User.agency_id == client.agency_id,
        )
        .order_by(User.id)
    ).all()
    return [
        (user, pref) for user, pref in rows if user.client_id is None or user.client_id == client.id
    ]
