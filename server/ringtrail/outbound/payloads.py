"""The body of a webhook event: the call, its attribution, its outcome and the visit.

A body is built once, when the event happens (inside the change's transaction), and
kept with its delivery: the Standard Webhooks message id names that exact body, so a
retry or a manual resend sends the same bytes. The shape (``type``, ``timestamp``,
``data``) is the one the Standard Webhooks specification recommends; it is documented in
the OpenAPI document (``WebhookEvent``, see ``web/webhook_schemas.py``).

The caller's number is in the body only when the endpoint asks for it and the call's
client is not in HIPAA mode (where the call does not even keep it); otherwise
``caller_number`` is null.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ringtrail.calls.outcomes import outcome_of
from ringtrail.calls.records import candidate_visits
from ringtrail.storage.models import Call, VisitSnapshot
from ringtrail.terms import CONFIDENCE_LABELS, ROUTE_LABELS

EVENTS = ("call.started", "call.completed", "call.updated")
TEST_EVENT = "webhook.test"


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def visit_of(
    visit: VisitSnapshot, when: Callable[[datetime | None], Any] = _when
) -> dict[str, Any]:
    """The visit that led to the call, with the pages viewed (``at`` in seconds after the
    visit started); its start as ``when`` gives it (ISO text here; the admin API keeps
    the datetime for its schema)."""
    pages = []
    for entry in visit.pages or []:
        if isinstance(entry, list | tuple) and len(entry) >= 2:
            title = entry[2] if len(entry) > 2 else ""
            pages.append({"at": entry[0], "path": entry[1], "title": title})
    return {
        "session_id": visit.session_id,
        "started_at": when(visit.started_at),
        "landing_url": visit.landing_url,
        "landing_title": visit.landing_title,
        "referrer": visit.referrer,
        "source": visit.source,
        "medium": visit.medium,
        "campaign": visit.campaign,
        "term": visit.term,
        "content": visit.content,
        "click_ids": {str(k): str(v) for k, v in (visit.click_ids or {}).items()},
        "device": visit.device,
        "browser": visit.browser,
        "os": visit.os,
        "pages": pages,
    }


def call_data(db: Session, call: Call, *, caller_number: bool) -> dict[str, Any]:
    """The ``data`` of a call event: call, attribution, outcome and visit."""
    visit = call.visit
    outcome = outcome_of(call)
    outcome.pop("notes", None)  # free text written by people stays in Ringtrail
    return {
        "call": {
            "id": call.id,
            "provider": call.provider,
            "call_id": call.call_sid,
            "client_id": call.client_id,
            "site_id": call.site_id,
            "pool_id": call.pool_id,
            "tracking_number": call.tracking_number,
            "caller_number": call.caller_number if caller_number else None,
            "started_at": _when(call.started_at),
            "status": call.status,
            "answered": call.answered,
            "duration_seconds": call.duration_seconds,
            "talk_seconds": call.talk_seconds,
            "route_kind": call.route_kind,
            "route": ROUTE_LABELS.get(call.route_kind, call.route_kind),
            "has_recording": bool(call.recording_sid),
        },
        "attribution": {
            "confidence": call.confidence,
            "words": CONFIDENCE_LABELS.get(call.confidence, call.confidence),
            "source": call.source,
            "medium": call.medium,
            "campaign": visit.campaign if visit else "",
            "term": visit.term if visit else "",
            "repeat_of": call.repeat_of,
            "candidates": len(candidate_visits(db, call)) if call.candidates else 0,
        },
        "outcome": outcome,
        "visit": visit_of(visit) if visit is not None else None,
    }


def encode(event: str, at: datetime, data: dict[str, Any]) -> str:
    """The body as sent: compact JSON, keys in a stable order."""
    document = {"type": event, "timestamp": at.isoformat(), "data": data}
    return json.dumps(document, separators=(",", ":"), sort_keys=True, default=str)
