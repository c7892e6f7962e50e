"""RQ jobs: periodic jobs, jobs a dead worker left behind, and jobs queued under an
older job path.

Periodic jobs (the traffic flush, retention) are RQ cron jobs (``rq.cron``): the worker
that holds the scheduler lock enqueues each when its cron expression comes due, so a
Redis error at that moment skips nothing for good (the next tick tries again) and a
fleet of workers runs each once. A job names its function by import path, and RQ stores
that path in Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from rq import Queue
from rq.cron import CronJob, CronScheduler
from rq.cron_job_registry import add as add_to_cron_registry
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_LIMIT, DEFAULT_CRON_JOB_HISTORY_TTL
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.utils import as_text

# Job functions that moved, old path -> new path. Jobs carry only ids, so a job queued by
# an older release runs unchanged once it names the function's new home. The periodic
# jobs of older releases rescheduled themselves; their last queued run now runs once.
MOVED: dict[str, str] = {
    "server.jobs.apply_event": "ringtrail.calls.intake.apply_event",
    "server.traffic.flush_and_reschedule": "ringtrail.reports.counters.periodic_flush",
    "server.retention.enforce_and_reschedule": "ringtrail.privacy.retention.periodic_enforce",
    "ringtrail.reports.counters.flush_and_reschedule": "ringtrail.reports.counters.periodic_flush",
    "ringtrail.privacy.retention.enforce_and_reschedule": (
        "ringtrail.privacy.retention.periodic_enforce"
    ),
}


RUNNABLE = {JobStatus.QUEUED, JobStatus.STARTED}  # a job a dead worker had not finished


@dataclass(frozen=True)
class Periodic:
    """A job run on a cron schedule: ``cron`` in the worker's local time (``*/5 * * * *``)."""

    func: Callable
    cron: str
    timeout: int


class JsonCronJob(CronJob):
    """A cron job enqueued with the JSON serializer (RQ's own enqueues with pickle)."""

    def enqueue(self, connection: Redis) -> Job:
        """Enqueue the job and note it in RQ's cron history, in one round trip."""
        queue = Queue(self.queue_name, connection=connection, serializer=JSONSerializer)
        with connection.pipeline() as pipe:
            job = queue.enqueue(
                self.func, args=self.args, kwargs=self.kwargs, **self.job_options, pipeline=pipe
            )
            stamp = job.enqueued_at.timestamp()
            pipe.zadd(self.job_history_key, {job.id: stamp})
            pipe.zremrangebyrank(self.job_history_key, 0, -(DEFAULT_CRON_JOB_HISTORY_LIMIT + 1))
            pipe.expire(self.job_history_key, DEFAULT_CRON_JOB_HISTORY_TTL)
            add_to_cron_registry(self.name, pipe, enqueue_timestamp=stamp)
            pipe.execute()
        return job


class Cron(CronScheduler):
    """RQ's cron scheduler, driven by the worker's scheduling thread (not its own loop)."""

    def add(self, queue_name: str, periodic: Periodic) -> CronJob:
        """Register a periodic job on the queue."""
        job = JsonCronJob(
            queue_name,
            func=periodic.func,
            cron=periodic.cron,
            job_timeout=periodic.timeout,
            result_ttl=3600,
        )
        self._cron_jobs.append(job)
        return job


def make_cron(connection: Redis, queue_name: str, periodic: list[Periodic]) -> Cron:
    """A cron scheduler with these periodic jobs registered."""
    cron = Cron(connection=connection)
    for item in periodic:
        cron.add(queue_name, item)
    return cron


def requeue_abandoned(queue: Queue, alive: Callable[[str], bool]) -> list[str]:
    """Queue again the jobs of the started registry whose worker is dead (``alive`` says
    no for its name): a worker killed mid-job never finishes it. The worker's name comes
    from the execution RQ records before anything else (a worker can die before the job
    itself says it started). Jobs are idempotent, so running one again is safe. Returns
    the ids requeued."""
    registry = StartedJobRegistry(queue=queue)
    requeued = []
    for raw in queue.connection.zrange(registry.key, 0, -1):
        entry = as_text(raw)
        job_id, _, execution_id = entry.partition(":")
        job = queue.fetch_job(job_id)
        try:
            worker = Execution.fetch(execution_id, job_id, queue.connection).worker_name
        except Exception:  # no execution recorded (an older entry), or it expired
            worker = job.worker_name if job is not None else ""
        if not worker or alive(worker):
            continue
        with queue.connection.pipeline() as pipe:
            redo = job is not None and job.get_status(refresh=False) in RUNNABLE
            if redo:
                queue.enqueue_job(job, pipeline=pipe)  # first: it opens the MULTI
                pipe.lrem(queue.intermediate_queue.key, 1, job_id)
            pipe.zrem(registry.key, entry)
            pipe.execute()
        if redo:
            requeued.append(job_id)
    return requeued


def requeue_lost(queue: Queue, seen: set[str]) -> list[str]:
    """Queue again the jobs a worker took but never received: RQ moves a job to its
    intermediate queue as it hands it out (BLMOVE), and a connection that dies with the
    answer in flight (a half-open connection) leaves it there, never started. ``seen``
    holds what the previous call found there (seconds ago): a job found twice is lost.
    Returns the ids requeued; ``seen`` is updated for the next call."""
    intermediate = queue.intermediate_queue
    started = set(queue.started_job_registry.get_job_ids(cleanup=False))
    waiting = {job_id for job_id in intermediate.get_job_ids() if job_id not in started}
    lost = sorted(waiting & seen)
    for job_id in lost:
        with queue.connection.pipeline() as pipe:
            job = queue.fetch_job(job_id)
            if job is not None:
                queue.enqueue_job(job, pipeline=pipe)
            pipe.lrem(intermediate.key, 1, job_id)
            pipe.execute()
    seen.clear()
    seen.update(waiting - set(lost))
    return lost


def registries(queue: Queue) -> list:
    """Every registry of the queue that can hold a job: started, failed, deferred,
    scheduled, finished and canceled."""
    return [
        queue.started_job_registry,
        queue.failed_job_registry,
        queue.deferred_job_registry,
        queue.scheduled_job_registry,
        queue.finished_job_registry,
        queue.canceled_job_registry,
    ]


def all_job_ids(queue: Queue) -> set[str]:
    """The ids of every job the queue or one of its registries holds."""
    ids = set(queue.get_job_ids())
    for registry in registries(queue):
        ids.update(registry.get_job_ids(cleanup=False))
    return ids


def move_job_paths(queue: Queue, moved: dict[str, str] | None = None) -> int:
    """Point jobs that name a moved function at its new path, wherever they wait (queued,
    scheduled, deferred, started or failed); returns how many moved. Idempotent."""
    moved = MOVED if moved is None else moved
    count = 0
    for job_id in sorted(all_job_ids(queue)):
        try:
            job = Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer)
        except NoSuchJobError:
            continue
        new = moved.get(job.func_name)
        if new is None:
            continue
        job.func_name = new  # RQ re-serializes the call with the new path
        job.save()
        count += 1
    return count
