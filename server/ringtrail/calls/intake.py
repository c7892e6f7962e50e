"""Call events on their way to SQL: stashed in Redis and queued, or spooled to disk.

A webhook never passes a phone number to a job: the event is stashed under its id and
the job gets only the id (RQ keeps failed jobs, with their arguments, for a long time).
The event id is derived from the carrier's call id, so a webhook delivered twice makes
one event and one job, and the job (:func:`apply_event`) is idempotent anyway.

The webhook does the least that is durable: one script stashes the event and puts its
id in the intake inbox (:func:`enqueue`). The worker's scheduling thread turns inbox ids
into RQ jobs (:func:`move`), in batches, so RQ's job bookkeeping is not paid per call.

An answered event is committed before the webhook answers: on disk, or in SQL. Where
it is committed depends on the queue Redis (:func:`queue_commits`):

- A queue Redis that writes every command to its append-only file and fsyncs it before
  it replies (``appendonly yes``, ``appendfsync always``) has the event on disk once the
  stash script returns: the stash is the write-ahead log, and this node's spool is
  written only when that Redis does not answer.
- Any other queue Redis (the embedded one runs ``appendfsync everysec``: a ``kill -9``
  loses up to its last second) does not: every event is first written to this node's
  spool (a folder on local disk), durably, and kept until the job has committed its
  record (marked in SQL by an :class:`~ringtrail.storage.models.AppliedEvent` row in
  the same transaction).

If the queue Redis cannot take an event, the spool is all there is. :func:`replay` (run
every few seconds by :mod:`ringtrail.calls.replayer` in web processes and the worker)
forgets what is committed and queues again what the queue does not hold: an event lost
by a Redis that crashed, or never queued.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from functools import lru_cache

import redis
from rq import Queue, Retry
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, text
from sqlalchemy.exc import InterfaceError, OperationalError

from ringtrail.calls.events import CallEvent
from ringtrail.calls.records import apply_event as apply_to_sql
from ringtrail.calls.rules import on_completed
from ringtrail.calls.spool import Spool
from ringtrail.context import setting, state
from ringtrail.storage import lua
from ringtrail.storage.clients import get_queue, get_queue_redis
from ringtrail.storage.models import AppliedEvent
from ringtrail.storage.sql import get_db, get_engine
from ringtrail.tracking.pool import get_pools
from ringtrail.tracking.visits import get_visits

log = logging.getLogger(__name__)

EVENT_TTL = 30 * 24 * 3600  # a stashed event outlives every retry of its job
STASH_LUA = lua("stash_event.lua")
RETRY_INTERVALS = [2, 10, 30, 60, 300, 900, 1800, 3600]  # a blip first, then outages
JOB = "ringtrail.calls.intake.apply_event"
JOB_TIMEOUT = 60  # seconds; applying one event takes milliseconds
GRACE = 10  # seconds an event may take from its webhook to its record before replay looks
WAITING = "ringtrail:waiting-for-database"  # SET of event ids whose job waits for SQL
HELD = {b"queued", b"started", b"scheduled", b"deferred"}  # the queue still has the job
INBOX = "ringtrail:intake:inbox"  # LIST of event ids stashed but not yet made jobs
MOVE_BATCH = 500  # inbox ids made jobs per transaction
RECHECK = 5.0  # seconds a process trusts what it read of the queue Redis's persistence


class EventStash:
    """Stashed call events on the queue Redis, read by their jobs.

    - ``event(id)``  STRING  the event's JSON; deleted once the event is applied
    - ``inbox``      LIST    ids of stashed events not yet made jobs (:data:`INBOX`)
    """

    PREFIX = "ringtrail:event:"

    def __init__(self, client: redis.Redis):
        self.redis = client

    def key(self, event_id: str) -> str:
        return f"{self.PREFIX}{event_id}"

    def put(self, event_id: str, event: CallEvent, *, stamp: bool = True, again: bool = False):
        """Stash the event and put its id in the inbox (if it is new, or ``again``).

        With ``stamp`` the event gets ``clock``, Redis's time as it is stashed, unless it
        carries one already (tests inject time that way). An event replayed from a spool
        is stashed with ``stamp=False``: its time is the one its web node read.
        """
        data = event.to_dict()
        clock = data.pop("clock", None)
        arg = "-" if not stamp else ("" if clock is None else repr(float(clock)))
        _stash_script(self.redis)(
            keys=[self.key(event_id), INBOX],
            args=[json.dumps(data), EVENT_TTL, arg, event_id, "1" if again else ""],
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


@lru_cache(maxsize=8)
def _stash_script(client: redis.Redis):
    return client.register_script(STASH_LUA)  # registered once per client, not per call


def get_stash() -> EventStash:
    """The stash on the queue Redis."""
    return EventStash(get_queue_redis())


def get_spool() -> Spool:
    """This node's spool folder."""
    return Spool(setting("SPOOL_DIR"))


def enqueue(event_id: str, event: CallEvent, *, stamp: bool = True, again: bool = False) -> None:
    """Stash the event and put its id in the inbox, atomically and in one round trip (one
    script); raises if Redis cannot take it. The worker makes the job (:func:`move`).

    The stash stamps the event with Redis's clock (``stamp``), the clock leases are read
    on; a replayed event keeps the time its web node read (``stamp=False``) and goes in
    the inbox even if it was stashed already (``again``: its job may be gone).
    """
    EventStash(get_queue_redis()).put(event_id, event, stamp=stamp, again=again)


def move(queue: Queue | None = None, limit: int = MOVE_BATCH) -> int:
    """Turn the inbox's first ids into RQ jobs; returns how many ids it took.

    The jobs are queued and the ids leave the inbox in one transaction, so an id is
    never lost between the two. Run by one process at a time (the worker that holds the
    scheduler lock); should two ever overlap, an event gets its job twice, which the job
    shrugs off (it is idempotent). A webhook only ever appends, so the ids read at the
    head are still there when they are trimmed.
    """
    queue = get_queue() if queue is None else queue
    connection = queue.connection
    head = connection.lrange(INBOX, 0, limit - 1)
    ids = [i.decode() if isinstance(i, bytes) else i for i in head]
    if not ids:
        return 0
    pipe = connection.pipeline()
    pipe.multi()
    for event_id in dict.fromkeys(ids):  # once each, in order
        queue.enqueue(
            JOB,
            event_id,
            job_id=event_id,
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
            job_timeout=JOB_TIMEOUT,
            result_ttl=3600,
            failure_ttl=30 * 24 * 3600,
            description=f"apply {event_id.partition('-')[0]} event",
            pipeline=pipe,
        )
    pipe.ltrim(INBOX, len(ids), -1)
    pipe.execute()
    return len(ids)


def queue_commits() -> bool:
    """Whether the queue Redis commits each write to disk before it answers
    (``appendonly yes`` and ``appendfsync always``), as read at most :data:`RECHECK`
    seconds ago. False when it cannot be told (``CONFIG`` renamed away, Redis away):
    the spool then takes every event."""
    shared = state()
    checked_at, commits = shared.get("queue_commits", (0.0, False))
    now = time.monotonic()
    if now - checked_at < RECHECK:
        return commits
    try:
        config = get_queue_redis().config_get("append*")
        commits = config.get("appendonly") == "yes" and config.get("appendfsync") == "always"
    except redis.RedisError:
        commits = False
    shared["queue_commits"] = (now, commits)
    return commits


def submit(
    event_id: str,
    event: CallEvent,
    *,
    if_spooled: CallEvent | Callable[[], CallEvent] | None = None,
) -> bool:
    """Commit the event (see the module doc), then queue it; returns True if queued.

    Never raises for a store failure: a webhook must answer whatever happens. A spooled
    copy stays until the record is committed. ``if_spooled`` is the event to keep
    instead when the queue cannot take it and the webhook answers differently without a
    queue (a voice call is then not recorded); a function that makes it, so that a call
    the queue takes does not pay for it.
    """
    spool = get_spool()
    committed = queue_commits()
    if not committed:
        try:
            spool.put(event_id, event.to_dict())
        except OSError:
            log.exception("intake: spool unwritable; event %s rests on the queue alone", event_id)
    try:
        enqueue(event_id, event)
    except Exception as exc:
        log.warning(
            "intake: queue unavailable (%s: %s), %s waits in the spool",
            type(exc).__name__,
            exc,
            event_id,
        )
        if if_spooled is not None or committed:
            if callable(if_spooled):
                if_spooled = if_spooled()
            try:
                spool.put(event_id, (if_spooled or event).to_dict())
            except OSError:
                log.exception("intake: spool failed too; event %s lost", event_id)
        return False
    return True


def applied(event_ids: list[str]) -> set[str]:
    """Which of these events are committed in SQL."""
    db = get_db()
    try:
        found: set[str] = set()
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start : start + 500]
            found.update(
                db.scalars(select(AppliedEvent.event_id).where(AppliedEvent.event_id.in_(chunk)))
            )
        return found
    finally:
        db.close()


def _held(connection: redis.Redis, event_id: str) -> bool:
    """Whether the queue holds the event: stashed, with a job that will still run or its
    id in the inbox."""
    pipe = connection.pipeline(transaction=False)
    pipe.exists(EventStash.PREFIX + event_id)
    pipe.hget(Job.key_for(event_id), "status")
    pipe.lpos(INBOX, event_id)
    stashed, status, waiting = pipe.execute()
    return bool(stashed) and (status in HELD or waiting is not None)


def replay(grace: float = 0) -> int:
    """Bring spooled events written more than ``grace`` seconds ago to their records:
    forget those committed in SQL, queue again those the queue does not hold (never
    queued, lost by a Redis that crashed, or failed for good). Returns how many were
    queued. Stops at the first store that does not answer: the next run goes on."""
    spool = get_spool()
    waiting = spool.older_than(grace)
    if not waiting:
        return 0
    try:
        done = applied(waiting)
    except Exception as exc:  # SQL away: nothing may be forgotten, the queue still works
        log.info("intake: cannot tell which spooled events are applied (%s)", exc)
        done = set()
    for event_id in done:
        spool.discard(event_id)
    queue = get_queue()
    queued = []

    def resubmit(event_id: str, data: dict) -> None:
        if not _held(queue.connection, event_id):
            # A spooled event carries its node's clock: judged with a tolerance.
            enqueue(event_id, CallEvent.from_dict(data), stamp=False, again=True)
            queued.append(event_id)

    spool.replay(resubmit, [e for e in waiting if e not in done], keep=True)
    if queued:
        log.info("intake: queued %d spooled events", len(queued))
    return len(queued)


def resume_waiting() -> int:
    """Run now the jobs that failed because SQL was away, once it answers again,
    however long it was away (their retry delays only ever grow). Returns how many."""
    connection = get_queue().connection
    ids = connection.smembers(WAITING)
    if not ids:
        return 0
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return 0
    registry = ScheduledJobRegistry(queue=get_queue())
    now = time.time()
    pipe = connection.pipeline()
    for job_id in ids:
        pipe.zadd(registry.key, {job_id: now}, xx=True, ch=True)  # only if it waits there
        pipe.srem(WAITING, job_id)
    moved = sum(pipe.execute()[0::2])
    if moved:
        log.info("intake: database is back; %d waiting jobs run now", moved)
    return moved


def apply_event(event_id: str) -> str:
    """The job: apply a stashed call event to its call record (once: the commit marks it
    applied), then forget the stash and this node's spooled copy."""
    stash = get_stash()
    event = stash.get(event_id)
    if event is None:
        return "nothing stashed"  # a re-run after the commit below; or lost: the spool has it
    db = get_db()
    try:
        if db.get(AppliedEvent, event_id) is not None:
            result = "already applied"
        else:
            call = apply_to_sql(db, event, get_pools(), get_visits())
            if call is not None:
                on_completed(db, call)  # the client's rules, once the call is over
            db.add(AppliedEvent(event_id=event_id))
            db.commit()
            if call is None:  # an older release's event whose agency cannot be told
                log.warning("intake: event %s names no agency; dropped", event_id)
                result = "dropped: no agency"
            else:
                result = f"call {call.id}: {event.kind}"
    except (OperationalError, InterfaceError):
        db.rollback()
        _wait_for_database(event_id)
        raise  # RQ keeps the traceback and retries; resume_waiting() hurries it
    except Exception:
        db.rollback()
        raise  # RQ keeps the traceback and retries
    finally:
        db.close()  # the worker's app context outlives the job; start each one fresh
    stash.delete(event_id)
    get_spool().discard(event_id)
    return result


def _wait_for_database(event_id: str) -> None:
    try:
        get_queue_redis().sadd(WAITING, event_id)
    except redis.RedisError:
        log.warning("intake: could not note that %s waits for the database", event_id)
