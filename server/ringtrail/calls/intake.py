"""Call events on their way to SQL: stashed in Redis and queued, or spooled to disk.

A webhook never passes a phone number to a job: the event is stashed under its id and
the job gets only the id (RQ keeps failed jobs, with their arguments, for a long time).
The event id is derived from the carrier's call id, so a webhook delivered twice makes
one event and one job, and the job is idempotent anyway.

An event is a dict: ``provider``, ``kind`` (voice, status, dial, recording,
transcription), ``call_sid``, ``received_at`` and the kept ``params``. A voice event adds
``route``, ``forward_to``, ``route_kind``, ``degraded``, the caller's ``caller_hash`` and
approximate ``caller_state``, ``hipaa`` (then ``params`` has no ``From``: the raw number
never reaches Redis, the queue or the spool), and the proof of disclosure
``notice_played``, ``notice_version`` and ``notice_at``. A dial event that led to
voicemail carries ``route_kind`` and the proof of disclosure too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any

from flask import Flask, current_app
from rq import Retry

from ringtrail.calls.spool import Spool
from ringtrail.storage.clients import get_queue

log = logging.getLogger(__name__)

EVENT_TTL = 30 * 24 * 3600  # a stashed event outlives every retry of its job
RETRY_INTERVALS = [10, 30, 60, 300, 900, 1800, 3600]


def event_id(provider: str, call_sid: str, kind: str, extra: str = "") -> str:
    """A job-id-safe name for one event of one call."""
    digest = hashlib.sha256(f"{provider}\n{call_sid}\n{kind}\n{extra}".encode()).hexdigest()
    return f"{kind}-{digest[:32]}"


class EventKeys:
    """Keys of stashed events, on the queue Redis.

    - ``event``  STRING  the event's JSON, read by its job, deleted when it is applied
    """

    def __init__(self, event_id: str):
        self.event_id = event_id

    @property
    def event(self) -> str:
        return f"ringtrail:event:{self.event_id}"


def get_spool() -> Spool:
    """This node's spool folder."""
    return Spool(current_app.config["SPOOL_DIR"])


def enqueue(eid: str, event: dict[str, Any]) -> None:
    """Stash the event and queue its job, atomically and in one round trip (MULTI/EXEC);
    raises if Redis cannot take it. A job never exists without its event."""
    queue = get_queue()
    pipe = queue.connection.pipeline()
    queue.enqueue(
        "ringtrail.calls.jobs.apply_event",
        eid,
        job_id=eid,
        retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
        result_ttl=3600,
        failure_ttl=30 * 24 * 3600,
        description=f"apply {eid.split('-')[0]} event",
        pipeline=pipe,  # RQ opens the MULTI, so the stash comes after the job
    )
    pipe.set(EventKeys(eid).event, json.dumps(event), ex=EVENT_TTL)
    pipe.execute()


def submit(eid: str, event: dict[str, Any], *, if_spooled: dict[str, Any] | None = None) -> bool:
    """Queue the event, or spool it if the queue is unreachable.

    Returns True if it was queued. Never raises for a store failure: a webhook must
    answer whatever happens. ``if_spooled`` is the event to spool instead, when the
    webhook answers differently without a queue (a voice call is then not recorded).
    """
    try:
        enqueue(eid, event)
    except Exception:
        log.warning("events: queue unavailable, spooling %s", eid)
        try:
            get_spool().put(eid, event if if_spooled is None else if_spooled)
        except OSError:
            log.exception("events: spool failed too; event %s lost", eid)
        return False
    _replay_soon(current_app._get_current_object())  # the queue is back: drain the spool
    return True


_replaying = threading.Lock()


def _replay_soon(app: Flask) -> None:
    """Replay the spool in the background if it holds anything and no replay runs."""
    if not Spool(app.config["SPOOL_DIR"]).pending() or not _replaying.acquire(blocking=False):
        return

    def run() -> None:
        try:
            with app.app_context():
                replay()
        finally:
            _replaying.release()

    threading.Thread(target=run, name="ringtrail-spool-replay", daemon=True).start()


def replay() -> int:
    """Queue every spooled event now; returns how many went."""
    count = get_spool().replay(enqueue)
    if count:
        log.info("events: replayed %d spooled events", count)
    return count
