"""Retention: each client's call records, visit snapshots and recordings go when their time
is up.

A periodic RQ job (an RQ cron job, run hourly by ``ringtrail worker``) applies each
client's limits (``Client.retention_call_days``,
``retention_snapshot_days``, ``retention_recording_days``; by default 761 days, 761
days and 90 days):

- a **recording** past its limit is deleted at the carrier, then its reference (sid,
  URL, length) and the call's transcription are cleared. If the carrier cannot be
  reached the reference stays, and the next run tries again: a reference is never
  dropped while the audio may still exist.
- a **call** past its limit is deleted, not anonymised: what would be left (a time, a
  tracking number, a duration) still singles the caller out in the business's own phone
  logs. Its recording is deleted at the carrier first (the call waits if that fails), and
  a visit snapshot no other call points at goes with it (counted as a snapshot). Daily
  visit counts and pool hours hold no personal data and stay, so older reports keep
  their visits.
- a **visit snapshot** past its limit is deleted and unlinked from its calls, which keep
  their source and medium.

Ages are measured from when the call started (or was recorded, if it has no start) and
when the visit started. Time is passed in, so tests run the job at any date.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, true, update
from sqlalchemy.orm import Session

from ringtrail.accounts import audit
from ringtrail.accounts.auth import Principal
from ringtrail.storage.jobs import Periodic
from ringtrail.storage.models import (
    Agency,
    AppliedEvent,
    Call,
    Client,
    OutboundMessage,
    Site,
    VisitSnapshot,
)
from ringtrail.storage.sql import get_db
from ringtrail.telephony import carrier
from ringtrail.terms import RETENTION_DEFAULT_DAYS

log = logging.getLogger(__name__)

RUN_EVERY = 3600  # seconds
APPLIED_DAYS = 31  # marks of applied events outlive every stash (30 days)
BATCH = 500  # rows per transaction
MAX_CARRIER_CALLS = 2000  # per run; the next run carries on


def _days(value: int | None, kind: str) -> int:
    """A client's limit in days; a missing or non-positive value means the default."""
    return value if isinstance(value, int) and value > 0 else RETENTION_DEFAULT_DAYS[kind]


def _as_datetime(now: datetime | float | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if isinstance(now, int | float):
        return datetime.fromtimestamp(now, UTC)
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def forget_recording(call: Call) -> None:
    """Clear a call's recording reference and transcript (once the carrier's copy is gone)."""
    call.recording_sid = None
    call.recording_url = None
    call.recording_seconds = None
    call.transcription = None


def delete_recording_at_carrier(db: Session, call: Call) -> bool:
    """Ask the carrier to delete the call's recording; True once it is gone there."""
    if not (call.recording_sid or call.recording_url):
        return True
    if call.provider != "twilio":
        log.warning("retention: call %s: no carrier adapter for %s", call.id, call.provider)
        return False
    client = db.get(Client, call.client_id) if call.client_id else None
    agency = db.get(Agency, client.agency_id) if client else None
    if agency is None:
        return False
    try:
        carrier.delete_recording(agency, call.recording_sid or call.recording_url or "")
    except carrier.CarrierError as exc:
        log.warning("retention: call %s: recording not deleted: %s", call.id, exc)
        return False
    return True


def _started():
    """When a call happened, for its age: its start, or when it was recorded."""
    return func.coalesce(Call.started_at, Call.created_at)


def enforce(now: datetime | float | None = None) -> dict[str, int]:
    """Apply every client's retention limits as of ``now``; returns what went, by kind."""
    now = _as_datetime(now)
    db = get_db()
    counts: Counter[str] = Counter()
    budget = [MAX_CARRIER_CALLS]
    try:
        for client in db.scalars(select(Client).order_by(Client.id)).all():
            _enforce_client(db, client, now, counts, budget)
        _enforce_unclaimed(db, now, counts)
    finally:
        db.close()
    result = {
        k: counts[k]
        for k in (
            "recordings_deleted",
            "recordings_failed",
            "calls_deleted",
            "calls_waiting",
            "snapshots_deleted",
        )
    }
    if any(result.values()):
        log.info("retention: %s", result)
    return result


def _enforce_unclaimed(db: Session, now: datetime, counts: Counter) -> None:
    """Calls of no client (numbers Ringtrail does not route) have no client's limits to
    follow: they go after the default call limit. They are never recorded; one that holds
    a recording reference anyway waits (its audio cannot be deleted without a client)."""
    cut = now - timedelta(days=RETENTION_DEFAULT_DAYS["call"])
    _delete_old_calls(db, (Call.client_id.is_(None), _started() < cut), counts)


def _delete_old_calls(db: Session, old: tuple, counts: Counter) -> None:
    """Delete the calls that match ``old`` and hold no recording, in batches; count those
    that still hold one (their recording could not be deleted yet: the next run)."""
    while True:
        ids = db.scalars(
            select(Call.id)
            .where(*old, Call.recording_sid.is_(None), Call.recording_url.is_(None))
            .order_by(Call.id)
            .limit(BATCH)
        ).all()
        if not ids:
            break
        calls, snapshots = delete_calls(db, ids)
        counts["calls_deleted"] += calls
        counts["snapshots_deleted"] += snapshots
        db.commit()
    counts["calls_waiting"] += db.scalar(select(func.count()).select_from(Call).where(*old)) or 0


def _enforce_client(
    db: Session, client: Client, now: datetime, counts: Counter, budget: list[int]
) -> None:
    call_cut = now - timedelta(days=_days(client.retention_call_days, "call"))
    snap_cut = now - timedelta(days=_days(client.retention_snapshot_days, "snapshot"))
    rec_days = min(
        _days(client.retention_recording_days, "recording"),
        _days(client.retention_call_days, "call"),
    )
    rec_cut = now - timedelta(days=rec_days)

    # Recordings (and transcripts) first: a call past its time needs its audio gone.
    failed: set[int] = set()
    while budget[0] > 0:
        calls = db.scalars(
            select(Call)
            .where(
                Call.client_id == client.id,
                _started() < rec_cut,
                or_(
                    Call.recording_sid.is_not(None),
                    Call.recording_url.is_not(None),
                    Call.transcription.is_not(None),
                ),
                Call.id.not_in(failed) if failed else true(),
            )
            .order_by(Call.id)
            .limit(min(BATCH, budget[0]))
        ).all()
        if not calls:
            break
        for call in calls:
            if call.recording_sid or call.recording_url:
                budget[0] -= 1
            if delete_recording_at_carrier(db, call):
                if call.recording_sid or call.recording_url:
                    counts["recordings_deleted"] += 1
                forget_recording(call)
            else:
                counts["recordings_failed"] += 1
                failed.add(call.id)
        db.commit()

    # Calls: those whose recording could not be deleted wait for the next run.
    _delete_old_calls(db, (Call.client_id == client.id, _started() < call_cut), counts)

    # Visit snapshots of the client's sites.
    site_ids = select(Site.id).where(Site.client_id == client.id)
    while True:
        ids = db.scalars(
            select(VisitSnapshot.id)
            .where(VisitSnapshot.site_id.in_(site_ids), VisitSnapshot.started_at < snap_cut)
            .order_by(VisitSnapshot.id)
            .limit(BATCH)
        ).all()
        if not ids:
            break
        counts["snapshots_deleted"] += delete_snapshots(db, ids)
        db.commit()


def delete_snapshots(db: Session, ids: list[int]) -> int:
    """Unlink snapshots from their calls and delete them (the caller commits)."""
    if not ids:
        return 0
    db.execute(
        update(Call)
        .where(Call.visit_id.in_(ids))
        .values(visit_id=None, session_id=None)
        .execution_options(synchronize_session=False)
    )
    result = db.execute(
        delete(VisitSnapshot)
        .where(VisitSnapshot.id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def delete_calls(db: Session, ids: list[int]) -> tuple[int, int]:
    """Delete calls, the snapshots no remaining call points at, and the notifications
    about them, sent or not (outbound messages; the caller commits).

    Returns how many calls and snapshots went. Recordings must already be gone at the
    carrier.
    """
    if not ids:
        return 0, 0
    db.execute(
        delete(OutboundMessage)
        .where(OutboundMessage.call_id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    visit_ids = set(
        db.scalars(select(Call.visit_id).where(Call.id.in_(ids), Call.visit_id.is_not(None)))
    )
    result = db.execute(
        delete(Call).where(Call.id.in_(ids)).execution_options(synchronize_session=False)
    )
    snapshots = 0
    if visit_ids:
        still_used = set(db.scalars(select(Call.visit_id).where(Call.visit_id.in_(visit_ids))))
        orphans = sorted(visit_ids - still_used)
        if orphans:
            gone = db.execute(
                delete(VisitSnapshot)
                .where(VisitSnapshot.id.in_(orphans))
                .execution_options(synchronize_session=False)
            )
            snapshots = gone.rowcount or 0
    return result.rowcount or 0, snapshots


def periodic_enforce() -> dict[str, int]:
    """The periodic job (hourly, see :data:`PERIODIC`): enforce every client's limits and
    forget old marks of applied call events."""
    result = enforce()
    forget_applied_events()
    return result


def forget_applied_events(now: datetime | float | None = None) -> int:
    """Delete marks of call events applied more than APPLIED_DAYS ago (a job or a spooled
    copy is never that old: stashes expire after 30 days); returns how many went."""
    cut = _as_datetime(now) - timedelta(days=APPLIED_DAYS)
    db = get_db()
    try:
        gone = db.execute(delete(AppliedEvent).where(AppliedEvent.applied_at < cut)).rowcount
        db.commit()
    finally:
        db.close()
    return gone or 0


PERIODIC = Periodic(periodic_enforce, cron="7 * * * *", timeout=RUN_EVERY)


def set_limits(db: Session, principal: Principal, client: Client, data: dict[str, int]) -> Client:
    """Change a client's retention limits (days), audited; the caller checked the tenant."""
    columns = {
        "call_days": "retention_call_days",
        "snapshot_days": "retention_snapshot_days",
        "recording_days": "retention_recording_days",
    }
    changes = {}
    for name, column in columns.items():
        if name in data and data[name] != getattr(client, column):
            changes[column] = [getattr(client, column), data[name]]
            setattr(client, column, data[name])
    if changes:
        audit.record(db, "update", "client", client.id, {"retention": changes}, principal=principal)
    db.commit()
    return client


def limits(client: Client) -> dict[str, int]:
    """A client's retention limits in days, as the API shows them."""
    return {
        "client_id": client.id,
        "call_days": _days(client.retention_call_days, "call"),
        "snapshot_days": _days(client.retention_snapshot_days, "snapshot"),
        "recording_days": _days(client.retention_recording_days, "recording"),
    }
