"""Admin API: the call list, call detail, and calls ingested from other carriers and PBXs."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import select

from ringtrail.accounts import probes
from ringtrail.accounts.tenancy import scoped
from ringtrail.calls.events import CallEvent, facts_of
from ringtrail.calls.outcomes import outcome_of
from ringtrail.calls.records import apply_event, candidate_visits
from ringtrail.calls.rules import on_completed
from ringtrail.errors import Conflict, NotFound, Unavailable, Unprocessable
from ringtrail.outbound.payloads import visit_of
from ringtrail.privacy.recordings import open_recording
from ringtrail.reports import calllog
from ringtrail.reports.calllog import CallFilter, call_log
from ringtrail.reports.queries import MAX_PERIOD_DAYS, Period
from ringtrail.storage.models import Call, Client, VisitSnapshot
from ringtrail.storage.sql import get_db
from ringtrail.terms import CONFIDENCE_LABELS, ROUTE_LABELS
from ringtrail.tracking.directory import route_for
from ringtrail.tracking.pool import get_pools
from ringtrail.tracking.visits import get_visits
from ringtrail.web.api.blueprint import bp, principal
from ringtrail.web.login import owned
from ringtrail.web.responses import recording_response
from ringtrail.web.schemas import (
    CallDetailOut,
    CallIn,
    CallOut,
    CallQuery,
    RecordingQuery,
    page_of,
)

# The call log's filters, as GET /calls takes them.
FILTER_ARGS = (
    "q",
    "source",
    "medium",
    "campaign",
    "keyword",
    "landing",
    "referrer",
    "touch",
    "tracking",
    "status",
    "caller",
    "confidence",
    "sort",
)
MAX_AGE = 30 * 86400  # older calls cannot be attributed: lease history is gone
MAX_AHEAD = 300  # clocks disagree a little; calls from the future do not happen


def call_out(call: Call, *, detail: bool = False, caller_kind: str | None = None) -> dict[str, Any]:
    """A call as the API shows it; with ``detail``, the visit with the pages viewed, and
    the caller's other calls."""
    visit: VisitSnapshot | None = call.visit
    if detail:
        caller_kind = calllog.caller_kind(get_db(), call)
    out = {
        "id": call.id,
        "provider": call.provider,
        "call_id": call.call_sid,
        "client_id": call.client_id,
        "site_id": call.site_id,
        "pool_id": call.pool_id,
        "tracking_number": call.tracking_number,
        "caller_number": call.caller_number,
        "started_at": call.started_at,
        "status": call.status,
        "answered": call.answered,
        "duration_seconds": call.duration_seconds,
        "confidence": call.confidence,
        "source": call.source,
        "medium": call.medium,
        "campaign": visit.campaign if visit else "",
        "term": visit.term if visit else "",
        "landing_url": visit.landing_url if visit else "",
        "has_click_id": bool(visit and visit.click_ids),
        "repeat_of": call.repeat_of,
        "caller_kind": caller_kind,
        "attribution": CONFIDENCE_LABELS.get(call.confidence, call.confidence),
        "route_kind": call.route_kind,
        "route": ROUTE_LABELS.get(call.route_kind, call.route_kind),
        "outcome": outcome_of(call),
    }
    if detail:
        out["visit"] = _visit_out(visit) if visit else None
        out["candidates"] = [_visit_out(v) for v in candidate_visits(get_db(), call)]
        others = calllog.caller_calls(get_db(), call)
        out["caller_calls"] = [
            call_out(c, caller_kind=calllog.caller_kind(get_db(), c)) for c in others
        ]
    return out


def _visit_out(visit: VisitSnapshot) -> dict[str, Any]:
    """The visit as the webhook body has it, its start a datetime for the schema."""
    return visit_of(visit, when=lambda value: value)


@bp.get("/calls")
@bp.doc(tags=["calls"])
@bp.arguments(CallQuery, location="query")
@bp.response(200, page_of(CallOut))
def list_calls(query: dict[str, Any]):
    """Calls, newest first unless sorted otherwise: searched and filtered as the
    dashboard's call log (the same service), by client and time too.

    ``source``, ``medium``, ``campaign``, ``keyword``, ``landing`` and ``referrer`` select
    exactly the calls a row of the source report counts (``__none__``: its "(not set)"
    row), under ``touch``; they read the days from ``since`` to ``until`` in UTC, at most
    400 (from ``until`` back when ``since`` is missing).
    """
    p = principal()
    db = get_db()
    visible = list(db.scalars(scoped(select(Client.id), Client, p).order_by(Client.id)))
    agency_id = p.agency_id if p.client_id is None else None
    if "client_id" in query:
        visible = [c for c in visible if c == query["client_id"]]
        agency_id = None
    filt = CallFilter(**{k: query[k] for k in FILTER_ARGS if k in query and query[k] is not None})
    since, until = query.get("since"), query.get("until")
    period = drill_period(since, until) if filt.drills else None
    log = call_log(
        db,
        visible,
        period,
        filt,
        page=query["page"],
        per_page=query["per_page"],
        agency_id=agency_id,
        since=since,
        until=until,
    )
    return {
        "items": [call_out(r.call, caller_kind=r.caller_kind) for r in log.rows],
        "page": log.page,
        "per_page": log.per_page,
        "total": log.total,
    }


def drill_period(since: datetime | None, until: datetime | None) -> Period:
    """The UTC days a drill-down reads: ``since`` to ``until``, at most 400 days."""
    end = until or datetime.now(UTC)
    start = since or end - timedelta(days=MAX_PERIOD_DAYS - 1)
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    first = start.astimezone(UTC).date()
    try:
        return Period(min(first, last), last, ZoneInfo("UTC"))
    except ValueError as exc:
        raise Unprocessable(f"since and until: {exc}") from None


# {call}, not {call_id}: a call's call_id is the carrier's id (a string); {call} is its id.
@bp.get("/calls/<int(min=1):call>")
@bp.doc(tags=["calls"])
@bp.response(200, CallDetailOut)
def get_call(call: int):
    """One call, with the visit that led to it and the pages viewed."""
    return call_out(owned(Call, call), detail=True)


AUDIO_DOC = {
    "200": {
        "description": "The recording's audio, streamed from the carrier through Ringtrail",
        "content": {
            "audio/mpeg": {"schema": {"type": "string", "format": "binary"}},
            "audio/wav": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "404": {
        "description": "No such call, or the call has no recording",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    },
    "502": {
        "description": "The carrier could not serve the recording; try again",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    },
}


@bp.get("/calls/<int(min=1):call>/recording")
@bp.doc(tags=["calls"], responses=AUDIO_DOC)
@bp.arguments(RecordingQuery, location="query")
def get_recording(query: dict[str, Any], call: int):
    """The call's recording, streamed through Ringtrail; 404 when the call has none.

    The carrier's media URL is never shown, and every access is written to the audit log.
    """
    record = owned(Call, call)
    media = open_recording(get_db(), principal(), record, query["format"])
    return recording_response(media, record.id, query["format"])


@bp.post("/calls")
@bp.doc(tags=["calls"])
@bp.arguments(CallIn)
@bp.response(201, CallDetailOut)
@bp.alt_response(200, schema=CallDetailOut, description="The call was already recorded")
def ingest_call(data: dict[str, Any]):
    """Record a call from a carrier or PBX other than Twilio, attributed like any other.

    Posting the same ``call_id`` again returns the recorded call unchanged (200).
    """
    p = principal()
    db = get_db()
    route = route_for(data["to"])
    ours = (
        route is not None
        and route.role in ("pool", "source", "overflow")
        and route.agency_id == p.agency_id
        and (p.client_id is None or route.client_id == p.client_id)
    )
    if not ours:
        # Missing or another tenant's: the same answer, the same work (audited later).
        probes.note(p, "number", data["to"])
        raise NotFound("no such tracking number")
    # After the number: a call to no tracking number of this key's is a 404, whenever.
    now = time.time()
    received = data["started_at"].timestamp() if data["started_at"] else now
    if received > now + MAX_AHEAD:
        raise Unprocessable("started_at is in the future")
    if received < now - MAX_AGE:
        raise Unprocessable("started_at is more than 30 days ago")
    # Call ids are the agency's own: another agency's call with this id is not looked at.
    existing = db.scalar(
        select(Call).where(Call.agency_id == route.agency_id, Call.call_sid == data["call_id"])
    )
    if existing is not None:
        if db.scalar(scoped(select(Call.id).where(Call.id == existing.id), Call, p)) is None:
            raise Conflict("this call_id is already used by another client of your agency")
        return call_out(existing, detail=True), 200
    event = CallEvent.voice(
        provider=data["provider"],
        call_sid=data["call_id"],
        received_at=received,
        to=data["to"],
        caller=data["caller"] or "",
        route=facts_of(route),
        hipaa=route.hipaa,
        agency_id=route.agency_id,
        forward_to=route.forward_to,
    )
    status = CallEvent.update(
        "status",
        provider=data["provider"],
        call_sid=data["call_id"],
        received_at=received,
        agency_id=route.agency_id,
        status=data["status"],
        duration_seconds=data["duration_seconds"],
    )
    try:
        call = apply_event(db, event, get_pools(), get_visits())
        apply_event(db, status, get_pools(), get_visits())
        if data["answered"] is not None:
            call.answered = data["answered"]
        elif data["status"] in ("busy", "no-answer", "failed", "canceled"):
            call.answered = False
        on_completed(db, call)  # the client's rules, once the call is complete
        db.commit()
    except redis.RedisError:
        db.rollback()
        raise Unavailable("lease history unavailable; retry shortly") from None
    db.refresh(call)
    return call_out(call, detail=True)
