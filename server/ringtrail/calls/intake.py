"""Call events on their way to SQL: stashed in Redis and queued, or spooled to disk.

A webhook never passes a phone number to a job: the event is stashed under its id and
the job gets only the id (RQ keeps failed jobs, with their arguments, for a long time).
The event id is derived from the carrier's call id, so a webhook delivered twice makes
one event and one job, and the job (:func:`apply_event`) is idempotent anyway.

If the queue Redis cannot take an event, it goes to this node's spool (a folder on local
disk) and is replayed as soon as the queue answers again.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

import redis
from rq import Retry

from ringtrail.calls.events import CallEvent
from ringtrail.calls.records import apply_event as apply_to_sql
from ringtrail.calls.spool import Spool
from ringtrail.context import running_app, setting
from ringtrail.storage import lua
from ringtrail.storage.clients import get_queue, get_queue_redis
from ringtrail.storage.sql import get_db
from ringtrail.tracking.pool import get_pools
from ringtrail.tracking.visits import get_visits

log = logging.getLogger(__name__)

EVENT_TTL = 30 * 24 * 3600  # a stashed event outlives every retry of its job
STASH_LUA = lua("stash_event.lua")
RETRY_INTERVALS = [10, 30, 60, 300, 900, 1800, 3600]
JOB = "ringtrail.calls.intake.apply_event"


class EventStash:
    """Stashed call events on the queue Redis, read by their jobs.

    - ``event(id)``  STRING  the event's JSON; deleted once the event is applied
    """

    PREFIX = "ringtrail:event:"

    def __init__(self, client: redis.Redis):
        self.redis = client

    def key(self, event_id: str) -> str:
        return f"{self.PREFIX}{event_id}"

    def put(self, event_id: str, event: CallEvent, pipe=None, *, stamp: bool = True) -> None:
        """Stash the event (on ``pipe``: the transaction that queues its job).

        With ``stamp`` the event gets ``clock``, Redis's time as it is stashed, unless it
        carries one already (tests inject time that way). An event replayed from a spool
        is stashed with ``stamp=False``: its time is the one its web node read.
        """
        data = event.to_dict()
        clock = data.pop("clock", None)
        arg = "-" if not stamp else ("" if clock is None else repr(float(clock)))
        script = self.redis.register_script(STASH_LUA)
        script(
            keys=[self.key(event_id)],
            args=[json.dumps(data), EVENT_TTL, arg],
            client=self.redis if pipe is None else pipe,
        )

    def get(self, event_id: str) -> CallEvent | None:
        raw = self.redis.get(self.key(event_id))
        return None if raw is None else CallEvent.from_dict(json.loads(raw))

    def exists(self, event_id: str) -> bool:
        return bool(self.redis.exists(self.key(event_id)))

    def delete(self, event_id: str) -> None:
        self.redis.delete(self.key(event_id))

    def scan(self) -> Iterator[tuple[str, CallEvent | None]]:
        """Every stashed event: (event id, the event, or None if it cannot be read)."""
        batch: list[str] = []
        for key in self.redis.scan_iter(match=f"{self.PREFIX}*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                yield from self._read(batch)
                batch = []
        if batch:
            yield from self._read(batch)

    def _read(self, keys: list[str]) -> Iterator[tuple[str, CallEvent | None]]:
        for key, raw in zip(keys, self.redis.mget(keys), strict=True):
            if raw is None:
                continue
            try:
                event = CallEvent.from_dict(json.loads(raw))
            except (ValueError, TypeError):
                event = None
            yield key.removeprefix(self.PREFIX), event


def get_stash() -> EventStash:
    """The stash on the queue Redis."""
    return EventStash(get_queue_redis())


def get_spool() -> Spool:
    """This node's spool folder."""
    return Spool(setting("SPOOL_DIR"))


def enqueue(event_id: str, event: CallEvent, *, stamp: bool = True) -> None:
    """Stash the event and queue its job, atomically and in one round trip (MULTI/EXEC);
    raises if Redis cannot take it. A job never exists without its event.

    The stash stamps the event with Redis's clock (``stamp``), the clock leases are read
    on; a replayed event keeps the time its web node read (``stamp=False``).
    """
    queue = get_queue()
    pipe = queue.connection.pipeline()
    queue.enqueue(
        JOB,
        event_id,
        job_id=event_id,
        retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
        result_ttl=3600,
        failure_ttl=30 * 24 * 3600,
        description=f"apply {event.kind} event",
        pipeline=pipe,  # RQ opens the MULTI, so the stash comes after the job
    )
    EventStash(queue.connection).put(event_id, event, pipe=pipe, stamp=stamp)
    pipe.execute()


def submit(event_id: str, event: CallEvent, *, if_spooled: CallEvent | None = None) -> bool:
    """Queue the event, or spool it if the queue is unreachable.

    Returns True if it was queued. Never raises for a store failure: a webhook must
    answer whatever happens. ``if_spooled`` is the event to spool instead, when the
    webhook answers differently without a queue (a voice call is then not recorded).
    """
    try:
        enqueue(event_id, event)
    except Exception:
        log.warning("intake: queue unavailable, spooling %s", event_id)
        try:
            get_spool().put(event_id, (if_spooled or event).to_dict())
        except OSError:
            log.exception("intake: spool failed too; event %s lost", event_id)
        return False
    _replay_soon(running_app())  # the queue is back: drain the spool
    return True


_replaying = threading.Lock()


def _replay_soon(app) -> None:
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
    count = get_spool().replay(
        lambda eid, data: enqueue(eid, CallEvent.from_dict(data), stamp=False)
    )
    if count:
        log.info("intake: replayed %d spooled events", count)
    return count


def apply_event(event_id: str) -> str:
    """The job: apply a stashed call event to its call record, then forget the stash."""
    stash = get_stash()
    event = stash.get(event_id)
    if event is None:
        return "already applied"  # a re-run after the commit below
    db = get_db()
    try:
        call = apply_to_sql(db, event, get_pools(), get_visits())
        db.commit()
    except Exception:
        db.rollback()
        raise  # RQ keeps the traceback and retries
    finally:
        db.close()  # the worker's app context outlives the job; start each one fresh
    stash.delete(event_id)
    return f"call {call.id}: {event.kind}"
