"""The upload log: one row per call and destination (and per later value adjustment),
written by the call's hooks listener in the change's own transaction.

A completed call, or a change to its outcome, is decided again for each of its client's
destinations (``rules.decide``): a row still queued or skipped follows the decision; a
conversion already taken whose value changed gets an adjustment row (Google Ads only:
GA4 takes none). Rows are keyed by (destination, call, key), so a job that applies the
same change twice writes nothing new. Once the transaction commits, a send job is queued
(the worker's periodic sweep catches any that Redis lost).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from ringtrail.calls import hooks
from ringtrail.outbound.platforms import rules
from ringtrail.storage.models import AdDestination, AdUpload, Call, Client, utcnow

log = logging.getLogger(__name__)

CONVERSION = "conversion"
STATUSES = ("queued", "accepted", "sent", "rejected", "skipped")
TAKEN = ("accepted", "sent")
STATUS_WORDS = {
    "queued": "queued",
    "accepted": "accepted by the platform",
    "sent": "sent (the platform confirms nothing)",
    "rejected": "rejected",
    "skipped": "skipped",
}


def adjustment_key(value_minor: int | None, currency: str | None) -> str:
    return f"adjust:{value_minor if value_minor is not None else ''}:{currency or ''}"


def on_call_change(db: Session, call: Call, kind: str, details: dict[str, Any]) -> None:
    """The hooks listener: decide the call again when it completes or its outcome changes.

    It writes in a savepoint: a statement that fails (PostgreSQL would abort the whole
    transaction) rolls back the log's rows only, never the call's own change."""
    if kind == hooks.STARTED or (kind == hooks.UPDATED and details.get("what") != "outcome"):
        return
    if call.client_id is None:
        return
    try:
        with db.begin_nested():
            _decide_all(db, call)
    except Exception:
        log.exception("uploads: no log rows written for call %s (%s)", call.id, kind)


def _decide_all(db: Session, call: Call) -> None:
    dests = db.scalars(
        select(AdDestination).where(
            AdDestination.client_id == call.client_id, AdDestination.enabled.is_(True)
        )
    ).all()
    if not dests:
        return
    client = db.get(Client, call.client_id)
    wrote = False
    for dest in dests:
        wrote |= record(db, call, dest, client, now=utcnow())
    if wrote:
        send_after_commit(db)


def record(db: Session, call: Call, dest: AdDestination, client: Client, *, now: datetime) -> bool:
    """Write what the rules decide for this call and destination; True when a row is
    queued (so a send job is wanted)."""
    decision = rules.decide(call, dest, client)
    row = db.scalar(
        select(AdUpload).where(
            AdUpload.destination_id == dest.id,
            AdUpload.call_id == call.id,
            AdUpload.key == CONVERSION,
        )
    )
    if row is None:
        row = AdUpload(destination_id=dest.id, call_id=call.id, key=CONVERSION, attempts=0)
        db.add(row)
        _follow(row, decision, now)
        return decision.status == "queued"
    if row.status in ("queued", "skipped"):
        _follow(row, decision, now)
        return decision.status == "queued"
    if (
        row.status in TAKEN
        and decision.status == "queued"
        and dest.platform == rules.GOOGLE_ADS
        and (decision.value_minor, decision.currency) != (row.value_minor, row.currency)
    ):
        return _adjust(db, call, dest, decision, now)
    return False


def _follow(row: AdUpload, decision: rules.Decision, now: datetime) -> None:
    row.status = decision.status
    row.reason = decision.reason
    row.value_minor = decision.value_minor
    row.currency = decision.currency
    row.next_attempt_at = now if decision.status == "queued" else None


def _adjust(
    db: Session, call: Call, dest: AdDestination, decision: rules.Decision, now: datetime
) -> bool:
    key = adjustment_key(decision.value_minor, decision.currency)
    found = db.scalar(
        select(AdUpload.id).where(
            AdUpload.destination_id == dest.id, AdUpload.call_id == call.id, AdUpload.key == key
        )
    )
    if found is not None:
        return False
    db.add(
        AdUpload(
            destination_id=dest.id,
            call_id=call.id,
            key=key,
            status="queued",
            reason="",
            value_minor=decision.value_minor,
            currency=decision.currency,
            attempts=0,
            next_attempt_at=now,
        )
    )
    return True


WANTED = "ad-platform-uploads: send"


def _after_commit(session: Session) -> None:
    # Releasing a savepoint (the listener's own) fires after_commit too, inside the
    # outer transaction: only the outermost commit makes the rows visible to a job.
    if session.in_nested_transaction() or not session.info.pop(WANTED, False):
        return
    from ringtrail.storage.clients import get_queue

    with contextlib.suppress(Exception):
        get_queue().enqueue(
            "ringtrail.outbound.platforms.send.send_due", job_timeout=600, result_ttl=600
        )


def _after_rollback(session: Session) -> None:
    session.info.pop(WANTED, None)


def send_after_commit(db: Session) -> None:
    """Queue a send job once this transaction commits (never before: the job must see
    the rows), once however many calls it changed. A Redis that is away costs nothing:
    the periodic sweep sends them."""
    db.info[WANTED] = True
    if not event.contains(db, "after_commit", _after_commit):
        event.listen(db, "after_commit", _after_commit)
        event.listen(db, "after_rollback", _after_rollback)


def reason_words(row: AdUpload) -> str:
    """The row's reason in words: a skip's meaning, or the platform's own reason."""
    if row.status == "skipped":
        return rules.SKIP_REASONS.get(row.reason, row.reason)
    return row.reason


def call_uploads(db: Session, call_id: int) -> list[dict[str, Any]]:
    """A call's uploads, per destination, as the call page, the API and the CSV show them."""
    rows = db.execute(
        select(AdUpload, AdDestination.platform)
        .join(AdDestination, AdDestination.id == AdUpload.destination_id)
        .where(AdUpload.call_id == call_id)
        .order_by(AdUpload.destination_id, AdUpload.id)
    ).all()
    return [
        {
            "destination_id": row.destination_id,
            "platform": platform,
            "kind": "conversion" if row.key == CONVERSION else "adjustment",
            "status": row.status,
            "reason": row.reason,
            "reason_words": reason_words(row),
            "value_minor": row.value_minor,
            "currency": row.currency,
            "attempts": row.attempts,
            "sent_at": row.sent_at,
            "updated_at": row.updated_at,
        }
        for row, platform in rows
    ]


CSV_HEADER = "ad platform uploads"


def summaries(db: Session, call_ids: list[int]) -> dict[int, str]:
    """The CSV cell of each call that has uploads (one query for a page of calls)."""
    if not call_ids:
        return {}
    rows = db.execute(
        select(AdUpload, AdDestination.platform)
        .join(AdDestination, AdDestination.id == AdUpload.destination_id)
        .where(AdUpload.call_id.in_(call_ids), AdUpload.key == CONVERSION)
        .order_by(AdUpload.call_id, AdUpload.destination_id)
    ).all()
    by_call: dict[int, list[dict[str, Any]]] = {}
    for row, platform in rows:
        by_call.setdefault(row.call_id, []).append(
            {"kind": "conversion", "platform": platform, "status": row.status, "reason": row.reason}
        )
    return {call_id: summary(uploads) for call_id, uploads in by_call.items()}


def summary(uploads: list[dict[str, Any]]) -> str:
    """One CSV cell: "google_ads: accepted; ga4: skipped (no_consent)"."""
    parts = []
    for u in uploads:
        if u["kind"] != "conversion":
            continue
        text = f"{u['platform']}: {u['status']}"
        if u["reason"]:
            text += f" ({u['reason']})"
        parts.append(text)
    return "; ".join(parts)


def register() -> None:
    """Listen to the calls' hooks (from ``web.init_app``: every process)."""
    hooks.register("ad-platform-uploads", on_call_change)
