"""The worker process: an RQ worker that outlives Redis and database outages.

- **Jobs** run in an RQ ``SimpleWorker`` in the main thread. RQ quits its work loop on a
  Redis error in the middle of a job; a new worker then starts after a backoff (1 s,
  doubling to 30 s), so the process never dies of an outage. Its connection has TCP
  keepalive, a health check and an 11-second socket timeout over a 1-second wait for
  jobs, so a Redis that stopped answering, or a half-open connection, is noticed in
  seconds (RQ's default socket timeout is 415 s).
- **Liveness**: a key for the RQ worker at work (``ringtrail:worker-alive:NAME``, 10 s
  TTL) refreshed every 2 s by a thread. A worker killed with SIGKILL, or one that quit
  its loop on a Redis error in the middle of a job, is known dead 10 s later.
- **Scheduling**, a thread: it holds RQ's scheduler lock for the queue with a 6-second
  TTL (RQ's own lives 61 s and is retaken after 2 to 10 minutes), so when the holder
  dies another worker takes over within seconds. The holder, every second, enqueues
  the scheduled jobs that are due (retries), the periodic cron jobs that are due, and
  every 3 s requeues the jobs a dead worker left in the started registry and those lost
  on their way to a worker (in RQ's intermediate queue, never started). An error
  (Redis away) is logged and the thread tries again a second later: it never dies.
- **Intake**, a thread: while this process holds the scheduler lock, every quarter of a
  second it turns the ids webhooks put in the intake inbox into jobs (the ``movers``,
  :func:`ringtrail.calls.intake.move`), until the inbox is empty. A burst worker moves
  them once before it works.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable

import redis
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested
from rq.scheduler import RQScheduler
from rq.scripts import acquire_or_refresh_lock, release_lock
from rq.serializers import JSONSerializer

from ringtrail.storage.jobs import Periodic, make_cron, requeue_abandoned, requeue_lost

log = logging.getLogger(__name__)

WORKER_TTL = 16  # RQ waits WORKER_TTL - 15 = 1 s for a job, and times out after 11 s
ALIVE_PREFIX = "ringtrail:worker-alive:"
ALIVE_TTL = 10  # seconds
HEARTBEAT_EVERY = 2.0
LOCK_TTL = 6  # seconds
TICK = 1.0  # seconds between scheduling rounds
ABANDONED_EVERY = 3.0
MOVE_EVERY = 0.25  # seconds between looks at the intake inbox
HELPER_TIMEOUT = 3.0  # socket timeout of the helper threads' short commands
MAX_BACKOFF = 30.0


def _stop(_signum, _frame) -> None:
    raise StopRequested()


def alive_key(worker_name: str) -> str:
    return ALIVE_PREFIX + worker_name


class Runner:
    """One worker process: the job loop, the liveness thread and the scheduling thread."""

    def __init__(
        self,
        queue_name: str,
        connect: Callable[..., redis.Redis],
        periodic: list[Periodic] | None = None,
        movers: list[Callable[[Queue], int]] | None = None,
    ):
        self.queue_name = queue_name
        self.connect = connect
        self.periodic = periodic or []
        self.movers = movers or []
        self.id = f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        self.names: list[str] = []  # every RQ worker name this process has used
        self.current = ""  # the one at work: the others quit, leaving their jobs behind
        self.stopping = threading.Event()
        self.holds_lock = False

    # Liveness ---------------------------------------------------------------------

    def _heartbeat(self) -> None:
        connection = self.connect(timeout=HELPER_TIMEOUT)
        while not self.stopping.is_set():
            try:
                if self.current:
                    connection.set(alive_key(self.current), self.id, ex=ALIVE_TTL)
            except redis.RedisError as exc:
                log.info("worker: heartbeat failed (%s)", exc)
            self.stopping.wait(HEARTBEAT_EVERY)

    # Scheduling -------------------------------------------------------------------

    def _schedule(self) -> None:
        connection = self.connect(timeout=HELPER_TIMEOUT)
        queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
        scheduler = RQScheduler([self.queue_name], connection=connection, serializer=JSONSerializer)
        scheduler.prepare_registries([self.queue_name])
        cron = make_cron(connection, self.queue_name, self.periodic)
        lock = RQScheduler.get_locking_key(self.queue_name)
        last_abandoned = 0.0
        handed_out: set[str] = set()
        while not self.stopping.is_set():
            try:
                held = acquire_or_refresh_lock(connection, lock, self.id, LOCK_TTL)
                if held == "acquired":
                    log.info("worker: scheduler lock acquired")
                    cron.register_birth()  # RQ's cron registry shows who runs them
                self.holds_lock = held != "taken"
                if self.holds_lock:
                    scheduler.enqueue_scheduled_jobs()
                    if cron.enqueue_jobs():
                        cron.save()
                    cron.heartbeat()
                    if time.monotonic() - last_abandoned >= ABANDONED_EVERY:
                        last_abandoned = time.monotonic()
                        for job_id in requeue_abandoned(queue, self._alive(connection)):
                            log.warning("worker: requeued %s, left by a dead worker", job_id)
                        for job_id in requeue_lost(queue, handed_out):
                            log.warning("worker: requeued %s, lost on its way to a worker", job_id)
            except Exception as exc:  # Redis away: try again next tick
                self.holds_lock = False
                log.warning("worker: scheduling failed (%s); retrying", exc)
            self.stopping.wait(TICK)
        with contextlib.suppress(redis.RedisError):
            release_lock(connection, lock, self.id)
            cron.register_death()

    # Intake -----------------------------------------------------------------------

    def _move(self) -> None:
        connection = self.connect(timeout=HELPER_TIMEOUT)
        queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
        while not self.stopping.is_set():
            try:
                if self.holds_lock:
                    for mover in self.movers:
                        while mover(queue):  # a busy inbox is emptied batch by batch
                            pass
            except Exception as exc:  # Redis away: try again next time
                log.warning("worker: intake failed (%s); retrying", exc)
            self.stopping.wait(MOVE_EVERY)

    def _alive(self, connection: redis.Redis) -> Callable[[str], bool]:
        def alive(name: str) -> bool:
            return name == self.current or bool(connection.exists(alive_key(name)))

        return alive

    # The job loop -----------------------------------------------------------------

    def _new_worker(self) -> SimpleWorker:
        name = f"{self.id}.{len(self.names)}"
        self.names.append(name)
        self.current = name
        return SimpleWorker(
            [self.queue_name],
            connection=self.connect(),
            serializer=JSONSerializer,
            name=name,
            worker_ttl=WORKER_TTL,
        )

    def run(self, burst: bool = False) -> None:
        """Work until stopped (SIGINT, SIGTERM), or until the queue is empty (``burst``)."""
        if burst:
            self._burst()
            return
        threads = [
            threading.Thread(target=self._heartbeat, name="ringtrail-liveness", daemon=True),
            threading.Thread(target=self._schedule, name="ringtrail-scheduling", daemon=True),
            threading.Thread(target=self._move, name="ringtrail-intake", daemon=True),
        ]
        for thread in threads:
            thread.start()
        backoff = 1.0
        try:
            while True:
                worker = self._new_worker()
                started = time.monotonic()
                try:
                    worker.work(max_idle_time=None)
                except (redis.RedisError, OSError) as exc:  # raised by its own teardown
                    log.warning("worker: stopped by %s", exc)
                if worker._stop_requested or getattr(worker, "_shutdown_requested_date", None):
                    break
                if time.monotonic() - started > 60:
                    backoff = 1.0  # it had been working: the outage is new
                log.warning("worker: Redis lost; starting again in %.0f s", backoff)
                for signum in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(signum, _stop)
                time.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
        except (StopRequested, KeyboardInterrupt):
            pass
        finally:
            self.stopping.set()
            for thread in threads:
                thread.join(5)
            self._forget()

    def _burst(self) -> None:
        connection = self.connect()
        scheduler = RQScheduler([self.queue_name], connection=connection, serializer=JSONSerializer)
        scheduler.prepare_registries([self.queue_name])
        scheduler.enqueue_scheduled_jobs()
        queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
        for mover in self.movers:
            while mover(queue):
                pass
        self._new_worker().work(burst=True)

    def _forget(self) -> None:
        try:
            connection = self.connect()
            connection.delete(*[alive_key(name) for name in self.names])
        except redis.RedisError:
            pass
