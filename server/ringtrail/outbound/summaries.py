"""Daily and weekly summaries, each in its client's time zone.

A periodic job (hourly, :data:`PERIODIC`) queues each summary once per period, for the
users who asked for it (``daily_summary`` / ``weekly_summary`` preferences), once the
client's local time passes its summary hour (``ClientNotifications.summary_hour``,
default 08:00):

- **daily**: yesterday (local days), compared with the day before; due from the summary
  hour until the end of the local day.
- **weekly**: last week, Monday to Sunday, compared with the week before; due on Monday
  from the summary hour until the end of that Monday.

A summary says: calls, the answered rate, first-time callers, and the top sources and
campaigns with their change against the previous period. The figures come from the
report queries (``reports/figures.py``), the same as the dashboard's and the API's.
Each message is keyed on (kind, client, period, user), so the hourly job and any rerun
write it once; Slack gets one post per client and period. No caller numbers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ringtrail.context import setting
from ringtrail.outbound import messages, preferences
from ringtrail.reports.figures import SourceFigures, source_figures
from ringtrail.reports.periods import Choice
from ringtrail.reports.queries import Period, zone
from ringtrail.storage.jobs import Periodic
from ringtrail.storage.models import Client, ClientNotifications, NotificationPreference

log = logging.getLogger(__name__)

DAILY, WEEKLY = "daily", "weekly"
TOP = 5  # sources and campaigns listed


@dataclass(frozen=True)
class Due:
    """A summary that is due: its kind and the local days it covers."""

    kind: str
    period: Period


def due_periods(client: Client, hour: int, now: datetime) -> list[Due]:
    """The summaries of ``client`` due at ``now`` (its local time past ``hour``)."""
    tz = zone(client.timezone)
    local = now.astimezone(tz)
    if local.hour < hour:
        return []
    today = local.date()
    yesterday = today - timedelta(days=1)
    out = [Due(DAILY, Period(yesterday, yesterday, tz))]
    if today.weekday() == 0:
        out.append(Due(WEEKLY, Period(today - timedelta(days=7), yesterday, tz)))
    return out


def queue_due(db: Session, now: datetime | None = None) -> dict[str, int]:
    """Queue every summary due at ``now``; returns how many messages of each kind were
    written (0 when they were written before). Commits per client."""
    now = now or datetime.now(UTC)
    counts = {DAILY: 0, WEEKLY: 0}
    wanting = or_(
        NotificationPreference.daily_summary.is_(True),
        NotificationPreference.weekly_summary.is_(True),
    )
    client_ids = sorted(set(db.scalars(select(NotificationPreference.client_id).where(wanting))))
    for client_id in client_ids:
        client = db.get(Client, client_id)
        if client is None:
            continue
        settings = db.get(ClientNotifications, client_id)
        hour = settings.summary_hour if settings else preferences.DEFAULT_SUMMARY_HOUR
        try:
            for due in due_periods(client, hour, now):
                counts[due.kind] += queue_summary(db, client, due)
            db.commit()
        except Exception:  # one client's summary never holds back the others'
            db.rollback()
            log.exception("summaries: client %s skipped", client_id)
    return counts


def queue_summary(db: Session, client: Client, due: Due) -> int:
    """Queue one summary for everyone who asked for it; returns messages written."""
    field = f"{due.kind}_summary"
    listeners = preferences.listeners_of(db, client, field)
    if not listeners:
        return 0
    subject, body = content(db, client, due)
    start = due.period.start.isoformat()
    written = 0
    slack = False
    for user, pref in listeners:
        slack = slack or pref.by_slack
        if pref.by_email:
            written += bool(
                messages.queue_email(
                    db,
                    [user.email],
                    subject,
                    body,
                    agency_id=client.agency_id,
                    client_id=client.id,
                    key=f"summary:{due.kind}:{client.id}:{start}:{user.id}",
                )
            )
    url = preferences.slack_url_of(db, client.id) if slack else None
    if url:
        written += bool(
            messages.queue_slack(
                db,
                url,
                f"*{subject}*\n{body}",
                sealed=True,
                agency_id=client.agency_id,
                client_id=client.id,
                key=f"summary:{due.kind}:slack:{client.id}:{start}",
            )
        )
    return written


def _day(d: date) -> str:
    return f"{d:%a %d %b %Y}"


def _span(period: Period) -> str:
    if period.start == period.end:
        return _day(period.start)
    return f"{_day(period.start)} to {_day(period.end)}"


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.0f} %"


def _change(now: float | int | None, before: float | int | None) -> str:
    if now is None or before is None:
        return ""
    if not before:
        return " (none before)"
    change = (now - before) / before
    return f" ({change * 100:+.0f} % vs {before})"


def _rate_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    return f" ({(now - before) * 100:+.0f} points vs {_pct(before)})"


def _top(figures: SourceFigures) -> list[str]:
    lines = []
    for row in [r for r in figures.report.rows if r.calls][:TOP]:
        before = figures.before_row(row.label)
        was = before.calls if before else 0
        change = "new" if not was else f"{(row.calls - was) / was * 100:+.0f} %"
        lines.append(f"  {row.label}: {row.calls} call{'s' * (row.calls != 1)} ({change})")
    return lines or ["  (no calls)"]


def content(db: Session, client: Client, due: Due) -> tuple[str, str]:
    """The subject and plain-text body of one summary."""
    choice = Choice("custom", due.period, "previous")
    sources = source_figures(db, [client.id], choice, "source", "last")
    campaigns = source_figures(db, [client.id], choice, "campaign", "last")
    total, before = sources.report.total, sources.before.total if sources.before else None
    title = f"{due.kind.capitalize()} summary for {client.name}: {_span(due.period)}"
    previous = choice.previous
    lines = [
        title,
        f"Compared with {_span(previous)} ({client.timezone}).",
        "",
        f"Calls: {total.calls}{_change(total.calls, before.calls if before else None)}",
        f"Answered: {_pct(total.answered_rate)}"
        f"{_rate_change(total.answered_rate, before.answered_rate if before else None)}",
        f"First-time callers: {total.first_time_callers}",
        "",
        "Top sources:",
        *_top(sources),
        "",
        "Top campaigns:",
        *_top(campaigns),
        "",
        "Report: " + str(setting("PUBLIC_URL")).rstrip("/") + f"/dashboard/clients/{client.id}",
    ]
    return title, "\n".join(lines) + "\n"


def periodic_summaries() -> dict[str, int]:
    """The periodic job (hourly, see :data:`PERIODIC`)."""
    from ringtrail.storage.sql import get_db

    db = get_db()
    try:
        return queue_due(db)
    finally:
        db.close()


PERIODIC = Periodic(periodic_summaries, cron="3 * * * *", timeout=900)
