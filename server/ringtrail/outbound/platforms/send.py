"""Sending the upload log's queued rows: the RQ job and the worker's periodic sweep.

:func:`send_due` claims each destination's due rows (``next_attempt_at`` moves past the
claim, ``attempts`` goes up, committed before anything is sent), sends them (Google Ads
in requests of at most 2,000 events, GA4 one call a request) and writes what the
platform said. Every state is in SQL: a worker killed mid-send leaves claimed rows that
come due again when the claim runs out, and the platform's transaction id dedupes what
was sent twice. A platform that fails never touches calls, webhooks or other
destinations: each destination is sent on its own and its errors stay in its rows.

- 429, 5xx, a timeout: retried with backoff (1 min, doubling, at most 6 h), then
  "rejected" after :data:`MAX_ATTEMPTS`.
- 401/403 or a refused refresh token: the destination is paused (nothing is sent until
  someone connects it again) and the agency is told.
- A malformed event (400): that event is "rejected" with the platform's reason; the
  others of its request go again at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ringtrail.outbound.platforms import answers, ga4, google_ads, rules
from ringtrail.outbound.platforms.pausing import pause
from ringtrail.storage.jobs import Periodic
from ringtrail.storage.models import AdDestination, AdUpload, Call, Client, utcnow
from ringtrail.storage.sql import get_db

log = logging.getLogger(__name__)

CLAIM_SECONDS = 600  # a claimed row comes due again after this, should its sender die
MAX_ATTEMPTS = 10
FIRST_RETRY = 60
MAX_RETRY = 6 * 3600
MAX_ROUNDS = 20  # requests per destination per run; the next run takes the rest


def backoff(attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: a minute, doubling, at most six hours."""
    return timedelta(seconds=min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY))


def due_destinations(db: Session, now: datetime) -> list[int]:
    query = (
        select(AdUpload.destination_id)
        .join(AdDestination, AdDestination.id == AdUpload.destination_id)
        .where(
            AdUpload.status == "queued",
            AdUpload.next_attempt_at <= now,
            AdDestination.enabled.is_(True),
            AdDestination.paused_at.is_(None),
        )
        .distinct()
    )
    return sorted(db.scalars(query))


def claim(db: Session, dest_id: int, limit: int, now: datetime) -> list[AdUpload]:
    """Take up to ``limit`` due rows of the destination, committed before sending."""
    ids = list(
        db.scalars(
            select(AdUpload.id)
            .where(
                AdUpload.destination_id == dest_id,
                AdUpload.status == "queued",
                AdUpload.next_attempt_at <= now,
            )
            .order_by(AdUpload.next_attempt_at, AdUpload.id)
            .limit(limit)
        )
    )
    if not ids:
        return []
    until = now + timedelta(seconds=CLAIM_SECONDS, microseconds=now.microsecond % 997 + 1)
    db.execute(
        update(AdUpload)
        .where(AdUpload.id.in_(ids), AdUpload.status == "queued", AdUpload.next_attempt_at <= now)
        .values(next_attempt_at=until, attempts=AdUpload.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    rows = db.scalars(
        select(AdUpload)
        .where(AdUpload.id.in_(ids), AdUpload.next_attempt_at == until)
        .execution_options(populate_existing=True)
        .order_by(AdUpload.id)
    ).all()
    return list(rows)


def taken(row: AdUpload, answer: answers.Answer, status: str, now: datetime) -> None:
    row.status = status
    row.reason = ""
    row.sent_at = now
    row.request_id = answer.request_id
    row.next_attempt_at = None


def retry(row: AdUpload, reason: str, now: datetime) -> None:
    if row.attempts >= MAX_ATTEMPTS:
        row.status = "rejected"
        row.reason = answers.short(f"gave up after {row.attempts} attempts: {reason}")
        row.next_attempt_at = None
    else:
        row.reason = reason
        row.next_attempt_at = now + backoff(row.attempts)


def reject(row: AdUpload, reason: str) -> None:
    row.status = "rejected"
    row.reason = answers.short(reason)
    row.next_attempt_at = None


def apply_answer(
    db: Session,
    dest: AdDestination,
    rows: list[AdUpload],
    answer: answers.Answer,
    ok_status: str,
    now: datetime,
) -> None:
    """Write what the platform said about these rows (sent together, in this order)."""
    if answer.kind == answers.OK:
        for row in rows:
            taken(row, answer, ok_status, now)
    elif answer.kind == answers.RETRY:
        for row in rows:
            retry(row, answer.reason, now)
    elif answer.kind == answers.AUTH:
        for row in rows:  # not the rows' fault: they wait for the destination to resume
            row.attempts = max(row.attempts - 1, 0)
            row.reason = answer.reason
            row.next_attempt_at = now
        pause(db, dest, answer.reason, now)
    else:
        named = answer.rejected
        for index, row in enumerate(rows):
            if not named:
                reject(row, answer.reason)
            elif index in named:
                reject(row, named[index])
            else:  # refused with the others, not for itself: again at once
                row.attempts = max(row.attempts - 1, 0)
                row.next_attempt_at = now


def send_google(db: Session, dest: AdDestination, rows: list[AdUpload], now: datetime) -> str:
    calls = {
        c.id: c for c in db.scalars(select(Call).where(Call.id.in_([r.call_id for r in rows])))
    }
    events = [google_ads.build_event(calls[r.call_id], r) for r in rows]
    answer = google_ads.ingest(dest, events, http=_http())
    apply_answer(db, dest, rows, answer, "accepted", now)
    return answer.kind


def send_ga4(db: Session, dest: AdDestination, rows: list[AdUpload], now: datetime) -> str:
    kind = answers.OK
    http = _http()
    for row in rows:
        call = db.get(Call, row.call_id)
        answer = ga4.collect(dest, ga4.build_payload(call, row, dest), http=http)
        apply_answer(db, dest, [row], answer, "sent", now)
        kind = answer.kind
        if answer.kind == answers.AUTH:
            for rest in rows[rows.index(row) + 1 :]:
                rest.attempts = max(rest.attempts - 1, 0)
                rest.next_attempt_at = now
            break
    return kind


SENDERS: dict[str, tuple[int, Callable]] = {
    rules.GOOGLE_ADS: (google_ads.MAX_EVENTS, send_google),
    rules.GA4: (25, send_ga4),
}


def _http() -> requests.Session:
    return requests.Session()


def send_destination(db: Session, dest: AdDestination, now: datetime) -> int:
    """Send the destination's due rows; returns how many were sent (whatever the answer)."""
    client = db.get(Client, dest.client_id)
    limit, sender = SENDERS[dest.platform]
    count = 0
    for _ in range(MAX_ROUNDS):
        rows = claim(db, dest.id, limit, now)
        if not rows:
            break
        if client is None or client.hipaa:  # HIPAA mode since the row was written
            for row in rows:
                row.status, row.reason, row.next_attempt_at = "skipped", "hipaa", None
            db.commit()
            continue
        kind = sender(db, dest, rows, now)
        db.commit()
        count += len(rows)
        if kind in (answers.AUTH, answers.RETRY):
            break
    return count


def send_due(now: datetime | None = None) -> dict[str, int]:
    """The job: send every destination's due rows. Returns {destination id: rows sent}."""
    db = get_db()
    sent: dict[str, int] = {}
    for dest_id in due_destinations(db, now or utcnow()):
        dest = db.get(AdDestination, dest_id)
        try:
            sent[str(dest_id)] = send_destination(db, dest, now or utcnow())
        except Exception:  # one destination's failure never stops the others
            db.rollback()
            log.exception("uploads: destination %s failed", dest_id)
    return sent


def periodic_send() -> dict[str, int]:
    """The periodic sweep (every minute, see :data:`PERIODIC`): rows whose job was lost
    or whose retry came due."""
    return send_due()


PERIODIC = Periodic(periodic_send, cron="* * * * *", timeout=600)
