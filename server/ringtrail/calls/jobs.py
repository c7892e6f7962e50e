"""RQ jobs. Plain functions that take ids, never phone numbers, and may safely run twice."""

from __future__ import annotations

import json
import logging

from ringtrail.calls.intake import EventKeys
from ringtrail.calls.records import apply_event as apply_to_sql
from ringtrail.storage.clients import get_pools, get_queue_redis, get_visits
from ringtrail.storage.sql import get_db

log = logging.getLogger(__name__)


def apply_event(event_id: str) -> str:
    """Apply a stashed call event to its call record, then forget the stash."""
    key = EventKeys(event_id).event
    raw = get_queue_redis().get(key)
    if raw is None:
        return "already applied"  # a re-run after the commit below
    event = json.loads(raw)
    db = get_db()
    try:
        call = apply_to_sql(db, event, get_pools(), get_visits())
        db.commit()
    except Exception:
        db.rollback()
        raise  # RQ keeps the traceback and retries
    finally:
        db.close()  # the worker's app context outlives the job; start each one fresh
    get_queue_redis().delete(key)
    return f"call {call.id}: {event['kind']}"
