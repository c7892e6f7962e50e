"""Call records in SQL: every call event is applied here, idempotently and in any order.

Each kind of event writes only its own columns, so a status callback that overtakes the
voice event, or a webhook delivered twice, still leaves exactly one correct record.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ringtrail.calls import hooks
from ringtrail.calls.attribution import Attribution, EarlierCall, attribute, repeat_of
from ringtrail.calls.events import CallEvent
from ringtrail.context import setting
from ringtrail.storage.models import Call, Client, VisitSnapshot
from ringtrail.terms import ROUTE_KINDS
from ringtrail.tracking.pool import PoolStore
from ringtrail.tracking.visits import Visit, VisitStore

# Later states win; a late "ringing" never overwrites "completed".
STATUS_RANK = {
    "queued": 0,
    "initiated": 1,
    "ringing": 2,
    "in-progress": 3,
    "completed": 4,
    "busy": 4,
    "no-answer": 4,
    "failed": 4,
    "canceled": 4,
}
UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _when(event: CallEvent) -> datetime:
    return datetime.fromtimestamp(event.clock or event.received_at, UTC)


def _find(db: Session, agency_id: int, call_sid: str) -> Call | None:
    return db.scalar(select(Call).where(Call.agency_id == agency_id, Call.call_sid == call_sid))


def call_for(db: Session, agency_id: int, provider: str, call_sid: str) -> Call:
    """The agency's call with this id, created if new; safe when two workers race to
    create it. Another agency's call with the same id is never found, nor touched."""
    call = _find(db, agency_id, call_sid)
    if call is not None:
        return call
    dialect = db.get_bind().dialect.name
    if dialect in UPSERTS:
        # INSERT … ON CONFLICT DO NOTHING rather than a savepoint: on pysqlite, releasing
        # the outermost savepoint commits, and a job that failed later would leave an
        # empty call behind. The new row is part of the job's transaction.
        db.execute(
            UPSERTS[dialect](Call)
            .values(agency_id=agency_id, provider=provider, call_sid=call_sid)
            .on_conflict_do_nothing(index_elements=[Call.agency_id, Call.call_sid])
        )
        return _find(db, agency_id, call_sid)
    try:
        with db.begin_nested():
            call = Call(agency_id=agency_id, provider=provider, call_sid=call_sid)
            db.add(call)
    except IntegrityError:
        call = _find(db, agency_id, call_sid)
    return call


def _agency_of(db: Session, event: CallEvent) -> int | None:
    """The agency of an event; for one stashed before 0.3 (no agency in it), its route's
    client's agency, or else the agency of the one call that bears its id (call ids were
    unique across agencies then, and the event was checked when it came in)."""
    if event.agency_id is not None:
        return event.agency_id
    route = event.route
    if route is not None and route.client_id is not None:
        return db.scalar(select(Client.agency_id).where(Client.id == route.client_id))
    owners = db.scalars(select(Call.agency_id).where(Call.call_sid == event.call_sid)).all()
    return owners[0] if len(owners) == 1 else None


def snapshot_visit(db: Session, session_id: str, visit: Visit) -> VisitSnapshot:
    """Copy a live visit to SQL (or refresh the copy), keyed by its session id."""
    snap = db.scalar(select(VisitSnapshot).where(VisitSnapshot.session_id == session_id))
    if snap is None:
        snap = VisitSnapshot(session_id=session_id, site_id=visit.site_id)
        db.add(snap)
    snap.started_at = datetime.fromtimestamp(visit.started, UTC)
    snap.landing_url = visit.landing_url
    snap.landing_title = visit.title[:200]
    snap.referrer = visit.referrer
    snap.source = visit.source
    snap.medium = visit.medium
    snap.campaign = visit.campaign
    snap.term = visit.term
    snap.content = visit.content
    snap.click_ids = dict(visit.click_ids)
    snap.device = visit.device
    snap.browser = visit.browser
    snap.os = visit.os
    snap.pages = [list(p) for p in visit.pages]
    snap.consent = visit.consent or None
    snap.ga4 = dict(visit.ga4) if visit.ga4 else None
    return snap


def advance_status(db: Session, call: Call, status: str, *, same_rank: bool = True) -> None:
    """Move the call to ``status`` unless it is already further along.

    One conditional UPDATE, so two workers applying two status events of one call at
    once cannot lose the later state (a read-then-write in Python could).
    """
    rank = STATUS_RANK.get(status)
    if rank is None:
        return
    current = case(STATUS_RANK, value=Call.status, else_=-1)
    allowed = current <= rank if same_rank else current < rank
    db.execute(
        update(Call)
        .where(Call.id == call.id, allowed)
        .values(status=status)
        .execution_options(synchronize_session="fetch")
    )


def apply_event(db: Session, event: CallEvent, pools: PoolStore, visits: VisitStore) -> Call | None:
    """Apply one call event to its agency's call record (the caller commits); None for
    an event of an older release whose agency cannot be told (it is dropped)."""
    agency_id = _agency_of(db, event)
    if agency_id is None:
        return None
    call = call_for(db, agency_id, event.provider, event.call_sid)
    if event.kind == "voice":
        first = call.started_at is None
        _apply_voice(db, call, event, pools, visits)
        if first:  # a redelivered voice webhook starts nothing again
            hooks.emit(db, call, hooks.STARTED)
    elif event.kind == "status":
        advance_status(db, call, event.status)
        if event.duration_seconds is not None:
            call.duration_seconds = event.duration_seconds
    elif event.kind == "dial":
        call.dial_status = event.dial_status[:20] or call.dial_status
        call.talk_seconds = event.talk_seconds
        call.answered = call.dial_status in ("completed", "answered")
        if event.route_kind == "voicemail":
            call.route_kind = "voicemail"
        apply_disclosure(call, event)
    elif event.kind == "recording" and event.recording_status in ("", "completed"):
        if _client_allows(db, call, "record"):
            call.recording_sid = event.recording_sid[:64] or None
            call.recording_url = event.recording_url or None
            call.recording_seconds = event.recording_seconds
            hooks.emit(db, call, hooks.UPDATED, {"what": "recording"})
    elif event.kind == "transcription":
        done = event.transcription_status in ("", "completed")
        if done and _client_allows(db, call, "transcribe"):
            call.transcription = event.transcription_text or None
    return call


def _client_allows(db: Session, call: Call, what: str) -> bool:
    """Whether the call's client may keep a recording, or a transcript, of it.

    A recording reference is kept unless the client is in HIPAA mode (the webhook never
    asks for one then; this is the second lock). A transcript only for clients that
    transcribe, outside HIPAA mode. A call not yet known keeps neither: the safer loss.
    """
    client = db.get(Client, call.client_id) if call.client_id is not None else None
    if what == "record":
        return client is None or not client.hipaa
    return client is not None and bool(client.transcribe) and not client.hipaa


def apply_disclosure(call: Call, event: CallEvent) -> None:
    """Record that the notice played: the first time it did, with its text's version.

    Idempotent and order-free: an event without a notice never unsets one.
    """
    if not event.notice_played:
        return
    at = event.notice_at
    when = datetime.fromtimestamp(at, UTC) if at is not None else _when(event)
    if not call.notice_played or call.notice_at is None or when < call.notice_at:
        call.notice_at = when
        call.notice_version = (event.notice_version or "")[:16] or None
    call.notice_played = True


def _mark_blocked(call: Call) -> None:
    """A call refused because the client blocked its caller: spam, unless a person has
    already said otherwise."""
    call.blocked = True
    call.confidence = "none"
    sources = dict(call.outcome_sources or {})
    if sources.get("lead_status") != "manual":
        call.lead_status = "spam"
        call.outcome_sources = sources | {"lead_status": "block"}


def fixed_number_source(role: str, pattern: str | None) -> tuple[str, str]:
    """What a call to a fixed number says about its source.

    An overflow number and a catch-all ("*") source number serve visitors of any source,
    so they say only that; "google/organic" names both, "google" the source alone.
    """
    if role == "overflow":
        return "(overflow)", "(none)"
    if not pattern or pattern == "*":
        return "(untracked)", "(none)"
    source, _, medium = pattern.partition("/")
    return source, medium or "(any)"


def _apply_voice(
    db: Session, call: Call, event: CallEvent, pools: PoolStore, visits: VisitStore
) -> None:
    route = event.route
    if route is not None and route.agency_id not in (None, call.agency_id):
        route = None  # a second lock: a call never joins another agency's client
    call.started_at = call.started_at or _when(event)
    call.tracking_number = event.to[:20]
    # HIPAA events carry no number at all; the check here is a second lock.
    call.caller_number = None if event.hipaa or not event.caller else event.caller[:64]
    call.caller_hash = event.caller_hash or call.caller_hash
    call.caller_state = (event.caller_state_of() or "")[:2] or None
    call.client_id = route.client_id if route else None
    call.site_id = route.site_id if route else None
    call.pool_id = route.pool_id if route else None
    call.forwarded_to = event.forward_to[:20]
    call.degraded = event.degraded
    kind = event.route_kind
    if call.route_kind != "voicemail" and kind in ROUTE_KINDS:  # voicemail, once set, stays
        call.route_kind = kind
    apply_disclosure(call, event)
    if event.hipaa and route is not None and route.client_id is not None:
        hipaa = db.get(Client, route.client_id)
        if hipaa is not None and hipaa.hipaa:  # nothing recorded may stay, whatever arrived
            call.recording_sid = call.recording_url = call.transcription = None
            call.recording_seconds = None
    advance_status(db, call, event.status, same_rank=False)
    if event.blocked:
        _mark_blocked(call)
        return  # refused: never connected, attributed to no visit

    role = route.role if route else None
    if role in ("source", "overflow"):
        call.confidence = "source"
        call.source, call.medium = fixed_number_source(role, route.source)
        return
    if role != "pool" or call.pool_id is None:
        call.confidence = "none"
        return
    # The time the call first reached us: a redelivered webhook must not move it later.
    # Stamped by Redis's clock (the leases' clock) unless it was spooled; a spooled call
    # carries its web node's clock, judged with a tolerance.
    tolerance = 0.0 if event.clock else float(setting("CLOCK_TOLERANCE_SECONDS"))
    t = call.started_at.timestamp()
    found: Attribution = attribute(
        pools.records(call.pool_id, call.tracking_number), t, float(route.match_window), tolerance
    )
    call.confidence = found.confidence
    call.session_id = found.session
    call.repeat_of = None
    call.candidates = None
    earlier = _repeat(db, call, found, t)
    if earlier is not None:
        call.confidence = "repeat"
        call.repeat_of = earlier.id
        call.session_id, call.visit_id = earlier.session_id, earlier.visit_id
        call.source, call.medium = earlier.source, earlier.medium
        return
    if found.session and (visit := visits.get(found.session)) is not None:
        snap = snapshot_visit(db, found.session, visit)
        db.flush()
        call.visit_id = snap.id
        call.source, call.medium = visit.source, visit.medium
    if found.candidates:
        call.candidates = _snapshot_candidates(db, found.candidates, visits)


MAX_CANDIDATES = 5  # an ambiguous call shows this many possible visitors, best first


def candidate_visits(db: Session, call: Call) -> list[VisitSnapshot]:
    """The visits that could have made an ambiguous call, best first (those still kept;
    only the call's own site's, whatever the stored ids say)."""
    ids = [i for i in (call.candidates or []) if isinstance(i, int)]
    if not ids or call.site_id is None:
        return []
    found = db.scalars(
        select(VisitSnapshot).where(
            VisitSnapshot.id.in_(ids), VisitSnapshot.site_id == call.site_id
        )
    ).all()
    by_id = {snap.id: snap for snap in found}
    return [by_id[i] for i in ids if i in by_id]


def _snapshot_candidates(db: Session, sessions, visits: VisitStore) -> list[int]:
    """Copy the visits that could have made an ambiguous call; their ids, best first."""
    ids = []
    for session in sessions[:MAX_CANDIDATES]:
        if (visit := visits.get(session)) is not None:
            snap = snapshot_visit(db, session, visit)
            db.flush()
            ids.append(snap.id)
    return ids


def _repeat(db: Session, call: Call, found: Attribution, t: float) -> Call | None:
    """The earlier call of the same caller to the same client that this one repeats."""
    days = float(setting("REPEAT_CALLER_DAYS"))
    if not call.caller_hash or call.client_id is None or days <= 0:
        return None
    since = call.started_at - timedelta(days=days)
    rows = db.scalars(
        select(Call).where(
            Call.client_id == call.client_id,
            Call.caller_hash == call.caller_hash,
            Call.id != call.id,
            Call.started_at >= since,
            Call.started_at < call.started_at,
        )
    ).all()
    earlier = [
        EarlierCall(c.id, c.started_at.timestamp(), c.tracking_number, c.pool_id) for c in rows
    ]
    match = repeat_of(
        found,
        earlier,
        number=call.tracking_number,
        pool_id=call.pool_id,
        t=t,
        window=days * 86400,
    )
    return None if match is None else next(c for c in rows if c.id == match.id)
